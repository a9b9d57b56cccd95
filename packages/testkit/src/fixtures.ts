/**
 * Helpers for vitest test files, outside index.ts on purpose: they import vitest (to register
 * hooks, to assert) and ioredis, which the bench and infra code that imports the testkit must not load.
 * Import them from `@touchline/testkit/fixtures`.
 */
import { Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { type RedisServer, startRedis } from './redis.ts'

export {
  requestWhileClosing,
  gate,
  rawRequest,
  rawExchange,
  answeredWithJson,
  rawStatus,
  rawJson,
  expectUnavailable,
  UPGRADE_HEADERS,
  type Gate,
  type HeldRequest,
  type LateWhen,
  type ListeningApp,
} from './closing.ts'

export interface FileRedis {
  readonly server: RedisServer
  /** A plain client on the server, for what a test reads or deletes behind the code under test. */
  readonly admin: Redis
}

/**
 * One redis-server for all the tests of the calling file, with an admin client: started before
 * the first test, stopped after the last. The properties throw when read before then.
 */
export function redisForFile(): FileRedis {
  let server: RedisServer | undefined
  let admin: Redis | undefined
  beforeAll(async () => {
    server = await startRedis()
    admin = new Redis(server.url)
  })
  afterAll(async () => {
    admin?.disconnect()
    await server?.stop()
  })
  const started = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`redisForFile(): ${name} read before its beforeAll hook ran`)
    return value
  }
  return {
    get server() {
      return started(server, 'server')
    },
    get admin() {
      return started(admin, 'admin')
    },
  }
}

/**
 * The extra clients a contract harness opens with `peer()` (another process on the same data),
 * remembered so that the harness's `cleanup` closes every one of them, in the order opened.
 */
export interface PeerClients<T> {
  /** Open one more (the harness's `peer`). */
  open(): Promise<T>
  /** Close every one opened so far (from the harness's `cleanup`). */
  closeAll(): Promise<void>
}

export function peerClients<T extends { close(): Promise<void> }>(open: () => Promise<T>): PeerClients<T> {
  const opened: T[] = []
  return {
    async open() {
      const peer = await open()
      opened.push(peer)
      return peer
    },
    async closeAll() {
      for (const peer of opened) await peer.close()
    },
  }
}

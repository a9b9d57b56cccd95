/**
 * The gateway process as an operator runs it: start-up failures (exit 78 naming the variable),
 * SIGTERM drain (1012 to every socket, /readyz 503, presence removed), SIGHUP without dropping a
 * socket, and presence that is down at start and heals when Redis comes (no restart).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connectNatsBus, type NatsBus } from '@touchline/bus'
import { connectRedisPresence } from '@touchline/presence'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  freePort,
  type NatsServer,
  type RedisServer,
  startNats,
  startRedis,
  startService,
  waitFor,
} from '../../../packages/testkit/src/index.ts'
import { TestClient } from './testing.ts'

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))
const SECRET = 'gateway-int-secret-0123456789'

function run(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN], {
      env: { ...process.env, LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    const t = setTimeout(() => child.kill('SIGKILL'), 15_000)
    child.on('exit', (code) => {
      clearTimeout(t)
      resolve({ code, stderr })
    })
  })
}

let nats: NatsServer
let bus: NatsBus

beforeAll(async () => {
  nats = await startNats()
  bus = await connectNatsBus({ servers: nats.url, prefix: 'gwint' })
  const now = new Date().toISOString()
  await bus.createMatch({ id: 'm1', title: 'T', home: 'H', away: 'A', startsAt: now, createdAt: now })
}, 60_000)

afterAll(async () => {
  await bus?.close()
  await nats?.stop()
})

describe('gateway main', () => {
  it('exits 78 with one line naming the variable on bad config or unreachable NATS', async () => {
    const bad = await run({ PORT: 'abc' })
    expect(bad.code).toBe(78)
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toContain('PORT')

    const port = await freePort()
    const down = await run({ NATS_URL: `nats://127.0.0.1:${port}`, TOUCHLINE_TOKEN_SECRET: SECRET, NATS_TIMEOUT_MS: '500' })
    expect(down.code).toBe(78)
    expect(down.stderr.trim().split('\n')).toHaveLength(1)
    expect(down.stderr).toContain('NATS_URL')

    const noSecret = await run({ NATS_URL: nats.url })
    expect(noSecret.code).toBe(78)
    expect(noSecret.stderr).toContain('TOUCHLINE_TOKEN_SECRET')

    // An unreachable Redis (a wrong URL) is named at start unless REDIS_AT_START=degrade.
    const noRedis = await run({ NATS_URL: nats.url, TOUCHLINE_TOKEN_SECRET: SECRET, REDIS_URL: 'redis://127.0.0.1:1' })
    expect(noRedis.code).toBe(78)
    expect(noRedis.stderr).toMatch(/REDIS_URL \(redis:\/\/127\.0\.0\.1:1\) is not reachable/)
    expect(noRedis.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('keeps delivering with Redis down at start, reports presence degraded, and heals when Redis comes', async () => {
    const redis: RedisServer = await startRedis()
    await redis.kill()
    const gw = await startService('gateway', {
      env: {
        NATS_URL: nats.url,
        NATS_PREFIX: 'gwint',
        REDIS_URL: redis.url,
        REDIS_AT_START: 'degrade',
        TOUCHLINE_TOKEN_SECRET: SECRET,
        NODE_ID: 'gw-heal',
      },
      timeoutMs: 30_000,
    })
    const clients: TestClient[] = []
    try {
      const ready = await (await fetch(`${gw.url}/readyz`)).json()
      expect(ready).toMatchObject({ status: 'ok', presence: 'degraded' })
      const c = await TestClient.open(`ws://127.0.0.1:${gw.port}/ws?match=m1`)
      clients.push(c)
      const sub = await c.nextOf('subscribed')
      const { event } = await bus.appendEvent('m1', { kind: 'commentary', data: { text: 'with redis down' } })
      await c.waitSeq('m1', event.seq)
      expect(sub.seq).toBe(event.seq - 1)

      await redis.start()
      const store = await connectRedisPresence({ url: redis.url, prefix: 'tl:presence' })
      try {
        await waitFor(
          'the node to rejoin presence with its counts',
          async () => ((await store.counts('m1')).nodes['gw-heal'] === 1 ? true : undefined),
          15_000,
          100,
        )
        const nodes = await store.liveNodes()
        expect(nodes.map((n) => n.nodeId)).toContain('gw-heal')
        expect(nodes.find((n) => n.nodeId === 'gw-heal')?.url).toBe(gw.url)
        await waitFor('readyz to say presence connected', async () => {
          const r = (await (await fetch(`${gw.url}/readyz`)).json()) as { presence: string }
          return r.presence === 'connected' ? true : undefined
        })
        expect(c.closeInfo).toBeUndefined()

        // SIGHUP reloads without dropping the socket.
        gw.proc.child.kill('SIGHUP')
        await new Promise((r) => setTimeout(r, 300))
        const { event: e2 } = await bus.appendEvent('m1', { kind: 'commentary', data: { text: 'after SIGHUP' } })
        await c.waitSeq('m1', e2.seq)
        expect(c.closeInfo).toBeUndefined()

        // SIGTERM drains: 503, 1012 to the socket, presence removed at once, exit 0.
        gw.proc.child.kill('SIGTERM')
        const status = await waitFor(
          'readyz 503 while draining',
          async () => {
            const res = await fetch(`${gw.url}/readyz`).catch(() => undefined)
            return res?.status === 503 ? res.status : undefined
          },
          3000,
          10,
        )
        expect(status).toBe(503)
        expect((await c.closed).code).toBe(1012)
        expect(await gw.proc.exited).toBe(0)
        expect((await store.liveNodes()).map((n) => n.nodeId)).not.toContain('gw-heal')
        expect((await store.counts('m1')).total).toBe(0)
      } finally {
        await store.close()
      }
    } finally {
      for (const c of clients) c.close()
      await gw.stop()
      await redis.stop()
    }
  })
})

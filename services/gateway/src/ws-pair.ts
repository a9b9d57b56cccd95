/**
 * Test helper: real `ws` server ↔ client pairs on 127.0.0.1 (port 0), for the tests of the
 * direct write path, the frame builder and chat coalescing (frame, direct, sender, hub tests).
 * The server side is what a gateway Sender writes to; the client records every message, in order.
 */
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll } from 'vitest'
import { type RawData, WebSocket, WebSocketServer } from 'ws'

export interface Pair {
  /** The server side of the connection (what the gateway's Sender wraps). */
  server: WebSocket
  client: WebSocket
  /** Text messages the client received, in order. */
  messages: string[]
  /** Resolves once the client has received `n` messages in total. */
  received(n: number, timeoutMs?: number): Promise<string[]>
  /** Calls to the server TCP socket's `write` since the pair opened. */
  writes(): number
}

export interface Pairs {
  open(clientOptions?: ConstructorParameters<typeof WebSocket>[2]): Promise<Pair>
  close(): Promise<void>
}

export async function wsPairs(serverOptions: { perMessageDeflate?: boolean } = {}): Promise<Pairs> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: serverOptions.perMessageDeflate ?? false })
  await new Promise<void>((resolve) => wss.once('listening', resolve))
  const port = (wss.address() as AddressInfo).port
  const clients: WebSocket[] = []
  return {
    async open(clientOptions = {}) {
      const accepted = new Promise<WebSocket>((resolve) => wss.once('connection', resolve))
      const client = new WebSocket(`ws://127.0.0.1:${port}/`, clientOptions)
      clients.push(client)
      const messages: string[] = []
      let waiter: { n: number; resolve: () => void } | undefined
      client.on('message', (data: RawData) => {
        messages.push(data.toString())
        if (waiter && messages.length >= waiter.n) waiter.resolve()
      })
      await new Promise<void>((resolve, reject) => {
        client.once('open', () => resolve())
        client.once('error', reject)
      })
      const server = await accepted
      const sock = (server as unknown as { _socket: { write: (...a: unknown[]) => boolean } })._socket
      const write = sock.write
      let writes = 0
      sock.write = function (this: unknown, ...args: unknown[]) {
        writes++
        return write.apply(this, args)
      }
      return {
        server,
        client,
        messages,
        writes: () => writes,
        received(n, timeoutMs = 5000) {
          if (messages.length >= n) return Promise.resolve(messages)
          return new Promise((resolve, reject) => {
            const t = setTimeout(
              () => reject(new Error(`got ${messages.length} of ${n} messages: ${messages.join(' | ').slice(0, 300)}`)),
              timeoutMs,
            )
            waiter = {
              n,
              resolve: () => {
                clearTimeout(t)
                waiter = undefined
                resolve(messages)
              },
            }
          })
        },
      }
    },
    async close() {
      for (const c of clients) c.terminate()
      await new Promise<void>((resolve) => wss.close(() => resolve()))
    },
  }
}

/**
 * `wsPairs()` for the calling describe block (or file): the server starts before its first test
 * and closes after its last. `open()` before then throws.
 */
export function wsPairsForSuite(serverOptions: { perMessageDeflate?: boolean } = {}): Pick<Pairs, 'open'> {
  let pairs: Pairs | undefined
  beforeAll(async () => {
    pairs = await wsPairs(serverOptions)
  })
  afterAll(async () => {
    await pairs?.close()
  })
  return {
    open(clientOptions) {
      if (!pairs) throw new Error('wsPairsForSuite(): open() called before its beforeAll hook ran')
      return pairs.open(clientOptions)
    },
  }
}

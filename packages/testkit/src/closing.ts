/**
 * "A request that arrives while the app is closing", over a raw socket: what ingest, the gateway
 * and the embedded root answer on a keep-alive connection that was busy when the close began (so
 * the close left it open). A client library would hide what matters here: the exact status and
 * headers, and that the server ends the connection. Imports vitest (`expect.poll`): fixtures only.
 */
import { type AddressInfo, connect } from 'node:net'
import { expect } from 'vitest'

/** The part of a fastify app the procedure uses (structural: the testkit does not depend on fastify). */
export interface ListeningApp {
  readonly server: { readonly listening: boolean; address(): AddressInfo | string | null }
  listen(options: { port: number; host: string }): PromiseLike<unknown>
  close(): PromiseLike<unknown>
}

/**
 * What holds the first request's handling: the test's code calls `pass()` where it should wait (an
 * append, a metrics collector) and the procedure waits for `held`, closes the app, then `release()`s.
 */
export interface Gate {
  /** For the held code: marks it as held and resolves once released. */
  pass(): Promise<void>
  /** Resolves once `pass()` has been called. */
  readonly held: Promise<void>
  release(): void
  /** `fn` behind the gate: each call passes it first (`bus.appendEvent = gate.hold(bus.appendEvent.bind(bus))`). */
  hold<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R>
}

export function gate(): Gate {
  const released = Promise.withResolvers<void>()
  const held = Promise.withResolvers<void>()
  const pass = () => {
    held.resolve()
    return released.promise
  }
  return {
    pass,
    held: held.promise,
    release: () => released.resolve(),
    hold:
      (fn) =>
      async (...args) => {
        await pass()
        return fn(...args)
      },
  }
}

/** The request that keeps the connection busy while the app starts closing. */
export interface HeldRequest {
  /** Its raw bytes. */
  request: string
  /** The gate its handling waits at. */
  gate: Gate
  /** Whether the text received so far holds its whole answer (read for `when: 'after'`). */
  answered(raw: string): boolean
}

/**
 * `late` is sent pipelined behind the held request, before it is released, or `after` its answer
 * arrived, as a client reusing an idle keep-alive connection would.
 */
export type LateWhen = 'pipelined' | 'after'

/**
 * Listens on a free loopback port, sends `first` on one connection, closes the app once its
 * handling is held, waits until the server no longer listens (every preClose hook has run: from
 * then on the app is closing), sends `late` (`when`), and resolves with every answer on the
 * connection as raw HTTP, the held request's first, once the server has ended the connection and
 * the close has resolved: neither may hang.
 */
export async function requestWhileClosing(
  app: ListeningApp,
  first: HeldRequest,
  late: string,
  when: LateWhen = 'pipelined',
): Promise<string[]> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const sock = connect(port, '127.0.0.1')
  let raw = ''
  const answered = Promise.withResolvers<void>()
  sock.setEncoding('utf8').on('data', (d: string) => {
    raw += d
    if (first.answered(raw)) answered.resolve()
  })
  sock.on('error', () => {}) // a write after the server ended the connection; the answers tell
  const ended = new Promise<void>((r) => sock.on('close', () => r()))
  sock.write(first.request)
  await first.gate.held
  const closed = app.close()
  await expect.poll(() => app.server.listening).toBe(false)
  if (when === 'pipelined') sock.write(late)
  first.gate.release()
  if (when === 'after') {
    await answered.promise
    sock.write(late)
  }
  await ended
  await closed
  return raw.split(/(?=HTTP\/1\.1 )/)
}

/**
 * Send raw bytes to an app that listens on 127.0.0.1, and read everything it writes until it ends
 * the connection: for requests a client library would refuse to send (a bad header byte, an
 * unknown method, an undecodable URL).
 */
export async function rawExchange(app: ListeningApp, bytes: string): Promise<string> {
  if (!app.server.listening) await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const sock = connect(port, '127.0.0.1')
  let raw = ''
  sock.setEncoding('utf8').on('data', (d: string) => {
    raw += d
  })
  sock.on('error', () => {}) // a reset after the answer: what was read tells
  const ended = new Promise<void>((r) => sock.on('close', () => r()))
  sock.end(bytes)
  await ended
  return raw
}

/** A raw HTTP/1.1 request: `host: x`, then `headers`, then content type and length when there is a JSON `payload`. */
export function rawRequest(method: string, path: string, payload = '', headers: Record<string, string> = {}): string {
  const all: Record<string, string> = { host: 'x', ...headers }
  if (payload) {
    all['content-type'] = 'application/json'
    all['content-length'] = String(Buffer.byteLength(payload))
  }
  const lines = Object.entries(all).map(([k, v]) => `${k}: ${v}\r\n`)
  return `${method} ${path} HTTP/1.1\r\n${lines.join('')}\r\n${payload}`
}

/** The headers of a WebSocket upgrade (a fixed key: the server's accept is not read). */
export const UPGRADE_HEADERS: Readonly<Record<string, string>> = {
  connection: 'Upgrade',
  upgrade: 'websocket',
  'sec-websocket-version': '13',
  'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
}

/** Whether `raw` starts with a whole `status` answer whose body is a JSON object. */
export function answeredWithJson(status: number): (raw: string) => boolean {
  const whole = new RegExp(`^HTTP\\/1\\.1 ${status} [\\s\\S]*\\r\\n\\r\\n\\{[\\s\\S]*\\}`)
  return (raw) => whole.test(raw)
}

/** The status code of a raw answer, as text (`'503'`). */
export const rawStatus = (answer: string | undefined): string | undefined => answer?.slice(9, 12)

/** The JSON body of a raw answer. */
export const rawJson = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))

/** The API's closing answer: 503 `unavailable`, `Retry-After: 1`, `Connection: close`, JSON. */
export function expectUnavailable(answer: string | undefined): void {
  expect(answer).toBeDefined()
  expect(rawStatus(answer)).toBe('503')
  expect(answer).toMatch(/\r\nconnection: close\r\n/i)
  expect(answer).toMatch(/\r\nretry-after: 1\r\n/i)
  expect(answer).toMatch(/\r\ncontent-type: application\/json/i)
  expect(rawJson(answer!)).toEqual({ code: 'unavailable', message: expect.stringContaining('shutting down') })
}

/**
 * NATS: connect and make a round trip (PING → PONG). The connection is kept between checks, so a
 * check is one round trip while NATS is healthy; a failed check destroys it and the next one
 * connects afresh.
 *
 * The client protocol is spoken here on a socket the check owns, not through nats.js: when its
 * connect times out waiting for the server's INFO (a frozen or silent server), nats.js leaves its
 * socket open — one leaked connection per check, and a handle that keeps a stopping monitor alive.
 * Here any failure or timeout destroys the socket.
 *
 * - `nats://` plain TCP, TLS when the server's INFO requires it; `tls://` TLS always (after INFO,
 *   as NATS does it). Certificates are verified against the system CAs (`NODE_EXTRA_CA_CERTS`).
 * - `ws://`, `wss://` the server's WebSocket listener: an HTTP upgrade, then the same protocol in
 *   WebSocket frames.
 * - Credentials in the URL as nats.js reads them: `user:pass@` → user and password, a lone
 *   `token@` → auth token.
 */
import { randomBytes } from 'node:crypto'
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'
import type { Check, Observation } from '../types.ts'
import { errorText, performance, since } from './util.ts'

/** Longest protocol line (INFO, -ERR) or WebSocket frame accepted from the server. */
const MAX_LINE = 1024 * 1024

export function natsCheck(url: string): Check {
  let conn: NatsConnection | undefined
  const drop = () => {
    conn?.destroy(new Error('closed by the monitor'))
    conn = undefined
  }
  return {
    async run(signal): Promise<Observation> {
      const t0 = performance.now()
      try {
        if (!conn?.alive) {
          drop()
          conn = await NatsConnection.open(url, signal)
        }
        return { result: 'ok', latencyMs: await conn.ping(signal) }
      } catch (err) {
        drop()
        return { result: 'fail', error: errorText(err), latencyMs: since(t0) }
      }
    },
    async close() {
      drop()
    },
  }
}

const DEFAULT_PORT: Record<string, number> = { 'nats:': 4222, 'tls:': 4222, 'ws:': 80, 'wss:': 443 }

/** One client connection, speaking just enough of the protocol for CONNECT and PING/PONG. */
export class NatsConnection {
  readonly #url: URL
  readonly #host: string
  readonly #port: number
  readonly #ws: boolean
  /** The sockets to destroy: TCP, and the TLS socket over it after an upgrade. */
  readonly #sockets: Socket[] = []
  #socket: Socket
  /** What the connection waits for now, for a timeout's message. */
  #phase: string
  #error: Error | undefined
  #upgraded = false
  #http = Buffer.alloc(0)
  #frames = Buffer.alloc(0)
  #lines = Buffer.alloc(0)
  #info = Promise.withResolvers<Record<string, unknown>>()
  #gotInfo = false
  #upgrade = Promise.withResolvers<void>()
  #pongs: Array<PromiseWithResolvers<void>> = []

  private constructor(url: URL) {
    this.#url = url
    this.#host = url.hostname.replace(/^\[(.*)\]$/, '$1')
    this.#port = url.port ? Number(url.port) : (DEFAULT_PORT[url.protocol] ?? 4222)
    this.#ws = url.protocol === 'ws:' || url.protocol === 'wss:'
    // Settled by destroy() whether or not anyone waits any more.
    this.#info.promise.catch(() => {})
    this.#upgrade.promise.catch(() => {})
    this.#phase = `connecting to ${this.#host}:${this.#port}`
    const socket =
      url.protocol === 'wss:'
        ? tlsConnect({ host: this.#host, port: this.#port, ...serverName(this.#host) })
        : netConnect({ host: this.#host, port: this.#port })
    this.#socket = this.#attach(socket)
  }

  /** Connect, read INFO, upgrade to TLS if asked, CONNECT and a first PING. Aborting destroys the socket. */
  static async open(url: string, signal: AbortSignal): Promise<NatsConnection> {
    signal.throwIfAborted()
    const c = new NatsConnection(new URL(url))
    const onAbort = () => c.destroy(new Error(`timed out ${c.#phase}`))
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (c.#ws) {
        c.#send(upgradeRequest(c.#url))
        c.#phase = `waiting for the WebSocket upgrade from ${c.#url.host}`
        await c.#upgrade.promise
      }
      c.#phase = `waiting for INFO from ${c.#host}:${c.#port}`
      const info = await c.#info.promise
      if (!c.#ws && (c.#url.protocol === 'tls:' || info.tls_required === true)) {
        c.#phase = `in the TLS handshake with ${c.#host}:${c.#port}`
        await c.#startTls()
      }
      c.#send(`CONNECT ${JSON.stringify(connectOptions(c.#url))}\r\n`)
      return c
    } catch (err) {
      c.destroy(err as Error)
      throw err
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  get alive(): boolean {
    return this.#error === undefined
  }

  /** One round trip in ms; on timeout the connection is destroyed (a later PONG means nothing). */
  async ping(signal: AbortSignal): Promise<number> {
    signal.throwIfAborted()
    const pong = Promise.withResolvers<void>()
    const onAbort = () => this.destroy(new Error(`timed out waiting for PONG from ${this.#host}:${this.#port}`))
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      if (this.#error) throw this.#error
      this.#pongs.push(pong)
      const t0 = performance.now()
      this.#send('PING\r\n')
      await pong.promise
      return since(t0)
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  destroy(err: Error): void {
    if (this.#error) return
    this.#error = err
    for (const s of this.#sockets) s.destroy()
    this.#upgrade.reject(err)
    this.#info.reject(err)
    for (const p of this.#pongs.splice(0)) p.reject(err)
  }

  #attach(socket: Socket): Socket {
    this.#sockets.push(socket)
    socket.setNoDelay(true)
    socket.on('data', this.#onData)
    socket.on('error', (err) => this.destroy(err))
    socket.on('close', () => this.destroy(new Error(`connection closed by ${this.#host}:${this.#port}`)))
    return socket
  }

  async #startTls(): Promise<void> {
    const plain = this.#socket
    plain.off('data', this.#onData)
    const secure = tlsConnect({ socket: plain, ...serverName(this.#host) })
    this.#socket = this.#attach(secure)
    const done = Promise.withResolvers<void>()
    secure.once('secureConnect', done.resolve)
    secure.once('error', done.reject)
    secure.once('close', () => done.reject(this.#error ?? new Error('TLS handshake failed')))
    await done.promise
  }

  #send(text: string): void {
    if (this.#error) return
    this.#socket.write(this.#ws && this.#upgraded ? wsFrame(0x2, Buffer.from(text)) : text)
  }

  readonly #onData = (chunk: Buffer): void => {
    if (!this.#ws) this.#protocol(chunk)
    else if (this.#upgraded) this.#wsFrames(chunk)
    else this.#upgradeAnswer(chunk)
  }

  /** The HTTP answer to the WebSocket upgrade; what follows it is frames. */
  #upgradeAnswer(chunk: Buffer): void {
    this.#http = Buffer.concat([this.#http, chunk])
    if (this.#http.length >= 5 && this.#http.subarray(0, 5).toString('latin1') !== 'HTTP/') {
      this.destroy(new Error(`not a WebSocket listener (it said ${JSON.stringify(firstLine(this.#http))})`))
      return
    }
    const end = this.#http.indexOf('\r\n\r\n')
    if (end < 0) {
      if (this.#http.length > MAX_LINE) this.destroy(new Error('no end to the WebSocket upgrade answer'))
      return
    }
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(this.#http.subarray(0, end).toString('latin1'))?.[1]
    if (status !== '101') {
      this.destroy(new Error(`WebSocket upgrade refused: HTTP ${status ?? '(no status line)'}`))
      return
    }
    const rest = this.#http.subarray(end + 4)
    this.#upgraded = true
    this.#upgrade.resolve()
    if (rest.length > 0) this.#wsFrames(rest)
  }

  /** Server frames (unmasked): data to the protocol, ping answered, close ends the connection. */
  #wsFrames(chunk: Buffer): void {
    this.#frames = Buffer.concat([this.#frames, chunk])
    while (this.#frames.length >= 2 && !this.#error) {
      const b = this.#frames
      const opcode = b[0]! & 0x0f
      const masked = (b[1]! & 0x80) !== 0
      let len = b[1]! & 0x7f
      let at = 2
      if (len === 126) {
        if (b.length < 4) return
        len = b.readUInt16BE(2)
        at = 4
      } else if (len === 127) {
        if (b.length < 10) return
        len = Number(b.readBigUInt64BE(2))
        at = 10
      }
      if (len > MAX_LINE) {
        this.destroy(new Error(`WebSocket frame of ${len} bytes`))
        return
      }
      const mask = masked ? b.subarray(at, at + 4) : undefined
      if (masked) at += 4
      if (b.length < at + len) return
      const payload = Buffer.from(b.subarray(at, at + len))
      if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!
      this.#frames = b.subarray(at + len)
      if (opcode <= 0x2) this.#protocol(payload)
      else if (opcode === 0x8) this.destroy(new Error(`WebSocket closed by ${this.#url.host}`))
      else if (opcode === 0x9) this.#socket.write(wsFrame(0xa, payload))
    }
  }

  /** Protocol bytes: CRLF-terminated lines. */
  #protocol(chunk: Buffer): void {
    this.#lines = Buffer.concat([this.#lines, chunk])
    for (;;) {
      const end = this.#lines.indexOf('\r\n')
      if (end < 0) break
      const line = this.#lines.subarray(0, end).toString('utf8')
      this.#lines = this.#lines.subarray(end + 2)
      this.#line(line)
      if (this.#error) return
    }
    if (this.#lines.length > MAX_LINE) this.destroy(new Error('protocol line too long'))
  }

  #line(line: string): void {
    const op = line.split(' ', 1)[0]!.toUpperCase()
    if (op === 'INFO') {
      if (this.#gotInfo) return // later INFOs (cluster changes) do not matter here
      this.#gotInfo = true
      try {
        this.#info.resolve(JSON.parse(line.slice(5)) as Record<string, unknown>)
      } catch {
        this.destroy(new Error('malformed INFO from the server'))
      }
    } else if (!this.#gotInfo) {
      this.destroy(new Error(`not a NATS server (it said ${JSON.stringify(firstLine(Buffer.from(line)))})`))
    } else if (op === 'PING') {
      this.#send('PONG\r\n')
    } else if (op === 'PONG') {
      this.#pongs.shift()?.resolve()
    } else if (op === '-ERR') {
      // e.g. 'Authorization Violation': the server closes the connection after it.
      this.destroy(
        new Error(
          `NATS: ${line
            .slice(4)
            .trim()
            .replace(/^'(.*)'$/, '$1')}`,
        ),
      )
    }
  }
}

function firstLine(b: Buffer): string {
  return b.subarray(0, 80).toString('utf8').split('\r\n', 1)[0]!
}

function serverName(host: string): { servername?: string } {
  // SNI takes a name, never an address (RFC 6066).
  return isIP(host) ? {} : { servername: host }
}

function connectOptions(url: URL): Record<string, unknown> {
  const user = decodeURIComponent(url.username)
  const pass = decodeURIComponent(url.password)
  return {
    verbose: false,
    pedantic: false,
    tls_required: url.protocol === 'tls:' || url.protocol === 'wss:',
    name: 'touchline-monitor',
    lang: 'touchline-monitor',
    version: '1',
    protocol: 1,
    ...(user && pass ? { user, pass } : user ? { auth_token: user } : {}),
  }
}

function upgradeRequest(url: URL): string {
  return [
    `GET ${url.pathname || '/'}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    'User-Agent: touchline-monitor',
    '',
    '',
  ].join('\r\n')
}

/** A client frame (masked, as RFC 6455 requires). Our payloads are short: CONNECT, PING, PONG. */
function wsFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length
  const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff])
  const mask = randomBytes(4)
  const body = Buffer.from(payload)
  for (let i = 0; i < body.length; i++) body[i]! ^= mask[i & 3]!
  return Buffer.concat([head, mask, body])
}

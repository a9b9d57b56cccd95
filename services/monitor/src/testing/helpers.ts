/**
 * Test helpers for the monitor: a real fake-gateway process, a webhook receiver and an SMTP sink
 * (smtp-server on loopback) living in the test process, and a way to wait for things.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { freePort, type Proc, startProcess, waitFor } from '@touchline/testkit'
import { SMTPServer } from 'smtp-server'
import type { FastifyInstance } from 'fastify'
import type { Alert, StatusReply } from '../types.ts'

export const fakeGatewayScript = fileURLToPath(new URL('./fake-gateway.ts', import.meta.url))

export interface FakeGateway {
  readonly port: number
  readonly url: string
  readonly proc: Proc
  control(cmd: { mode?: 'ok' | 'degraded' | 'draining'; observe?: { seconds: number; count: number } }): Promise<void>
  stop(): Promise<void>
  kill(): Promise<void>
  /** Start again on the same port (after stop or kill). */
  start(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** A real process serving /readyz and /metrics like a gateway. */
export async function startFakeGateway(options: { port?: number; mode?: string } = {}): Promise<FakeGateway> {
  const port = options.port ?? (await freePort())
  let proc: Proc
  const launch = async () => {
    const p = startProcess(process.execPath, [fakeGatewayScript], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', FAKE_MODE: options.mode ?? 'ok' },
    })
    proc = p
    await waitFor(
      `fake gateway on ${port}`,
      () => {
        if (p.child.exitCode !== null) throw new Error(`fake gateway exited: ${p.output()}`)
        return p.output().includes('listening') || undefined
      },
      10_000,
      20,
    )
  }
  await launch()
  const url = `http://127.0.0.1:${port}`
  const fg: FakeGateway = {
    port,
    url,
    get proc() {
      return proc
    },
    async control(cmd) {
      const res = await fetch(`${url}/control`, { method: 'POST', body: JSON.stringify(cmd) })
      if (res.status !== 204) throw new Error(`control answered ${res.status}`)
    },
    stop: () => proc.stop('SIGTERM'),
    kill: () => proc.stop('SIGKILL'),
    async start() {
      if (proc.child.exitCode === null && proc.child.signalCode === null) return
      await launch()
    },
    [Symbol.asyncDispose]: () => proc.stop('SIGKILL'),
  }
  return fg
}

export interface Received {
  alert: Alert
  at: number
  idempotencyKey: string | undefined
}

export interface WebhookReceiver {
  readonly url: string
  readonly received: Received[]
  /** Every POST, including those answered with an error or too slowly. */
  readonly attempts: Array<{ id: string; at: number }>
  /** Answer with this status (default 200). */
  status: number
  /** Wait this long before answering (default 0). */
  delayMs: number
  alerts(filter?: Partial<{ type: Alert['type']; target: string }>): Alert[]
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = ''
  for await (const c of req) body += (c as Buffer).toString()
  return body
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: Received[] = []
  const attempts: Array<{ id: string; at: number }> = []
  const state = { status: 200, delayMs: 0 }
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req)
    const at = Date.now()
    let alert: Alert | undefined
    try {
      alert = JSON.parse(body) as Alert
    } catch {}
    attempts.push({ id: alert?.id ?? '?', at })
    const { status, delayMs } = state
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs))
    if (res.destroyed || res.socket?.destroyed) return
    if (status >= 200 && status < 300 && alert) {
      received.push({ alert, at, idempotencyKey: req.headers['idempotency-key'] as string | undefined })
    }
    res.writeHead(status)
    res.end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as AddressInfo).port
  const close = () =>
    new Promise<void>((r) => {
      server.close(() => r())
      server.closeAllConnections()
    })
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    attempts,
    get status() {
      return state.status
    },
    set status(v: number) {
      state.status = v
    },
    get delayMs() {
      return state.delayMs
    },
    set delayMs(v: number) {
      state.delayMs = v
    },
    alerts(filter = {}) {
      return received
        .map((r) => r.alert)
        .filter((a) => (!filter.type || a.type === filter.type) && (!filter.target || a.target.name === filter.target))
    },
    close,
    [Symbol.asyncDispose]: close,
  }
}

export interface Mail {
  from: string
  to: string[]
  raw: string
}

export interface SmtpSink {
  readonly port: number
  readonly url: string
  readonly mails: Mail[]
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** An SMTP server on loopback that accepts everything (no TLS, no auth) and keeps the messages. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const mails: Mail[] = []
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      let raw = ''
      stream.on('data', (c: Buffer) => {
        raw += c.toString()
      })
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        })
        callback()
      })
    },
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.server.address() as AddressInfo).port
  const close = () => new Promise<void>((r) => server.close(() => r()))
  return { port, url: `smtp://127.0.0.1:${port}`, mails, close, [Symbol.asyncDispose]: close }
}

/** Decode a quoted-printable / folded mail enough to search it for text. */
export function mailText(raw: string): string {
  return raw
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)))
    .replace(/\r?\n[ \t]+/g, ' ')
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url)
  return (await res.json()) as T
}

export { waitFor }

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The monitor app's `/status` answer. */
export async function statusOf(app: FastifyInstance): Promise<StatusReply> {
  return (await app.inject({ method: 'GET', url: '/status' })).json() as StatusReply
}

/** One target of the app's `/status`, by name. */
export async function targetOf(app: FastifyInstance, name: string) {
  return (await statusOf(app)).targets.find((t) => t.name === name)
}

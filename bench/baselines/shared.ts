/**
 * What the three baseline servers share: configuration from the environment, a tiny HTTP surface
 * (`/readyz`, `/stats`, `POST /publish`), event frames built like touchline's, and Redis pub/sub
 * between the processes of one baseline.
 *
 * How events reach a baseline (the same for every baseline, and shaped like touchline's path):
 * the bench driver POSTs the event body to the PRIMARY process (`POST /publish`, keep-alive, as it
 * POSTs to touchline's ingest); the primary gives it the next `seq` and the time `at`, and answers
 * once the event has left for every process — for `ws-send` and `ws-prebuilt` by a Redis PUBLISH
 * that every process (the primary too) is subscribed to, for Socket.IO by `io.to(match).emit`
 * through @socket.io/redis-adapter. So each baseline, like touchline (ingest → NATS → gateways),
 * has one network hop through a broker between the POST and the sockets.
 */
import type http from 'node:http'
import type { AddressInfo } from 'node:net'

/** Socket.IO's path in the bench: the spectator path of touchline's nginx (`location = /ws`). */
export const SOCKETIO_PATH = '/ws'

export interface BaselineConfig {
  port: number
  host: string
  redisUrl: string
  /** Redis channel prefix, unique per bench run */
  channel: string
  primary: boolean
  nodeId: string
}

export function baselineConfig(): BaselineConfig {
  const env = process.env
  const redisUrl = env.REDIS_URL
  if (!redisUrl) throw new Error('REDIS_URL is required')
  return {
    port: Number(env.PORT ?? 0),
    host: env.HOST ?? '127.0.0.1',
    redisUrl,
    channel: env.BENCH_CHANNEL ?? 'bench',
    primary: env.BENCH_PRIMARY === '1',
    nodeId: env.NODE_ID ?? `b${process.pid}`,
  }
}

export interface PublishBody {
  matchId: string
  kind: string
  text?: string
  data?: Record<string, unknown>
}

/** The same shape and key order as touchline's `event` frame (protocol/src/encode.ts). */
export interface EventFrameLike {
  type: 'event'
  matchId: string
  seq: number
  kind: string
  at: string
  data: Record<string, unknown>
}

export interface ChatFrameLike {
  type: 'chat'
  matchId: string
  id: string
  user: { id: string; name: string }
  text: string
  at: string
}

/** Sequence numbers per match, assigned by the primary only. */
export class Sequencer {
  private readonly seqs = new Map<string, number>()
  next(body: PublishBody): EventFrameLike {
    const seq = (this.seqs.get(body.matchId) ?? 0) + 1
    this.seqs.set(body.matchId, seq)
    const data: Record<string, unknown> = { ...(body.text !== undefined ? { text: body.text } : {}), ...body.data }
    return { type: 'event', matchId: body.matchId, seq, kind: body.kind, at: new Date().toISOString(), data }
  }
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

function reply(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export interface HttpHandlers {
  ready(): boolean
  connections(): number
  /** Only on the primary: publish one event, resolve with its seq. */
  publish?(body: PublishBody): Promise<number>
}

/** Routes for `/readyz`, `/stats` and `POST /publish`; `fallthrough` gets everything else. */
export function httpHandler(h: HttpHandlers, fallthrough?: http.RequestListener): http.RequestListener {
  return (req, res) => {
    const url = req.url ?? '/'
    if (req.method === 'GET' && url === '/readyz') return reply(res, h.ready() ? 200 : 503, { status: h.ready() ? 'ok' : 'starting' })
    if (req.method === 'GET' && url === '/stats') return reply(res, 200, { connections: h.connections(), rss: process.memoryUsage().rss })
    if (req.method === 'POST' && url === '/publish') {
      if (!h.publish) return reply(res, 404, { code: 'not_primary' })
      const publish = h.publish
      readBody(req)
        .then((text) => publish(JSON.parse(text) as PublishBody))
        .then(
          (seq) => reply(res, 200, { seq }),
          (err: unknown) => reply(res, 500, { code: 'error', message: String(err) }),
        )
      return
    }
    if (fallthrough) return fallthrough(req, res)
    reply(res, 404, { code: 'not_found' })
  }
}

export async function listen(server: http.Server, cfg: BaselineConfig): Promise<number> {
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen({ port: cfg.port, host: cfg.host, backlog: 4096 }, resolve))
  return (server.address() as AddressInfo).port
}

/** Exit cleanly on SIGTERM/SIGINT after `close` (bounded). */
export function onStop(close: () => Promise<void>): void {
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    const t = setTimeout(() => process.exit(0), 3000)
    t.unref()
    close().finally(() => process.exit(0))
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

/** `?match=<id>` of an upgrade URL. */
export function matchOf(url: string | undefined): string | undefined {
  const q = url?.indexOf('?') ?? -1
  if (!url || q < 0) return undefined
  return new URLSearchParams(url.slice(q + 1)).get('match') ?? undefined
}

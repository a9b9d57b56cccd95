/**
 * End-to-end delivery ("green health while delivery is dead", centrifugo#1189): a gateway can
 * answer /readyz 200 and still deliver nothing (its bus subscription died, or it is wired to
 * another NATS). The canary catches that.
 *
 * - `CanaryProbe` (the `canary` target) posts one small event to a dedicated match through the
 *   ingest API every canary interval (creating the match once). Its own state is the commentator
 *   path: ingest → bus accepted the event.
 * - Each gateway target holds a `CanaryListener`: one WebSocket on `<gateway>/ws?match=<canary>`,
 *   which tracks the highest seq the gateway delivered. A gateway check fails when a canary posted
 *   more than `timeoutMs` ago (after its socket was subscribed) has not arrived on that gateway.
 */
import { randomUUID } from 'node:crypto'
import type { Check, Observation } from '../types.ts'
import { errorText, performance, since } from './util.ts'

export interface CanaryConfig {
  /** Ingest API base, e.g. http://127.0.0.1:8081 or http://lb/api. */
  url: string
  key: string
  matchId: string
  intervalMs: number
  /** A canary not seen on a gateway this long after it was posted fails that gateway. */
  timeoutMs: number
}

interface Post {
  seq: number
  /** ms since epoch, when ingest answered. */
  at: number
}

export class CanaryProbe {
  readonly config: CanaryConfig
  readonly #posts: Post[] = []
  readonly #now: () => number
  #matchReady = false
  #n = 0
  #firstPostAt: number | undefined

  constructor(config: CanaryConfig, now: () => number = Date.now) {
    this.config = config
    this.#now = now
  }

  /** The newest canary posted at least `timeoutMs` ago: every gateway should have it by now. */
  due(now = this.#now()): Post | undefined {
    for (let i = this.#posts.length - 1; i >= 0; i--) {
      const p = this.#posts[i]!
      if (p.at <= now - this.config.timeoutMs) return p
    }
    return undefined
  }

  /** The check of the `canary` target: post one event. */
  check(): Check {
    return { run: (signal) => this.#post(signal) }
  }

  /** ms since epoch of the first canary ingest accepted (the match exists from then on). */
  get firstPostAt(): number | undefined {
    return this.#firstPostAt
  }

  async #post(signal: AbortSignal): Promise<Observation> {
    const t0 = performance.now()
    const base = this.config.url.replace(/\/+$/, '')
    const headers = { authorization: `Bearer ${this.config.key}`, 'content-type': 'application/json', 'user-agent': 'touchline-monitor' }
    try {
      if (!this.#matchReady) {
        // The match may exist already (created by an operator): only an admin key may create it.
        const res = await fetch(`${base}/v1/matches/${encodeURIComponent(this.config.matchId)}`, { signal, headers })
        await res.arrayBuffer()
        if (res.status === 404) {
          const created = await fetch(`${base}/v1/matches`, {
            method: 'POST',
            signal,
            headers,
            body: JSON.stringify({
              id: this.config.matchId,
              title: 'touchline monitor canary',
              home: 'monitor',
              away: 'canary',
              startsAt: new Date().toISOString(),
            }),
          })
          await created.arrayBuffer()
          if (created.status === 403)
            return fail(
              `the canary match "${this.config.matchId}" does not exist and this key may not create it (use an admin key, or create the match)`,
              t0,
            )
          if (created.status !== 201 && created.status !== 409)
            return fail(`creating the canary match: HTTP ${created.status}${hint(created.status)}`, t0)
        } else if (res.status !== 200) {
          return fail(`reading the canary match: HTTP ${res.status}${hint(res.status)}`, t0)
        }
        this.#matchReady = true
      }
      const n = ++this.#n
      const res = await fetch(`${base}/v1/matches/${encodeURIComponent(this.config.matchId)}/events`, {
        method: 'POST',
        signal,
        headers: { ...headers, 'idempotency-key': `monitor-canary-${randomUUID()}` },
        body: JSON.stringify({ kind: 'commentary', text: `monitor canary ${n}`, data: { canary: true, sentAt: new Date().toISOString() } }),
      })
      const body = (await res.json().catch(() => undefined)) as { seq?: number; code?: string } | undefined
      if (res.status === 404) this.#matchReady = false
      if (res.status !== 201 || typeof body?.seq !== 'number')
        return fail(`posting the canary: HTTP ${res.status}${body?.code ? ` ${body.code}` : ''}${hint(res.status)}`, t0)
      const at = this.#now()
      this.#firstPostAt ??= at
      this.#posts.push({ seq: body.seq, at })
      if (this.#posts.length > 50) this.#posts.shift()
      return { result: 'ok', latencyMs: since(t0) }
    } catch (err) {
      return fail(errorText(err), t0)
    }
  }
}

function hint(status: number): string {
  return status === 401 || status === 403 ? ' (check MONITOR_CANARY_KEY: a commentator or admin key)' : ''
}

function fail(error: string, t0: number): Observation {
  return { result: 'fail', error, latencyMs: since(t0) }
}

/**
 * `http://host:port/base` → `ws://host:port/base/ws?match=<id>`. Without credentials: the
 * spectators' socket needs none, and this URL is quoted in errors.
 */
export function wsUrl(gatewayBase: string, matchId: string): string {
  const u = new URL(gatewayBase)
  u.username = ''
  u.password = ''
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/ws`
  u.search = `?match=${encodeURIComponent(matchId)}`
  return u.toString()
}

/** One WebSocket on a gateway, subscribed to the canary match; reconnects by itself. */
export class CanaryListener {
  readonly url: string
  readonly matchId: string
  /** Highest seq the gateway showed for the canary match (snapshot, subscribed or event). */
  maxSeq = 0
  /** ms since epoch the subscription became live (`subscribed`); undefined while not subscribed. */
  subscribedAt: number | undefined
  /** ms since epoch the listener started, or last lost its live subscription. */
  since: number
  lastError: string | undefined
  readonly #now: () => number
  #ws: WebSocket | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #refused: string | undefined

  constructor(url: string, matchId: string, now: () => number = Date.now) {
    this.url = url
    this.matchId = matchId
    this.#now = now
    this.since = now()
    this.#connect()
  }

  #connect(): void {
    if (this.#closed) return
    let ws: WebSocket
    try {
      ws = new WebSocket(this.url)
    } catch (err) {
      this.lastError = errorText(err)
      this.#retry()
      return
    }
    this.#ws = ws
    // Listeners first (frames can arrive in the tick of open).
    ws.addEventListener('message', (ev) => this.#onFrame(ev.data))
    ws.addEventListener('error', () => {
      this.lastError ??= 'WebSocket error'
    })
    ws.addEventListener('close', (ev) => {
      if (this.#ws !== ws) return
      this.#ws = undefined
      // `since` is the start of the current period without a live subscription.
      if (this.subscribedAt !== undefined) this.since = this.#now()
      this.subscribedAt = undefined
      this.lastError = this.#refused ?? `WebSocket closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`
      this.#refused = undefined
      this.#retry()
    })
  }

  #retry(): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#connect(), 1000)
  }

  #onFrame(data: unknown): void {
    if (typeof data !== 'string') return
    let f: { type?: string; matchId?: string; seq?: number; code?: string; message?: string }
    try {
      f = JSON.parse(data)
    } catch {
      return
    }
    if (f.type === 'error') {
      // e.g. unknown_match before the canary match exists: try again on a new socket.
      this.lastError = `gateway refused the canary subscription: ${f.code ?? ''} ${f.message ?? ''}`.trim()
      if (this.subscribedAt === undefined) {
        this.#refused = this.lastError
        this.#ws?.close()
      }
      return
    }
    if (f.matchId !== this.matchId || typeof f.seq !== 'number') return
    if (f.seq > this.maxSeq) this.maxSeq = f.seq
    if (f.type === 'subscribed') {
      this.subscribedAt = this.#now()
      this.lastError = undefined
    }
  }

  /**
   * Judge the gateway against the canary that is due: undefined = fine (or nothing to judge yet),
   * else the reason it failed. Nothing is judged before ingest accepted a first canary (until
   * then the `canary` target itself is what fails).
   */
  verdict(probe: Pick<CanaryProbe, 'due' | 'firstPostAt'>, timeoutMs: number, now = this.#now()): string | undefined {
    const first = probe.firstPostAt
    if (first === undefined) return undefined
    if (this.subscribedAt === undefined) {
      const waiting = now - Math.max(this.since, first)
      if (waiting <= timeoutMs * 2) return undefined
      return `canary: no live subscription on ${this.url} for ${Math.round(waiting / 1000)} s${this.lastError ? ` (${this.lastError})` : ''}`
    }
    const due = probe.due(now)
    if (!due || due.at < this.subscribedAt || this.maxSeq >= due.seq) return undefined
    return `canary event #${due.seq} not delivered within ${timeoutMs} ms (delivery dead; last seen #${this.maxSeq})`
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    const ws = this.#ws
    this.#ws = undefined
    try {
      ws?.close()
    } catch {}
  }
}

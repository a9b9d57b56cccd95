/**
 * One spectator WebSocket that keeps itself connected.
 *
 * - On open it sends `auth` (when there is a viewer token) and `subscribe` for the current target,
 *   with `since` and `epoch` once the page holds part of the log, so a reconnect resumes with no
 *   gap and no duplicate.
 * - On close it follows the close code's advice (codes.ts): 1008/1009/1000 stop and say why; 1012
 *   comes back after a short random delay; anything else retries with exponential backoff and
 *   jitter. The attempt counter resets only after a connection stayed live for a while, so a
 *   gateway that accepts and drops at once is not hammered.
 * - A subscribe refused with `unavailable` (or `internal`): nothing was set up, so it is sent
 *   again on the same socket with backoff (with `since`: the resume loses nothing); the state says
 *   reconnecting, with the reason and a countdown. `unknown_match` is final for that match: state
 *   `no_match` until another target is subscribed. The page does not see these error frames.
 * - A `ping` every heartbeat interval; silence for 2.5 intervals counts as a dead connection.
 * - Several gateway URLs (a test or dev override) are tried in turn.
 */
import { backoffDelay, closeAdvice, DEFAULT_BACKOFF, restartDelay, type BackoffOptions } from './backoff.ts'
import type { ClientFrame, ServerFrame } from './protocol.ts'

export type ConnState = 'connecting' | 'catching_up' | 'live' | 'reconnecting' | 'offline' | 'no_match'

/** Subscribe refusals worth repeating: nothing was set up (docs/protocol.md, WebSocket error codes). */
const RETRY_SUBSCRIBE = new Set(['unavailable', 'internal'])

export interface Target {
  matchId: string
  since?: number
  epoch?: string
}

export interface StateInfo {
  /** Why the socket closed or why the page stopped. */
  reason?: string
  /** When the next attempt starts (ms since epoch), while reconnecting. */
  retryAt?: number
  attempt?: number
  url?: string
}

export interface LiveConnectionOptions {
  urls: () => string[]
  target: () => Target | null
  token: () => string | null
  onFrame: (frame: ServerFrame) => void
  onState: (state: ConnState, info: StateInfo) => void
  backoff?: BackoffOptions
  /** After this long live, the next failure starts again at the first backoff step. */
  stableMs?: number
  connectTimeoutMs?: number
  WebSocketImpl?: typeof WebSocket
  random?: () => number
}

/** The gateway URL of this origin: ws(s)://host/ws. */
export function sameOriginWsUrl(loc: Location = location): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws`
}

export class LiveConnection {
  readonly #o: LiveConnectionOptions
  #ws: WebSocket | undefined
  #state: ConnState = 'connecting'
  #stopped = true
  #attempt = 0
  #urlIndex = 0
  #everOpened = false
  #heartbeatMs = 15_000
  #lastMessageAt = 0
  /** Refused subscribes in a row on this socket (backoff for the next one). */
  #subscribeAttempt = 0
  /** The last subscribe was refused: the server holds no subscription to unsubscribe. */
  #refused = false
  #timers = { retry: 0, ping: 0, stable: 0, connect: 0, subscribe: 0 }

  constructor(options: LiveConnectionOptions) {
    this.#o = options
  }

  get state(): ConnState {
    return this.#state
  }

  get open(): boolean {
    return this.#ws?.readyState === 1
  }

  /** Started and not stopped (it may be between sockets). */
  get active(): boolean {
    return !this.#stopped
  }

  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    this.#connect()
  }

  stop(): void {
    this.#stopped = true
    this.#clear()
    this.#drop(1000, 'page closed')
  }

  /** Send a frame if the socket is open; false otherwise. */
  send(frame: ClientFrame): boolean {
    if (this.#ws?.readyState !== 1) return false
    this.#ws.send(JSON.stringify(frame))
    return true
  }

  /** Subscribe again for the current target (another match was chosen), or connect if stopped. */
  resubscribe(previousMatchId?: string): void {
    if (this.#stopped || this.#state === 'offline') {
      this.#stopped = true
      this.start()
      return
    }
    if (!this.open) return // the next open subscribes to the current target
    if (previousMatchId && !this.#refused) this.send({ type: 'unsubscribe', matchId: previousMatchId })
    this.#subscribeAttempt = 0
    this.#subscribe()
  }

  /** Skip the wait (a "reconnect now" button, the page coming back online). */
  reconnectNow(): void {
    if (this.#state === 'offline') {
      this.#attempt = 0
      this.#stopped = true
      this.start()
      return
    }
    if (this.#state === 'reconnecting' && !this.#ws) {
      window.clearTimeout(this.#timers.retry)
      this.#connect()
    } else if (this.#state === 'reconnecting' && this.#timers.subscribe) {
      this.#subscribe()
    }
  }

  #setState(state: ConnState, info: StateInfo = {}): void {
    this.#state = state
    this.#o.onState(state, info)
  }

  #clear(): void {
    window.clearTimeout(this.#timers.retry)
    window.clearInterval(this.#timers.ping)
    window.clearTimeout(this.#timers.stable)
    window.clearTimeout(this.#timers.connect)
    window.clearTimeout(this.#timers.subscribe)
    this.#timers.subscribe = 0
  }

  #url(): string {
    const urls = this.#o.urls()
    return urls[this.#urlIndex % urls.length] ?? sameOriginWsUrl()
  }

  #connect(): void {
    if (this.#stopped) return
    const url = this.#url()
    if (this.#everOpened) this.#setState('reconnecting', { url, attempt: this.#attempt })
    else this.#setState('connecting', { url })
    const Impl = this.#o.WebSocketImpl ?? WebSocket
    let ws: WebSocket
    try {
      ws = new Impl(url)
    } catch (err) {
      this.#failed(1006, (err as Error).message)
      return
    }
    this.#ws = ws
    this.#timers.connect = window.setTimeout(() => {
      if (this.#ws === ws && ws.readyState !== 1) this.#failed(1006, 'connect timeout')
    }, this.#o.connectTimeoutMs ?? 10_000)
    ws.onopen = () => {
      if (this.#ws !== ws) return
      window.clearTimeout(this.#timers.connect)
      this.#everOpened = true
      this.#lastMessageAt = Date.now()
      const token = this.#o.token()
      if (token) this.send({ type: 'auth', token })
      this.#subscribe()
      this.#startHeartbeat()
    }
    ws.onmessage = (ev: MessageEvent) => {
      if (this.#ws !== ws) return
      this.#lastMessageAt = Date.now()
      let frame: ServerFrame
      try {
        frame = JSON.parse(String(ev.data)) as ServerFrame
      } catch {
        return
      }
      if (frame.type === 'welcome' && frame.heartbeatMs > 0) {
        this.#heartbeatMs = frame.heartbeatMs
        this.#startHeartbeat()
      }
      if (frame.type === 'error' && this.#subscribeRefused(frame)) return
      if (frame.type === 'subscribed') {
        this.#subscribeAttempt = 0
        this.#setState('live', { url: this.#url() })
        window.clearTimeout(this.#timers.stable)
        this.#timers.stable = window.setTimeout(() => {
          this.#attempt = 0
        }, this.#o.stableMs ?? 5000)
      }
      this.#o.onFrame(frame)
    }
    ws.onclose = (ev: CloseEvent) => {
      if (this.#ws !== ws) return
      this.#failed(ev.code, ev.reason)
    }
  }

  #subscribe(): void {
    window.clearTimeout(this.#timers.subscribe)
    this.#timers.subscribe = 0
    const t = this.#o.target()
    if (!t) return
    this.#refused = false
    const frame: ClientFrame = { type: 'subscribe', matchId: t.matchId }
    if (t.since !== undefined) {
      frame.since = t.since
      if (t.epoch) frame.epoch = t.epoch
    }
    this.send(frame)
    this.#setState(t.since !== undefined ? 'catching_up' : 'connecting', { url: this.#url() })
  }

  /** An `error` answering the current target's subscribe: handled here (true), not by the page. */
  #subscribeRefused(f: Extract<ServerFrame, { type: 'error' }>): boolean {
    const t = this.#o.target()
    // Chat errors carry `ref`; subscribe errors carry the match id only.
    if (!t || f.ref !== undefined || f.matchId !== t.matchId) return false
    if (f.code === 'unknown_match') {
      this.#refused = true
      window.clearTimeout(this.#timers.subscribe)
      this.#timers.subscribe = 0
      this.#setState('no_match', { reason: f.message })
      return true
    }
    if (!RETRY_SUBSCRIBE.has(f.code)) return false
    this.#refused = true
    const delay = f.retryAfterMs ?? backoffDelay(this.#subscribeAttempt, this.#o.backoff ?? DEFAULT_BACKOFF, this.#o.random)
    this.#subscribeAttempt++
    this.#timers.subscribe = window.setTimeout(() => this.#subscribe(), delay)
    this.#setState('reconnecting', { reason: f.message, retryAt: Date.now() + delay, attempt: this.#subscribeAttempt })
    return true
  }

  #startHeartbeat(): void {
    window.clearInterval(this.#timers.ping)
    this.#timers.ping = window.setInterval(() => {
      if (Date.now() - this.#lastMessageAt > this.#heartbeatMs * 2.5) {
        this.#failed(4000, 'no answer from the server')
        return
      }
      this.send({ type: 'ping' })
    }, this.#heartbeatMs)
  }

  /** Close the socket without waiting for its close handshake and detach it. */
  #drop(code: number, reason: string): void {
    const ws = this.#ws
    this.#ws = undefined
    if (!ws) return
    ws.onopen = ws.onmessage = ws.onclose = null
    try {
      if (ws.readyState <= 1) ws.close(code === 1000 ? 1000 : 4000, reason.slice(0, 100))
    } catch {}
  }

  #failed(code: number, reason: string): void {
    this.#clear()
    this.#drop(code, reason)
    if (this.#stopped) return
    const advice = closeAdvice(code, reason)
    if (!advice.reconnect) {
      this.#setState('offline', { reason: advice.reason })
      return
    }
    const urls = this.#o.urls()
    if (urls.length > 1) this.#urlIndex = (this.#urlIndex + 1) % urls.length
    const delay = advice.soon
      ? restartDelay(this.#o.random)
      : backoffDelay(this.#attempt, this.#o.backoff ?? DEFAULT_BACKOFF, this.#o.random)
    this.#attempt++
    this.#setState('reconnecting', { reason: advice.reason, retryAt: Date.now() + delay, attempt: this.#attempt })
    this.#timers.retry = window.setTimeout(() => this.#connect(), delay)
  }
}

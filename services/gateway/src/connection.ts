/**
 * One spectator connection: its state (viewer, subscriptions, abuse counters) and its client
 * frames. `start()` attaches every listener synchronously, before anything is awaited, so a
 * frame sent in the same tick as `open` is never lost (ws#1322, fastify-websocket#106).
 *
 * Nothing a client sends can throw out of here: every frame is parsed with the protocol's
 * never-throwing parser, every async branch ends in a caught promise, and an unexpected failure
 * answers `internal` to that client only.
 */
import { randomBytes } from 'node:crypto'
import { BusUnavailableError, UnknownMatchError } from '@touchline/bus'
import {
  CLOSE,
  charLength,
  encodeFrame,
  frameRefs,
  LIMITS,
  parseClientFrame,
  sliceChars,
  type ChatSendFrame,
  type ClientFrame,
  type ErrorFrame,
  type User,
  type WsErrorCode,
} from '@touchline/protocol'
import { verifyViewerToken } from '@touchline/tokens'
import type { Logger } from 'pino'
import type { WebSocket, RawData } from 'ws'
import { cleanChatText, TokenBucket } from './chat.ts'
import type { Gateway } from './gateway.ts'
import type { Beating } from './heartbeat.ts'
import { Sender } from './sender.ts'
import { startSubscription, Subscription } from './resume.ts'
import { bump } from './stats.ts'

const PONG = encodeFrame({ type: 'pong' })

/**
 * Connection ids (logs, `welcome`): unique per gateway process — a random prefix drawn once at
 * start, then a counter — instead of `randomBytes` per connection, a getrandom(2) call that cost
 * ~4 µs alone (~17 µs under a reconnect storm's load). Nothing trusts a connId: it only names
 * the connection in logs.
 */
const CONN_PREFIX = randomBytes(6).toString('base64url')
let connCounter = 0
const nextConnId = (): string => `${CONN_PREFIX}${(++connCounter).toString(36)}`
const MATCH_ID_RE = new RegExp(LIMITS.matchIdPattern)

export interface ConnectOptions {
  token?: string
  match?: string
  since?: string
  epoch?: string
}

/** The Connection of a socket, for the listeners below (shared by every socket: `this` is the socket). */
const CONN = Symbol('touchline.connection')
type ConnSocket = WebSocket & { [CONN]: Connection }

/**
 * Memory per idle connection (README, "Memory per connection"): what an idle spectator does not
 * need is made on first use — the child logger, the two token buckets, the bad-frame window — and
 * the socket's listeners are module-level functions rather than closures per socket.
 */
export class Connection implements Beating {
  readonly id: string
  readonly ws: WebSocket
  readonly sender: Sender
  readonly subs = new Map<string, Subscription>()
  user: User | undefined
  alive = true
  closed = false
  readonly #gw: Gateway
  #log: Logger | undefined
  /** Made at the first client frame: a new bucket is full, as one made at connect would still be. */
  #inbound: TokenBucket | undefined
  /** Made at the first chat frame (full, as above). */
  #chat: TokenBucket | undefined
  #bad: number[] | undefined
  #policyClosing = false

  constructor(gw: Gateway, ws: WebSocket) {
    this.#gw = gw
    this.ws = ws
    this.id = nextConnId()
    this.sender = new Sender(ws, gw.senderLimits, gw.stats)
  }

  /** This connection's logger (a child with `connId`), made when first needed. */
  get log(): Logger {
    this.#log ??= this.#gw.log.child({ connId: this.id })
    return this.#log
  }

  static readonly #onMessageListener = function (this: WebSocket, data: RawData, isBinary: boolean): void {
    ;(this as ConnSocket)[CONN].#onMessage(data, isBinary)
  }

  static readonly #onPongListener = function (this: WebSocket): void {
    ;(this as ConnSocket)[CONN].alive = true
  }

  static readonly #onCloseListener = function (this: WebSocket): void {
    ;(this as ConnSocket)[CONN].#onClose()
  }

  /** Attach listeners (synchronously, first), send `welcome`, then handle the query's subscribe. */
  start(opts: ConnectOptions): void {
    const ws = this.ws as ConnSocket
    ws[CONN] = this
    ws.on('message', Connection.#onMessageListener)
    ws.on('pong', Connection.#onPongListener)
    // ws emits 'close' once; #onClose is idempotent anyway.
    ws.on('close', Connection.#onCloseListener)

    let tokenError: string | undefined
    if (opts.token !== undefined) tokenError = this.#authenticate(opts.token)
    const gw = this.#gw
    this.sender.send(
      encodeFrame({
        type: 'welcome',
        node: gw.nodeId,
        connId: this.id,
        heartbeatMs: gw.settings.heartbeatMs,
        v: 1,
        ...(this.user ? { user: this.user } : {}),
      }),
    )
    if (tokenError) this.error('unauthorized', `viewer token refused: ${tokenError}`)

    if (opts.match !== undefined) {
      if (!MATCH_ID_RE.test(opts.match)) {
        this.error('bad_request', 'query parameter match is not a valid match id')
        return
      }
      let since: number | undefined
      if (opts.since !== undefined) {
        // Up to Number.MAX_SAFE_INTEGER (16 digits), as a subscribe frame's since.
        since = /^\d{1,16}$/.test(opts.since) ? Number(opts.since) : Number.NaN
        if (!Number.isSafeInteger(since)) {
          this.error('bad_request', 'query parameter since must be a non-negative integer')
          return
        }
      }
      if (opts.epoch !== undefined && charLength(opts.epoch) > 64) {
        this.error('bad_request', 'query parameter epoch is too long')
        return
      }
      this.#subscribe(opts.match, since, opts.epoch)
    } else if (opts.since !== undefined) {
      this.error('bad_request', 'query parameter since needs match')
    }
  }

  /** Send an `error` frame (never throws). */
  error(code: WsErrorCode, message: string, extra: Partial<Pick<ErrorFrame, 'ref' | 'matchId' | 'retryAfterMs'>> = {}): void {
    const frame: ErrorFrame = { type: 'error', code, message }
    if (extra.ref !== undefined) frame.ref = extra.ref
    if (extra.matchId !== undefined) frame.matchId = extra.matchId
    if (extra.retryAfterMs !== undefined) frame.retryAfterMs = Math.max(0, Math.ceil(extra.retryAfterMs))
    this.sender.send(encodeFrame(frame))
  }

  ping(): void {
    if (this.ws.readyState === 1) this.ws.ping()
  }

  terminate(): void {
    this.ws.terminate()
  }

  /** Close with a code (drain, overload, policy). */
  close(code: number, reason: string): void {
    if (this.closed) return
    this.sender.markClosed()
    try {
      this.ws.close(code, reason)
    } catch {
      this.ws.terminate()
    }
  }

  #onClose(): void {
    if (this.closed) return
    this.closed = true
    this.sender.markClosed()
    for (const sub of this.subs.values()) {
      sub.state = 'closed'
      this.#gw.hub.leave(sub)
    }
    this.subs.clear()
    this.#gw.removeConnection(this)
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed || this.#policyClosing) return
    this.alive = true
    try {
      this.#inbound ??= new TokenBucket(this.#gw.settings.inboundBurst, this.#gw.settings.inboundPerSec)
      const wait = this.#inbound.take()
      if (wait > 0) {
        this.#badFrame('flood', () => this.error('rate_limited', 'too many frames; slow down', { retryAfterMs: wait }))
        return
      }
      if (isBinary) {
        this.#badFrame('binary', () => this.error('bad_request', 'binary frames are not accepted; send JSON text frames'))
        return
      }
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data)
      if (buf.byteLength > LIMITS.wsMaxClientFrameBytes) {
        this.#tooLargeFrame(buf)
        return
      }
      const parsed = parseClientFrame(buf.toString('utf8'))
      if (!parsed.ok) {
        const { ref, matchId } = parsed
        this.#badFrame('bad_request', () =>
          this.error('bad_request', parsed.message, { ...(ref ? { ref } : {}), ...(matchId ? { matchId } : {}) }),
        )
        return
      }
      this.#dispatch(parsed.frame)
    } catch (err) {
      this.log.error({ err }, 'unexpected failure handling a client frame')
      this.error('internal', 'unexpected failure; it has been logged')
    }
  }

  /** Over the frame limit but under maxPayload: answer `too_large` with the clientMsgId when there is one. */
  #tooLargeFrame(buf: Buffer): void {
    let refs: { ref?: string; matchId?: string } = {}
    let type: unknown
    try {
      const v: unknown = JSON.parse(buf.toString('utf8'))
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        refs = frameRefs(v as Record<string, unknown>)
        type = (v as { type?: unknown }).type
      }
    } catch {}
    const what = type === 'chat' ? `chat text is longer than ${LIMITS.chatTextMaxLength} characters` : 'frame is too large'
    this.#badFrame('too_large', () =>
      this.error('too_large', `${what} (frames are limited to ${LIMITS.wsMaxClientFrameBytes} bytes)`, refs),
    )
  }

  /** Count a bad frame; answer it, or close 1008 when there were too many in the window. */
  #badFrame(reason: string, answer: () => void): void {
    const gw = this.#gw
    bump(gw.stats.badFrames, reason)
    const now = Date.now()
    const windowStart = now - gw.settings.badFrameWindowMs
    this.#bad ??= []
    const bad = this.#bad
    while (bad.length > 0 && (bad[0] as number) < windowStart) bad.shift()
    bad.push(now)
    if (bad.length > gw.settings.badFrameLimit) {
      this.#policyClosing = true
      gw.stats.abuseCloses++
      this.log.info({ reason }, 'closing abusive connection (1008)')
      this.close(CLOSE.policy.code, CLOSE.policy.reason)
      const t = setTimeout(() => this.ws.terminate(), gw.settings.slowCloseGraceMs)
      t.unref()
      return
    }
    answer()
  }

  #dispatch(frame: ClientFrame): void {
    switch (frame.type) {
      case 'ping':
        this.sender.send(PONG)
        return
      case 'subscribe':
        this.#subscribe(frame.matchId, frame.since, frame.epoch)
        return
      case 'unsubscribe':
        this.#unsubscribe(frame.matchId)
        return
      case 'auth': {
        const problem = this.#authenticate(frame.token)
        if (problem || !this.user) this.error('unauthorized', `viewer token refused: ${problem ?? 'invalid'}`)
        else this.sender.send(encodeFrame({ type: 'auth_ok', user: this.user }))
        return
      }
      case 'chat':
        this.#chatFrame(frame).catch((err) => {
          this.log.error({ err }, 'chat failed unexpectedly')
          this.error('internal', 'unexpected failure; it has been logged', { ref: frame.clientMsgId })
        })
        return
    }
  }

  /**
   * Returns a problem description, or undefined when the token is valid (this.user is set). A
   * refused token leaves no viewer, also after an earlier valid one: chat must not go out under
   * the name a client tried to replace.
   */
  #authenticate(token: string): string | undefined {
    const r = verifyViewerToken(token, this.#gw.tokenSecret)
    if (!r.ok) {
      this.user = undefined
      return r.reason
    }
    this.user = { id: r.claims.sub.slice(0, 64), name: sliceChars(r.claims.name, LIMITS.viewerNameMaxLength) }
    return undefined
  }

  #subscribe(matchId: string, since: number | undefined, epoch: string | undefined): void {
    const gw = this.#gw
    if (gw.draining) {
      // Its 1012 is on the way (the drain spreads them): say so rather than leave it unanswered.
      this.error('unavailable', 'this gateway is draining: reconnect and resume with since', { matchId })
      return
    }
    if (this.subs.has(matchId)) {
      this.error('bad_request', `already subscribed to ${matchId}; unsubscribe first`, { matchId })
      return
    }
    if (this.subs.size >= gw.settings.maxSubscriptionsPerConnection) {
      this.error('too_many_subscriptions', `at most ${gw.settings.maxSubscriptionsPerConnection} subscriptions per connection`, { matchId })
      return
    }
    const sub = new Subscription(matchId, this.sender, gw.settings.replayMaxHeld)
    this.subs.set(matchId, sub)
    startSubscription(gw.resumeOptions, sub, { ...(since !== undefined ? { since } : {}), ...(epoch !== undefined ? { epoch } : {}) }).then(
      (outcome) => {
        if (outcome.type === 'live') {
          const count = gw.tracker.onlineFor(matchId)
          if (count !== undefined) this.sender.sendDroppable(encodeFrame({ type: 'online', matchId, count }))
          return
        }
        if (this.subs.get(matchId) === sub) this.subs.delete(matchId)
        if (outcome.type === 'error') {
          if (outcome.code !== 'unknown_match') this.log.warn({ matchId, code: outcome.code, message: outcome.message }, 'subscribe failed')
          this.error(outcome.code, outcome.message, { matchId })
        }
      },
      (err: unknown) => {
        if (this.subs.get(matchId) === sub) this.subs.delete(matchId)
        gw.hub.leave(sub)
        this.log.error({ err, matchId }, 'subscribe failed unexpectedly')
        this.error('internal', 'subscribe failed; it has been logged', { matchId })
      },
    )
  }

  #unsubscribe(matchId: string): void {
    const sub = this.subs.get(matchId)
    if (!sub) {
      this.error('not_subscribed', `not subscribed to ${matchId}`, { matchId })
      return
    }
    this.subs.delete(matchId)
    sub.state = 'closed'
    this.#gw.hub.leave(sub)
    this.sender.send(encodeFrame({ type: 'unsubscribed', matchId }))
  }

  async #chatFrame(frame: ChatSendFrame): Promise<void> {
    const gw = this.#gw
    const ref = frame.clientMsgId
    const refuse = (code: WsErrorCode, message: string, retryAfterMs?: number) => {
      bump(gw.stats.chatRefused, code)
      this.error(code, message, { ref, matchId: frame.matchId, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) })
    }
    const user = this.user
    if (!user) return refuse('unauthorized', 'chat needs a viewer token (token query parameter or auth frame)')
    if (!this.subs.has(frame.matchId)) return refuse('not_subscribed', `subscribe to ${frame.matchId} before chatting`)
    const checked = cleanChatText(frame.text)
    if (!checked.ok) return refuse(checked.code, checked.message)
    this.#chat ??= new TokenBucket(gw.settings.chatConnBurst, gw.settings.chatConnPerMin / 60)
    const wait = this.#chat.take()
    if (wait > 0) return refuse('rate_limited', 'too many chat messages from this connection', wait)

    let mutedUntil: number | null
    try {
      mutedUntil = await gw.mutes.until(frame.matchId, user.id)
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'mute lookup failed')
      return refuse('unavailable', 'chat is unavailable right now; retry')
    }
    if (mutedUntil !== null) return refuse('muted', 'you are muted in this match', mutedUntil - Date.now())

    try {
      const r = await gw.rateLimiter.take(`chat:user:${user.id}`, {
        capacity: gw.settings.chatUserBurst,
        refillPerSec: gw.settings.chatUserPerMin / 60,
      })
      if (!r.ok) return refuse('rate_limited', 'too many chat messages from this viewer', r.retryAfterMs)
    } catch (err) {
      // The shared limiter is down: the per-connection bucket still applies (fail open).
      gw.noteRateLimiterError(err)
    }

    const text = gw.bannedWords.mask(checked.text)
    try {
      const rec = await gw.bus.appendChat(frame.matchId, { user, text })
      gw.stats.chatAccepted++
      this.sender.send(encodeFrame({ type: 'chat_ack', clientMsgId: ref, id: rec.id }))
    } catch (err) {
      if (err instanceof UnknownMatchError) return refuse('unknown_match', `no match ${frame.matchId}`)
      if (!(err instanceof BusUnavailableError)) this.log.error({ err }, 'appendChat failed')
      return refuse('unavailable', 'chat could not be stored; nothing was stored, retry')
    }
  }
}

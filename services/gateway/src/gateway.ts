/**
 * One gateway node: the hub, the connections, presence, chat moderation state, heartbeat and
 * drain. `app.ts` mounts it on fastify; nothing here knows about HTTP routes.
 */
import type { Bus, BusStatus, BusSubscription, ControlMessage } from '@touchline/bus'
import type { PresenceStore } from '@touchline/presence'
import { CLOSE, encodeFrame } from '@touchline/protocol'
import type { RateLimiter } from '@touchline/ratelimit'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { WebSocket } from 'ws'
import { BannedWords, MuteCache, wordsOf } from './chat.ts'
import { defaultGatewaySettings, type GatewaySettings } from './config.ts'
import { Connection, type ConnectOptions } from './connection.ts'
import { Heartbeat } from './heartbeat.ts'
import { Hub } from './hub.ts'
import { registerGatewayMetrics, type GatewayMetrics } from './metrics.ts'
import { PresenceTracker } from './presence.ts'
import type { ResumeOptions, Subscription } from './resume.ts'
import type { SenderLimits } from './sender.ts'
import { newStats, type GatewayStats } from './stats.ts'

export interface GatewayDeps {
  bus: Bus
  presence: PresenceStore
  rateLimiter: RateLimiter
  nodeId: string
  /** Advertised in presence (for health checks); e.g. http://127.0.0.1:8082 */
  nodeUrl?: string
  /** HMAC secret of viewer tokens (the same as ingest's). */
  tokenSecret: string
  /** prom-client Registry; metrics are named touchline_gateway_*. One gateway per registry. */
  registry: Registry
  settings?: Partial<GatewaySettings>
}

export const BANNED_WORDS_SETTING = 'bannedWords'

export class Gateway {
  readonly bus: Bus
  readonly presence: PresenceStore
  readonly rateLimiter: RateLimiter
  readonly nodeId: string
  readonly tokenSecret: string
  readonly log: Logger
  readonly stats: GatewayStats = newStats()
  readonly settings: GatewaySettings
  /** Shared by every Sender: a reload changes the limits of open sockets too. */
  readonly senderLimits: SenderLimits
  readonly resumeOptions: ResumeOptions
  readonly hub: Hub
  readonly tracker: PresenceTracker
  readonly heartbeat: Heartbeat
  readonly bannedWords = new BannedWords()
  readonly mutes: MuteCache
  readonly connections = new Set<Connection>()
  readonly metrics: GatewayMetrics
  draining = false
  #started = false
  #stopped = false
  #drained: Promise<void> | undefined
  #control: BusSubscription | undefined
  #offBus: (() => void) | undefined
  #lastBus: BusStatus['type']
  #lastLimiterLog = 0
  #gapCheck: NodeJS.Timeout | undefined

  constructor(deps: GatewayDeps, log: Logger) {
    this.bus = deps.bus
    this.presence = deps.presence
    this.rateLimiter = deps.rateLimiter
    this.nodeId = deps.nodeId
    this.tokenSecret = deps.tokenSecret
    this.log = log
    this.settings = { ...defaultGatewaySettings, ...deps.settings }
    this.senderLimits = { maxBufferedBytes: 0, chatShedBytes: 0, slowCloseGraceMs: 0, cork: true }
    this.resumeOptions = {
      bus: this.bus,
      hub: undefined as unknown as Hub,
      stats: this.stats,
      pageSize: 0,
      snapshotEvents: 0,
      snapshotChat: 0,
      replayHighWaterBytes: 0,
      replayStallMs: 30_000,
    }
    this.#applySettings()
    this.metrics = registerGatewayMetrics(deps.registry, this)
    this.hub = new Hub({
      bus: this.bus,
      stats: this.stats,
      log,
      pageSize: this.settings.replayPageSize,
      observeFanout: (s) => this.metrics.fanout.observe(s),
      onMembership: (matchId, d) => this.tracker.delta(matchId, d),
      onResync: (sub) => sub.sender.closeSlow(),
      // Read at each window's start, so a reload (SIGHUP) applies from the next window on.
      chatCoalesceMs: () => this.settings.chatCoalesceMs,
    })
    this.resumeOptions.hub = this.hub
    this.tracker = new PresenceTracker({
      presence: this.presence,
      nodeId: this.nodeId,
      ...(deps.nodeUrl ? { nodeUrl: deps.nodeUrl } : {}),
      hub: this.hub,
      stats: this.stats,
      log,
      connections: () => this.connections.size,
      heartbeatMs: this.settings.presenceHeartbeatMs,
      flushMs: this.settings.presenceFlushMs,
      onlineMs: this.settings.onlineIntervalMs,
      sweepMs: this.settings.presenceSweepMs,
    })
    this.heartbeat = new Heartbeat(
      this.settings.heartbeatMs,
      () => this.connections,
      () => this.stats.heartbeatTerminations++,
    )
    this.mutes = new MuteCache(this.bus)
    this.#lastBus = this.bus.status().type
  }

  /** Subscribe to control messages, load banned words, start presence and the heartbeat. */
  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#control = this.bus.subscribeControl((m) => this.#onControl(m))
    this.#offBus = this.bus.onStatus((s) => {
      const was = this.#lastBus
      this.#lastBus = s.type
      if (s.type === 'connected' && was !== 'connected') {
        this.log.info('bus connected again; catching up on every watched match')
        this.hub.catchUp()
      } else if (s.type !== 'connected' && was === 'connected') {
        this.log.warn({ status: s }, 'bus disconnected')
      }
    })
    this.tracker.start()
    this.heartbeat.start(this.settings.heartbeatMs)
    this.#scheduleGapCheck()
    await this.reloadBannedWords()
  }

  /** Bus connected and not draining: this node can deliver events. */
  get ready(): boolean {
    return !this.draining && !this.#stopped && this.bus.status().type === 'connected'
  }

  readiness(): { ok: boolean; body: Record<string, unknown> } {
    const bus = this.bus.status().type
    const ok = this.ready
    return {
      ok,
      body: {
        status: ok ? 'ok' : this.draining ? 'draining' : 'unavailable',
        node: this.nodeId,
        bus,
        presence: this.tracker.status,
        connections: this.connections.size,
      },
    }
  }

  /** A socket was upgraded on /ws. Synchronous up to the listeners (see Connection.start). */
  attach(ws: WebSocket, opts: ConnectOptions): void {
    if (this.draining || this.#stopped) {
      this.stats.connectionsRefused++
      ws.close(CLOSE.restart.code, CLOSE.restart.reason)
      return
    }
    if (this.connections.size >= this.settings.maxConnections) {
      this.stats.connectionsRefused++
      ws.close(CLOSE.overloaded.code, CLOSE.overloaded.reason)
      setTimeout(() => ws.terminate(), this.settings.slowCloseGraceMs).unref()
      return
    }
    const conn = new Connection(this, ws)
    this.connections.add(conn)
    this.stats.connectionsOpened++
    conn.start(opts)
  }

  removeConnection(conn: Connection): void {
    this.connections.delete(conn)
  }

  noteRateLimiterError(err: unknown): void {
    const now = Date.now()
    if (now - this.#lastLimiterLog > 10_000) {
      this.#lastLimiterLog = now
      this.log.warn({ err: (err as Error)?.message ?? String(err) }, 'shared chat rate limiter unavailable; per-connection limits only')
    }
  }

  async reloadBannedWords(): Promise<void> {
    try {
      const words = wordsOf(await this.bus.getSetting(BANNED_WORDS_SETTING))
      this.bannedWords.set(words)
      this.log.info({ count: this.bannedWords.size }, 'banned words loaded')
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not load banned words; keeping the previous list')
    }
  }

  /** SIGHUP: new settings (from the environment) and the banned-words list; no socket is dropped. */
  async reload(settings?: Partial<GatewaySettings>): Promise<void> {
    if (settings) {
      Object.assign(this.settings, settings)
      this.#applySettings()
      if (this.#started && !this.#stopped) this.heartbeat.start(this.settings.heartbeatMs)
    }
    await this.reloadBannedWords()
  }

  /**
   * Drain: /readyz turns 503 at once; every socket is closed with 1012 at a random moment within
   * `drainSpreadMs` (so that reconnects spread over the other nodes); sockets still open after
   * `drainGraceMs` more are terminated; then this node leaves presence. Idempotent.
   */
  drain(): Promise<void> {
    this.#drained ??= this.#drain()
    return this.#drained
  }

  async #drain(): Promise<void> {
    this.draining = true
    const { drainSpreadMs, drainGraceMs } = this.settings
    const conns = [...this.connections]
    this.log.info({ connections: conns.length, spreadMs: drainSpreadMs }, 'draining: closing sockets with 1012')
    await new Promise<void>((resolve) => {
      if (conns.length === 0) return resolve()
      let left = conns.length
      for (const c of conns) {
        const t = setTimeout(
          () => {
            c.close(CLOSE.restart.code, CLOSE.restart.reason)
            if (--left === 0) resolve()
          },
          Math.floor(Math.random() * drainSpreadMs),
        )
        t.unref()
      }
    })
    const deadline = Date.now() + drainGraceMs
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    for (const c of this.connections) c.ws.terminate()
    await this.stop()
  }

  /** Stop timers and subscriptions and leave presence (without closing sockets). */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#gapCheck)
    this.heartbeat.stop()
    this.#control?.unsubscribe()
    this.#offBus?.()
    await this.tracker.stop(true)
    this.hub.closeAll()
  }

  /**
   * Every half LIVE_GAP_CHECK_MS, quiet matches get their log position read (Hub#checkQuiet), so
   * a lost live copy reaches spectators within 1.5 × that. Re-read each round: a reload applies.
   */
  #scheduleGapCheck(): void {
    const quietMs = this.settings.liveGapCheckMs
    if (quietMs > 0) this.hub.checkQuiet(quietMs)
    this.#gapCheck = setTimeout(() => this.#scheduleGapCheck(), quietMs > 0 ? Math.max(100, quietMs / 2) : 1000)
    this.#gapCheck.unref()
  }

  #applySettings(): void {
    const s = this.settings
    s.chatShedBytes = Math.min(s.chatShedBytes, s.sendBufferMaxBytes)
    Object.assign(this.senderLimits, {
      maxBufferedBytes: s.sendBufferMaxBytes,
      chatShedBytes: s.chatShedBytes,
      slowCloseGraceMs: s.slowCloseGraceMs,
      cork: s.cork,
    })
    Object.assign(this.resumeOptions, {
      pageSize: s.replayPageSize,
      snapshotEvents: s.snapshotEvents,
      snapshotChat: s.snapshotChat,
      replayHighWaterBytes: Math.floor(s.sendBufferMaxBytes / 2),
    })
  }

  #onControl(m: ControlMessage): void {
    try {
      switch (m.type) {
        case 'chat_deleted':
          this.hub.broadcast(m.matchId, encodeFrame({ type: 'chat_deleted', matchId: m.matchId, id: m.id }), false)
          return
        case 'mute':
          this.mutes.apply(m.matchId, m.userId, m.until)
          return
        case 'settings_changed':
          if (m.key === BANNED_WORDS_SETTING) void this.reloadBannedWords()
          return
      }
    } catch (err) {
      this.log.error({ err }, 'control message failed')
    }
  }

  /** For tests and metrics. */
  get subscriptionCount(): number {
    return this.hub.subscriptionCount
  }

  /** Subscriptions of a connection that are live (for tests). */
  static liveSubs(conn: Connection): Subscription[] {
    return [...conn.subs.values()].filter((s) => s.state === 'live')
  }
}

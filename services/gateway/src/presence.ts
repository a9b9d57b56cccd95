/**
 * This node's side of presence: join at start, heartbeat every `heartbeatMs` with the connection
 * count, subscription changes batched into deltas flushed every `flushMs` (the hot path only
 * touches a Map), a periodic sweep of dead nodes, and every `onlineMs` the totals of the matches
 * watched here, sent as `online` frames to a match's sockets when its count changed.
 *
 * Presence is never on the delivery path: when the store is down, calls fail fast, events keep
 * flowing, and the node is marked for a resync. When the store is back (status `connected` again,
 * or the next call succeeds) the node joins again and rewrites its whole count table with
 * `replaceNode` — Redis may have lost everything in between.
 */
import type { PresenceStatus, PresenceStore } from '@touchline/presence'
import { encodeFrame } from '@touchline/protocol'
import type { Logger } from 'pino'
import type { Hub } from './hub.ts'
import type { GatewayStats } from './stats.ts'

export interface PresenceTrackerOptions {
  presence: PresenceStore
  nodeId: string
  nodeUrl?: string
  hub: Hub
  stats: GatewayStats
  log: Logger
  connections: () => number
  heartbeatMs: number
  flushMs: number
  onlineMs: number
  sweepMs: number
}

export class PresenceTracker {
  readonly #o: PresenceTrackerOptions
  readonly #startedAt = Date.now()
  readonly #deltas = new Map<string, number>()
  /** Last total sent per match (to send only changes). */
  readonly #sent = new Map<string, number>()
  /** Last total read per match. */
  readonly #totals = new Map<string, number>()
  #timers: NodeJS.Timeout[] = []
  #needResync = true
  #flushing: Promise<void> | undefined
  #ticking = false
  #stopped = false
  #offStatus: (() => void) | undefined
  #lastErrorLog = 0

  constructor(options: PresenceTrackerOptions) {
    this.#o = options
  }

  /** Whether presence writes currently succeed (for /readyz and metrics). */
  get healthy(): boolean {
    return !this.#needResync && this.#o.presence.status().type === 'connected'
  }

  get status(): PresenceStatus['type'] {
    const s = this.#o.presence.status().type
    return s === 'connected' && this.#needResync ? 'degraded' : s
  }

  start(): void {
    const o = this.#o
    this.#offStatus = o.presence.onStatus((s) => {
      if (s.type === 'connected') {
        this.#needResync = true
        void this.flush()
      }
    })
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms)
      t.unref()
      this.#timers.push(t)
    }
    every(o.flushMs, () => void this.flush())
    every(o.heartbeatMs, () => void this.#heartbeat())
    every(o.onlineMs, () => void this.tick())
    // Sweeps from every node are safe; spread them so that they rarely coincide.
    every(o.sweepMs + Math.floor(Math.random() * o.sweepMs * 0.2), () => void this.#sweep())
    void this.flush()
  }

  /** A subscription was added (+1) or removed (-1). */
  delta(matchId: string, by: number): void {
    const next = (this.#deltas.get(matchId) ?? 0) + by
    if (next === 0) this.#deltas.delete(matchId)
    else this.#deltas.set(matchId, next)
  }

  /** The best current total for a match, for the `online` frame on subscribe; undefined if unknown yet. */
  onlineFor(matchId: string): number | undefined {
    const total = this.#totals.get(matchId)
    if (total === undefined) return undefined
    return Math.max(0, total + (this.#deltas.get(matchId) ?? 0))
  }

  /** Write pending deltas (or resync the whole node). One flush at a time. */
  flush(): Promise<void> {
    if (this.#flushing) return this.#flushing
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined
    })
    return this.#flushing
  }

  async #flush(): Promise<void> {
    if (this.#stopped) return
    const { presence, nodeId } = this.#o
    if (this.#needResync) {
      if (presence.status().type !== 'connected') return
      // Absolute counts from the hub include every delta so far.
      const counts = new Map<string, number>()
      for (const [m, ch] of this.#o.hub.channels) if (ch.size > 0) counts.set(m, ch.size)
      this.#deltas.clear()
      try {
        await presence.join(this.#info())
        await presence.heartbeat(nodeId, { connections: this.#o.connections() })
        await presence.replaceNode(nodeId, counts)
        this.#needResync = false
      } catch (err) {
        this.#failed(err)
      }
      return
    }
    if (this.#deltas.size === 0) return
    const batch = [...this.#deltas]
    this.#deltas.clear()
    try {
      await Promise.all(batch.map(([m, d]) => (d > 0 ? presence.add(nodeId, m, d) : presence.remove(nodeId, m, -d))))
    } catch (err) {
      // Some may have been applied: only a full rewrite is right again.
      this.#failed(err)
    }
  }

  async #heartbeat(): Promise<void> {
    if (this.#stopped || this.#needResync) return
    try {
      await this.#o.presence.heartbeat(this.#o.nodeId, { connections: this.#o.connections() })
    } catch (err) {
      this.#failed(err)
    }
  }

  async #sweep(): Promise<void> {
    if (this.#stopped || this.#needResync) return
    try {
      const n = await this.#o.presence.sweep()
      if (n > 0) this.#o.log.info({ removed: n }, 'presence sweep removed dead nodes')
    } catch (err) {
      this.#failed(err)
    }
  }

  /** Read totals of the matches watched here; send `online` where the count changed. */
  async tick(): Promise<void> {
    if (this.#stopped || this.#ticking) return
    const hub = this.#o.hub
    const matchIds = [...hub.channels.keys()]
    if (matchIds.length === 0) return
    this.#ticking = true
    try {
      await this.flush()
      const totals = await this.#o.presence.totals(matchIds)
      for (const [matchId, total] of totals) {
        this.#totals.set(matchId, total)
        if (this.#sent.get(matchId) === total) continue
        const ch = hub.channels.get(matchId)
        if (!ch || ch.live.size + ch.joining.size === 0) continue
        this.#sent.set(matchId, total)
        hub.broadcast(matchId, encodeFrame({ type: 'online', matchId, count: total }), true)
      }
      for (const m of this.#sent.keys()) if (!hub.channels.has(m)) this.#sent.delete(m)
      for (const m of this.#totals.keys()) if (!hub.channels.has(m)) this.#totals.delete(m)
    } catch (err) {
      this.#failed(err)
    } finally {
      this.#ticking = false
    }
  }

  /** Clean stop: remove this node's keys at once. */
  async stop(leave = true): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    this.#timers = []
    this.#offStatus?.()
    await this.#flushing?.catch(() => {})
    if (!leave) return
    try {
      await this.#o.presence.leave(this.#o.nodeId)
    } catch (err) {
      this.#o.log.warn({ err }, 'presence leave failed (the node will expire by TTL)')
    }
  }

  #info() {
    const { nodeId, nodeUrl } = this.#o
    return { nodeId, startedAt: this.#startedAt, ...(nodeUrl ? { url: nodeUrl } : {}) }
  }

  #failed(err: unknown): void {
    this.#needResync = true
    this.#o.stats.presenceErrors++
    const now = Date.now()
    if (now - this.#lastErrorLog > 10_000) {
      this.#lastErrorLog = now
      this.#o.log.warn({ err: (err as Error)?.message ?? String(err) }, 'presence unavailable; delivering events without it')
    }
  }
}

/**
 * In-process presence with the same semantics as the Redis store (see types.ts): a node is live
 * while its last heartbeat is younger than `ttlMs`; reads only count live nodes; `sweep` deletes
 * dead nodes' counts; `leave` removes a node at once. Expiry is computed from the clock on read,
 * never with a timer per node, so a test can move time with an injected `now()`.
 */
import { PresenceClosedError } from './errors.ts'
import type { LiveNode, MatchCounts, NodeInfo, NodeStats, PresenceStatus, PresenceStore } from './types.ts'

export interface MemoryPresenceOptions {
  /** A node whose last heartbeat is older than this is dead. Default 6000. */
  ttlMs?: number
  /** How often a node should call `heartbeat`; advice for callers. Default ttlMs / 3. */
  heartbeatMs?: number
  /** Clock in ms since epoch; default Date.now. */
  now?: () => number
}

interface NodeEntry {
  info: NodeInfo
  lastSeen: number
  connections: number
}

export class MemoryPresence implements PresenceStore {
  readonly kind = 'memory' as const
  readonly ttlMs: number
  readonly heartbeatMs: number
  readonly #now: () => number
  /** Heartbeats: present while the node has not left or been swept (liveness is checked on read). */
  readonly #nodes = new Map<string, NodeEntry>()
  /**
   * Count tables per node; may exist without a heartbeat (as a Redis hash outlives its node key).
   * A node with a heartbeat or a table here is "known" (the Redis node set): `sweep` removes it
   * once it is not live.
   */
  readonly #counts = new Map<string, Map<string, number>>()
  /** Last info given to `join`, used when a heartbeat has to re-register a node. */
  readonly #joined = new Map<string, NodeInfo>()
  readonly #listeners = new Set<(status: PresenceStatus) => void>()
  #status: PresenceStatus = { type: 'connected' }

  constructor(options: MemoryPresenceOptions = {}) {
    this.ttlMs = options.ttlMs ?? 6000
    this.heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(this.ttlMs / 3))
    this.#now = options.now ?? Date.now
    if (!(this.ttlMs > 0)) throw new RangeError('ttlMs must be > 0')
  }

  status(): PresenceStatus {
    return this.#status
  }

  onStatus(listener: (status: PresenceStatus) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async join(node: NodeInfo): Promise<void> {
    this.#open()
    const info = { ...node }
    this.#joined.set(node.nodeId, info)
    const prev = this.#nodes.get(node.nodeId)
    this.#nodes.set(node.nodeId, { info, lastSeen: this.#now(), connections: this.#live(prev) ? prev!.connections : 0 })
  }

  async heartbeat(nodeId: string, stats?: NodeStats): Promise<void> {
    this.#open()
    const prev = this.#nodes.get(nodeId)
    const info = this.#joined.get(nodeId) ?? prev?.info ?? { nodeId, startedAt: this.#now() }
    const wasLive = this.#live(prev)
    const connections = stats?.connections ?? (wasLive ? prev!.connections : 0)
    this.#nodes.set(nodeId, { info, lastSeen: this.#now(), connections })
    if (!wasLive) this.#lostNode(nodeId)
  }

  async leave(nodeId: string): Promise<void> {
    this.#open()
    this.#nodes.delete(nodeId)
    this.#counts.delete(nodeId)
    this.#joined.delete(nodeId)
  }

  async add(nodeId: string, matchId: string, by = 1): Promise<void> {
    this.#open()
    checkBy(by)
    if (by === 0) return
    let table = this.#counts.get(nodeId)
    if (!table) {
      table = new Map()
      this.#counts.set(nodeId, table)
    }
    table.set(matchId, (table.get(matchId) ?? 0) + by)
  }

  async remove(nodeId: string, matchId: string, by = 1): Promise<void> {
    this.#open()
    checkBy(by)
    const table = this.#counts.get(nodeId)
    if (!table || by === 0) return
    const next = (table.get(matchId) ?? 0) - by
    if (next > 0) table.set(matchId, next)
    else table.delete(matchId)
    // An empty table stays: the node stays known to `sweep`, as in the Redis node set.
  }

  async replaceNode(nodeId: string, counts: ReadonlyMap<string, number>): Promise<void> {
    this.#open()
    const table = new Map<string, number>()
    for (const [matchId, n] of counts) {
      checkBy(n)
      if (n > 0) table.set(matchId, n)
    }
    this.#counts.set(nodeId, table)
  }

  async counts(matchId: string): Promise<MatchCounts> {
    this.#open()
    const now = this.#now()
    const nodes: Record<string, number> = {}
    let total = 0
    for (const [nodeId, entry] of this.#nodes) {
      if (!this.#live(entry, now)) continue
      const n = this.#counts.get(nodeId)?.get(matchId) ?? 0
      if (n > 0) {
        nodes[nodeId] = n
        total += n
      }
    }
    return { total, nodes }
  }

  async totals(matchIds: readonly string[]): Promise<Map<string, number>> {
    this.#open()
    const now = this.#now()
    const out = new Map<string, number>()
    for (const matchId of matchIds) out.set(matchId, 0)
    for (const [nodeId, entry] of this.#nodes) {
      if (!this.#live(entry, now)) continue
      const table = this.#counts.get(nodeId)
      if (!table) continue
      for (const matchId of matchIds) out.set(matchId, (out.get(matchId) ?? 0) + (table.get(matchId) ?? 0))
    }
    return out
  }

  async liveNodes(): Promise<LiveNode[]> {
    this.#open()
    const now = this.#now()
    const out: LiveNode[] = []
    for (const entry of this.#nodes.values()) {
      if (this.#live(entry, now)) out.push({ ...entry.info, lastSeen: entry.lastSeen, connections: entry.connections })
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
  }

  async sweep(): Promise<number> {
    this.#open()
    const now = this.#now()
    let removed = 0
    // A node is known if it has a heartbeat entry or a count table (as in the Redis node set).
    for (const nodeId of new Set([...this.#nodes.keys(), ...this.#counts.keys()])) {
      if (this.#live(this.#nodes.get(nodeId), now)) continue
      this.#nodes.delete(nodeId)
      this.#counts.delete(nodeId)
      removed++
    }
    return removed
  }

  async close(): Promise<void> {
    if (this.#status.type === 'closed') return
    this.#setStatus({ type: 'closed' })
    this.#listeners.clear()
  }

  /**
   * A heartbeat found its node not live (expired, swept, left, or never joined): its counts may
   * be gone. Same signal as the Redis store: a short degraded -> connected transition, on which
   * the node's owner rewrites its table with `replaceNode`.
   */
  #lostNode(nodeId: string): void {
    if (this.#status.type !== 'connected') return
    this.#setStatus({ type: 'degraded', since: this.#now(), error: `node ${nodeId} had expired; its counts may be lost` })
    this.#setStatus({ type: 'connected' })
  }

  #live(entry: NodeEntry | undefined, now = this.#now()): boolean {
    return entry !== undefined && now - entry.lastSeen < this.ttlMs
  }

  #open(): void {
    if (this.#status.type === 'closed') throw new PresenceClosedError()
  }

  #setStatus(status: PresenceStatus): void {
    this.#status = status
    for (const l of [...this.#listeners]) {
      try {
        l(status)
      } catch {}
    }
  }
}

function checkBy(by: number): void {
  if (!Number.isSafeInteger(by) || by < 0) throw new RangeError(`count must be a non-negative integer, got ${by}`)
}

/**
 * Who is watching, kept per gateway node so that counts heal by themselves.
 *
 * Every gateway node registers itself with `join` and refreshes a heartbeat at least every
 * `heartbeatMs`; a node whose heartbeat is older than `ttlMs` is dead: its counts no longer show
 * in any read, and `sweep` (safe to run from every node at once) deletes its keys. A clean stop
 * calls `leave`, which removes the node's keys at once.
 *
 * Counts are per (node, match). `add`/`remove` change them by one, atomically, so concurrent
 * changes from many connections stay exact. `replaceNode` writes a node's whole table at once:
 * a gateway calls it after the store came back (e.g. Redis restarted and lost its data) so the
 * counts are right again without a restart.
 */
export interface NodeInfo {
  nodeId: string
  /** Where the node can be reached for health checks, e.g. http://127.0.0.1:8081 */
  url?: string
  startedAt: number
}

export interface NodeStats {
  /** open WebSocket connections on the node */
  connections: number
}

export interface LiveNode extends NodeInfo {
  /** ms since epoch of the last heartbeat */
  lastSeen: number
  /** as reported with the last heartbeat */
  connections: number
}

export interface MatchCounts {
  total: number
  nodes: Record<string, number>
}

export type PresenceStatus = { type: 'connected' } | { type: 'degraded'; since: number; error?: string } | { type: 'closed' }

export interface PresenceStore {
  readonly kind: 'memory' | 'redis'
  readonly ttlMs: number
  status(): PresenceStatus
  onStatus(listener: (status: PresenceStatus) => void): () => void

  /** Register the node (or refresh its info) and record a heartbeat. */
  join(node: NodeInfo): Promise<void>
  /** Refresh the node's heartbeat (and its reported stats). */
  heartbeat(nodeId: string, stats?: NodeStats): Promise<void>
  /** Remove the node and all its counts at once (clean stop). */
  leave(nodeId: string): Promise<void>

  add(nodeId: string, matchId: string, by?: number): Promise<void>
  remove(nodeId: string, matchId: string, by?: number): Promise<void>
  /** Replace the node's whole count table (matches absent from `counts` become 0). */
  replaceNode(nodeId: string, counts: ReadonlyMap<string, number>): Promise<void>

  /** Total over live nodes, and per live node (nodes with 0 are left out). */
  counts(matchId: string): Promise<MatchCounts>
  /** Totals for many matches in one round trip. */
  totals(matchIds: readonly string[]): Promise<Map<string, number>>
  liveNodes(): Promise<LiveNode[]>
  /** Delete keys of nodes whose heartbeat expired; returns how many nodes were removed. */
  sweep(): Promise<number>

  close(): Promise<void>
}

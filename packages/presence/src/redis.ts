/**
 * Presence in Redis, per node (see README.md for the key layout and figures).
 *
 *   {<p>}:nodes        set of node ids that have (or had) keys
 *   {<p>}:node:<id>    heartbeat: node JSON (info, lastSeen, connections), PX ttlMs
 *   {<p>}:pc:<id>      hash: match id -> count on that node
 *
 * A node is live while its heartbeat key exists, so Redis itself decides liveness by TTL; reads
 * (Lua scripts in ./lua) only sum over live nodes and never wait on other gateways. All keys share
 * the `{<p>}` hash tag, so every script touches one Redis Cluster slot.
 *
 * Failure behaviour: ioredis reconnects forever; while it is not connected every call rejects at
 * once with PresenceUnavailableError (no offline queue, no resend of unanswered commands, and a
 * command timeout for a connection that hangs). status() is `degraded` meanwhile and `connected`
 * again on reconnect; listeners then rewrite their node with `replaceNode` (Redis may have lost
 * everything).
 */
import { readFileSync } from 'node:fs'
import { type Cluster, Redis, type RedisOptions } from 'ioredis'
import { PresenceClosedError, PresenceUnavailableError } from './errors.ts'
import type { LiveNode, MatchCounts, NodeInfo, NodeStats, PresenceStatus, PresenceStore } from './types.ts'

export interface RedisPresenceOptions {
  /** Key prefix; becomes the hash tag `{prefix}`. Default `touchline:presence`. */
  prefix?: string
  /** Heartbeat key TTL: a node silent for this long drops out of every count. Default 6000. */
  ttlMs?: number
  /** How often a node should call `heartbeat` (advice for callers). Default ttlMs / 3. */
  heartbeatMs?: number
  /** A command not answered within this rejects (and marks the store degraded). Default 1000. */
  commandTimeoutMs?: number
  /** Upper bound of the reconnect back-off. Default 2000. */
  reconnectMaxDelayMs?: number
}

export interface ConnectRedisPresenceOptions extends RedisPresenceOptions {
  url: string
  /**
   * How long `connectRedisPresence` waits for the first connection. If Redis does not answer in
   * time the store is returned anyway, `degraded`, and keeps reconnecting. Default 5000.
   */
  connectTimeoutMs?: number
  /** Extra ioredis options (the failure-behaviour ones above win). */
  redis?: RedisOptions
}

function lua(name: string): string {
  return readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8')
}

/** Script name -> number of KEYS. Loaded once per process. */
const SCRIPTS = {
  heartbeat: 2,
  leave: 3,
  change: 2,
  replace: 2,
  counts: 1,
  totals: 1,
  nodes: 1,
  sweep: 1,
} as const
type ScriptName = keyof typeof SCRIPTS
const SOURCES = Object.fromEntries(Object.keys(SCRIPTS).map((n) => [n, lua(n)])) as Record<ScriptName, string>
const COMMAND = (name: ScriptName) => `touchlinePresence_${name}`

type Arg = string | number
type ScriptedRedis = (Redis | Cluster) & Record<string, (...args: Arg[]) => Promise<unknown>>

/** ioredis options that make calls fail fast while Redis is away; exported for the tests. */
export function failFastOptions(commandTimeoutMs: number, reconnectMaxDelayMs: number): RedisOptions {
  return {
    // Reject at once while not connected instead of queueing until Redis is back.
    enableOfflineQueue: false,
    // Commands in flight when the connection drops are rejected, never replayed (a replayed
    // HINCRBY could count twice).
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // A half-open connection: nothing answers, so the timeout rejects.
    commandTimeout: commandTimeoutMs,
    // Reconnect forever with a capped back-off.
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), reconnectMaxDelayMs),
    connectTimeout: Math.max(commandTimeoutMs, 1000),
  }
}

export class RedisPresence implements PresenceStore {
  readonly kind = 'redis' as const
  readonly ttlMs: number
  readonly heartbeatMs: number
  readonly prefix: string
  readonly #redis: ScriptedRedis
  readonly #ownsClient: boolean
  readonly #keys: { nodes: string; node: string; pc: string }
  readonly #listeners = new Set<(status: PresenceStatus) => void>()
  /** What this process told us about its nodes: re-sent with every heartbeat. */
  readonly #local = new Map<string, { info: NodeInfo; connections: number }>()
  #status: PresenceStatus
  #lastError: string | undefined
  /** Degraded because a command timed out on an open connection (not because it closed). */
  #timedOut = false

  /**
   * Wrap an ioredis client. It should be created with `failFastOptions(...)` (as
   * `connectRedisPresence` does), or calls may wait while Redis is down. A Cluster client works
   * in principle (every key of a prefix is in one slot) but is not covered by the tests.
   */
  constructor(redis: Redis | Cluster, options: RedisPresenceOptions & { ownsClient?: boolean } = {}) {
    this.prefix = options.prefix ?? 'touchline:presence'
    if (/[{}]/.test(this.prefix)) throw new RangeError('prefix must not contain { or }')
    this.ttlMs = options.ttlMs ?? 6000
    this.heartbeatMs = options.heartbeatMs ?? Math.max(1, Math.floor(this.ttlMs / 3))
    if (!(this.ttlMs > 0)) throw new RangeError('ttlMs must be > 0')
    if (!(this.heartbeatMs > 0 && this.heartbeatMs < this.ttlMs)) throw new RangeError('heartbeatMs must be > 0 and < ttlMs')
    const tag = `{${this.prefix}}`
    this.#keys = { nodes: `${tag}:nodes`, node: `${tag}:node:`, pc: `${tag}:pc:` }
    this.#ownsClient = options.ownsClient ?? false
    this.#redis = redis as ScriptedRedis
    for (const [name, numberOfKeys] of Object.entries(SCRIPTS) as [ScriptName, number][]) {
      if (typeof this.#redis[COMMAND(name)] !== 'function') {
        redis.defineCommand(COMMAND(name), { lua: SOURCES[name], numberOfKeys })
      }
    }
    this.#status = redis.status === 'ready' ? { type: 'connected' } : { type: 'degraded', since: Date.now(), error: 'connecting' }
    // Listeners first, before anything can happen on the connection.
    redis.on('ready', this.#onReady)
    redis.on('close', this.#onClose)
    redis.on('end', this.#onClose)
    redis.on('error', this.#onError)
  }

  status(): PresenceStatus {
    return this.#status
  }

  onStatus(listener: (status: PresenceStatus) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  async join(node: NodeInfo): Promise<void> {
    const prev = this.#local.get(node.nodeId)
    const entry = { info: { ...node }, connections: prev?.connections ?? 0 }
    this.#local.set(node.nodeId, entry)
    await this.#beat(node.nodeId, entry)
  }

  async heartbeat(nodeId: string, stats?: NodeStats): Promise<void> {
    let entry = this.#local.get(nodeId)
    if (!entry) {
      entry = { info: { nodeId, startedAt: Date.now() }, connections: 0 }
      this.#local.set(nodeId, entry)
    }
    if (stats) entry.connections = stats.connections
    const wasLive = await this.#beat(nodeId, entry)
    if (!wasLive) this.#lostNode(nodeId)
  }

  async leave(nodeId: string): Promise<void> {
    this.#local.delete(nodeId)
    await this.#call('leave', this.#keys.nodes, this.#keys.node + nodeId, this.#keys.pc + nodeId, nodeId)
  }

  async add(nodeId: string, matchId: string, by = 1): Promise<void> {
    checkCount(by)
    if (by === 0) return
    await this.#call('change', this.#keys.nodes, this.#keys.pc + nodeId, nodeId, matchId, by)
  }

  async remove(nodeId: string, matchId: string, by = 1): Promise<void> {
    checkCount(by)
    if (by === 0) return
    await this.#call('change', this.#keys.nodes, this.#keys.pc + nodeId, nodeId, matchId, -by)
  }

  async replaceNode(nodeId: string, counts: ReadonlyMap<string, number>): Promise<void> {
    const args: Arg[] = []
    for (const [matchId, n] of counts) {
      checkCount(n)
      if (n > 0) args.push(matchId, n)
    }
    await this.#call('replace', this.#keys.nodes, this.#keys.pc + nodeId, nodeId, ...args)
  }

  async counts(matchId: string): Promise<MatchCounts> {
    const flat = (await this.#call('counts', this.#keys.nodes, this.#keys.node, this.#keys.pc, matchId)) as Arg[]
    const nodes: Record<string, number> = {}
    let total = 0
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const n = Number(flat[i + 1])
      nodes[String(flat[i])] = n
      total += n
    }
    return { total, nodes }
  }

  async totals(matchIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    if (matchIds.length === 0) return out
    const sums = (await this.#call('totals', this.#keys.nodes, this.#keys.node, this.#keys.pc, ...matchIds)) as Arg[]
    // Duplicate ids get the same total; Map keeps the first position.
    for (const [i, id] of matchIds.entries()) out.set(id, Number(sums[i] ?? 0))
    return out
  }

  async liveNodes(): Promise<LiveNode[]> {
    const raw = (await this.#call('nodes', this.#keys.nodes, this.#keys.node)) as string[]
    const out: LiveNode[] = []
    for (const json of raw) {
      try {
        out.push(JSON.parse(json) as LiveNode)
      } catch {
        // A foreign or corrupt value under our prefix is not a node.
      }
    }
    return out.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
  }

  async sweep(): Promise<number> {
    return Number(await this.#call('sweep', this.#keys.nodes, this.#keys.node, this.#keys.pc))
  }

  async close(): Promise<void> {
    if (this.#status.type === 'closed') return
    this.#setStatus({ type: 'closed' })
    this.#listeners.clear()
    this.#redis.off('ready', this.#onReady)
    this.#redis.off('close', this.#onClose)
    this.#redis.off('end', this.#onClose)
    if (!this.#ownsClient) {
      this.#redis.off('error', this.#onError)
      return
    }
    try {
      if (this.#redis.status === 'ready') await this.#redis.quit()
      else this.#redis.disconnect()
    } catch {
      this.#redis.disconnect()
    }
    this.#redis.off('error', this.#onError)
  }

  /** Write the node's heartbeat key; resolves to whether the node was live before. */
  async #beat(nodeId: string, entry: { info: NodeInfo; connections: number }): Promise<boolean> {
    const value: LiveNode = { ...entry.info, nodeId, lastSeen: Date.now(), connections: entry.connections }
    const existed = await this.#call('heartbeat', this.#keys.nodes, this.#keys.node + nodeId, nodeId, JSON.stringify(value), this.ttlMs)
    return Number(existed) === 1
  }

  /**
   * The node's heartbeat had expired (a stall longer than the TTL, or Redis lost its data
   * without us seeing a disconnect), so its counts may have been swept. Report it as a short
   * degraded -> connected transition: the same signal as a reconnect, on which the owner of the
   * node rewrites its table with `replaceNode`.
   */
  #lostNode(nodeId: string): void {
    if (this.#status.type !== 'connected') return
    this.#setStatus({ type: 'degraded', since: Date.now(), error: `node ${nodeId} had expired; its counts may be lost` })
    this.#setStatus({ type: 'connected' })
  }

  async #call(name: ScriptName, ...args: Arg[]): Promise<unknown> {
    if (this.#status.type === 'closed') throw new PresenceClosedError()
    const fn = this.#redis[COMMAND(name)]!
    try {
      const reply = await fn.apply(this.#redis, args)
      // A command that succeeds after a timeout proves the connection works again.
      if (this.#timedOut && this.#status.type === 'degraded' && this.#redis.status === 'ready') {
        this.#timedOut = false
        this.#setStatus({ type: 'connected' })
      }
      return reply
    } catch (err) {
      if (isReplyError(err)) throw err
      const message = (err as Error)?.message ?? String(err)
      if (/timed out/i.test(message) && this.#status.type === 'connected') {
        this.#timedOut = true
        this.#setStatus({ type: 'degraded', since: Date.now(), error: message })
      }
      throw new PresenceUnavailableError(`presence: Redis unavailable (${message})`, { cause: err })
    }
  }

  readonly #onReady = () => {
    this.#lastError = undefined
    this.#timedOut = false
    if (this.#status.type === 'connected') return
    // Redis may have restarted empty: first re-register this process's nodes (their heartbeat
    // keys, with the info given to `join`), then report `connected`, on which their owners
    // rewrite the counts with `replaceNode` and find the node already live.
    const nodes = [...this.#local.entries()]
    void Promise.allSettled(nodes.map(([id, entry]) => this.#beat(id, entry))).then(() => {
      if (this.#status.type === 'degraded' && this.#redis.status === 'ready') this.#setStatus({ type: 'connected' })
    })
  }

  readonly #onClose = () => {
    this.#timedOut = false
    if (this.#status.type === 'connected') {
      this.#setStatus({ type: 'degraded', since: Date.now(), error: this.#lastError ?? 'connection closed' })
    }
  }

  readonly #onError = (err: Error) => {
    this.#lastError = err.message
  }

  #setStatus(status: PresenceStatus): void {
    if (this.#status.type === 'closed') {
      if (status.type !== 'closed') return
    }
    this.#status = status
    for (const l of [...this.#listeners]) {
      try {
        l(status)
      } catch {}
    }
  }
}

/**
 * Connect to Redis and return a presence store. Waits for the first connection up to
 * `connectTimeoutMs`; after that it returns a `degraded` store that keeps reconnecting.
 */
export async function connectRedisPresence(options: ConnectRedisPresenceOptions): Promise<RedisPresence> {
  const commandTimeoutMs = options.commandTimeoutMs ?? 1000
  const redis = new Redis(options.url, {
    ...options.redis,
    ...failFastOptions(commandTimeoutMs, options.reconnectMaxDelayMs ?? 2000),
    lazyConnect: true,
  })
  const store = new RedisPresence(redis, { ...options, ownsClient: true })
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000
  let timer: NodeJS.Timeout | undefined
  let onReady: (() => void) | undefined
  const ready = new Promise<void>((resolve) => {
    onReady = resolve
    redis.once('ready', resolve)
    timer = setTimeout(resolve, connectTimeoutMs)
  })
  // A refused first attempt rejects connect(), but ioredis keeps retrying by retryStrategy.
  redis.connect().catch(() => {})
  await ready
  clearTimeout(timer)
  redis.off('ready', onReady!)
  return store
}

function checkCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`count must be a non-negative integer, got ${n}`)
}

function isReplyError(err: unknown): boolean {
  return err instanceof Error && err.name === 'ReplyError'
}

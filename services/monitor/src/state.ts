/**
 * Where the monitor keeps each target's decided state and its last alert, so that a restarted
 * monitor carries on where it stopped: a target that was down and still is does not alert `down`
 * again, and reminders keep their rhythm.
 *
 * The memory store lives as long as the process; the Redis store keeps one hash
 * (`<prefix>:targets`, field = target name, value = JSON) and survives restarts. Redis being away
 * never stops the monitor: writes that fail are kept and written again once Redis answers.
 */
import { Redis } from 'ioredis'
import type { AlertType, AnyKind, TargetState } from './types.ts'

export interface PersistedTarget {
  state: TargetState
  /** ms since epoch the target entered `state`. */
  since: number
  lastError?: string
  /** The last alert made for this target and when (reminders count from it). */
  alertedType?: AlertType
  alertedAt?: number
  kind: AnyKind
  target: string
  discovered: boolean
  node?: string
  /** Discovered node that vanished from presence without leaving: kept watched since then. */
  lostSince?: number
}

export interface StateStore {
  readonly kind: 'memory' | 'redis'
  load(): Promise<Map<string, PersistedTarget>>
  save(name: string, value: PersistedTarget): Promise<void>
  delete(name: string): Promise<void>
  /** ok = the store is reachable and every write so far reached it. */
  health(): { ok: boolean; error?: string }
  close(): Promise<void>
}

export class MemoryStateStore implements StateStore {
  readonly kind = 'memory' as const
  readonly #map = new Map<string, PersistedTarget>()

  async load(): Promise<Map<string, PersistedTarget>> {
    return new Map([...this.#map].map(([k, v]) => [k, { ...v }]))
  }

  async save(name: string, value: PersistedTarget): Promise<void> {
    this.#map.set(name, { ...value })
  }

  async delete(name: string): Promise<void> {
    this.#map.delete(name)
  }

  health(): { ok: boolean; error?: string } {
    return { ok: true }
  }

  async close(): Promise<void> {}
}

export interface RedisStateOptions {
  url: string
  /** Key prefix; the hash is `<prefix>:targets`. */
  prefix: string
  commandTimeoutMs?: number
  connectTimeoutMs?: number
}

export class RedisStateStore implements StateStore {
  readonly kind = 'redis' as const
  readonly #redis: Redis
  readonly #key: string
  /** Writes not yet in Redis (undefined = a delete). */
  readonly #dirty = new Map<string, PersistedTarget | undefined>()
  #error: string | undefined
  #chain: Promise<void> = Promise.resolve()

  constructor(redis: Redis, prefix: string) {
    this.#redis = redis
    this.#key = `${prefix}:targets`
    redis.on('ready', () => {
      void this.#flush()
    })
    redis.on('error', (err: Error) => {
      this.#error = err.message
    })
  }

  async load(): Promise<Map<string, PersistedTarget>> {
    const all = await this.#redis.hgetall(this.#key)
    const out = new Map<string, PersistedTarget>()
    for (const [name, json] of Object.entries(all)) {
      try {
        out.set(name, JSON.parse(json) as PersistedTarget)
      } catch {}
    }
    return out
  }

  async save(name: string, value: PersistedTarget): Promise<void> {
    this.#dirty.set(name, { ...value })
    await this.#flush()
  }

  async delete(name: string): Promise<void> {
    this.#dirty.set(name, undefined)
    await this.#flush()
  }

  health(): { ok: boolean; error?: string } {
    // Not connected is a problem before any write fails: the next alert's state would not be kept.
    const status = this.#redis.status
    if (status !== 'ready') return { ok: false, error: `Redis ${status}${this.#error ? `: ${this.#error}` : ''}` }
    return this.#dirty.size === 0 ? { ok: true } : { ok: false, error: this.#error ?? 'writes pending' }
  }

  /**
   * Write every pending change; on failure keep them for the next attempt (never throws). Writes
   * are chained, so each caller's promise settles after a write that included its change.
   */
  #flush(): Promise<void> {
    const next = this.#chain.then(() => this.#write())
    this.#chain = next
    return next
  }

  async #write(): Promise<void> {
    if (this.#dirty.size === 0) return
    const batch = [...this.#dirty]
    try {
      const multi = this.#redis.multi()
      for (const [name, v] of batch) {
        if (v === undefined) multi.hdel(this.#key, name)
        else multi.hset(this.#key, name, JSON.stringify(v))
      }
      await multi.exec()
      for (const [name, v] of batch) if (this.#dirty.get(name) === v) this.#dirty.delete(name)
      this.#error = undefined
    } catch (err) {
      this.#error = (err as Error).message
    }
  }

  async close(): Promise<void> {
    await this.#flush()
    this.#redis.disconnect()
  }
}

/**
 * Connect to Redis for the state. Waits up to `connectTimeoutMs` for the first connection; after
 * that the store is returned anyway and keeps reconnecting (writes are kept until then).
 */
export async function connectRedisState(options: RedisStateOptions): Promise<RedisStateStore> {
  const redis = new Redis(options.url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMs ?? 1000,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 10), 2000),
  })
  const store = new RedisStateStore(redis, options.prefix)
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, options.connectTimeoutMs ?? 5000)
    redis.once('ready', () => {
      clearTimeout(timer)
      resolve()
    })
    redis.connect().catch(() => {})
  })
  return store
}

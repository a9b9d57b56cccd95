/**
 * Token buckets shared by every gateway through Redis: one Lua script reads, refills, spends and
 * writes a bucket atomically, so concurrent takes from many processes never over-spend. The
 * bucket key expires when the bucket would be full again, so idle buckets vanish by themselves.
 *
 * When Redis is down the limiter FAILS OPEN, to a local bucket: each call that cannot reach Redis
 * is answered by a per-process MemoryRateLimiter with the same spec. Why not fail closed: the
 * limiter guards chat and posting against floods; refusing everyone because a cache is away
 * would turn a Redis outage into a chat outage for every spectator. Why not plain fail open: a
 * flood during the outage would pass unchecked. A spectator is on one socket, so one gateway, and
 * the local bucket still limits it; the worst case is a client spreading over N gateways getting
 * N buckets' worth for the length of the outage. `onFallback` reports when this happens.
 */
import { readFileSync } from 'node:fs'
import { Redis, type RedisOptions } from 'ioredis'
import { checkSpec } from './bucket.ts'
import { MemoryRateLimiter } from './memory.ts'
import type { BucketSpec, RateLimiter, TakeResult } from './types.ts'

const TAKE = readFileSync(new URL('./lua/take.lua', import.meta.url), 'utf8')
const COMMAND = 'touchlineRateLimitTake'

export interface RedisRateLimiterOptions {
  /** Key prefix; a bucket is `<prefix>:<key>`. Default `touchline:rl`. */
  prefix?: string
  /**
   * Clock in ms. Default: none, the script reads the Redis server's TIME, so every gateway uses
   * the same clock. Pass one only for tests.
   */
  now?: () => number
  /** Called with the error whenever a take was answered by the local fallback bucket. */
  onFallback?: (err: Error) => void
}

export interface ConnectRedisRateLimiterOptions extends RedisRateLimiterOptions {
  url: string
  /** A take not answered within this falls back to the local bucket. Default 500. */
  commandTimeoutMs?: number
  /** Upper bound of the reconnect back-off. Default 2000. */
  reconnectMaxDelayMs?: number
  /** How long to wait for the first connection. Default 5000. */
  connectTimeoutMs?: number
  /** Extra ioredis options (the fail-fast ones win). */
  redis?: RedisOptions
}

type TakeCommand = (key: string, capacity: number, refillPerSec: number, cost: number, now: string) => Promise<[number, number]>

export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis' as const
  readonly prefix: string
  readonly #redis: Redis
  readonly #take: TakeCommand
  readonly #ownsClient: boolean
  readonly #now: (() => number) | undefined
  readonly #onFallback: ((err: Error) => void) | undefined
  readonly #local: MemoryRateLimiter
  #closed = false

  /** Wrap an ioredis client; create it with fail-fast options (see `connectRedisRateLimiter`). */
  constructor(redis: Redis, options: RedisRateLimiterOptions & { ownsClient?: boolean } = {}) {
    this.prefix = options.prefix ?? 'touchline:rl'
    this.#redis = redis
    this.#ownsClient = options.ownsClient ?? false
    this.#now = options.now
    this.#onFallback = options.onFallback
    this.#local = new MemoryRateLimiter(options.now ? { now: options.now } : {})
    const r = redis as unknown as Record<string, unknown>
    if (typeof r[COMMAND] !== 'function') redis.defineCommand(COMMAND, { lua: TAKE, numberOfKeys: 1 })
    this.#take = (r[COMMAND] as TakeCommand).bind(redis)
    // Without a listener ioredis reports connection errors as unhandled 'error' events.
    redis.on('error', noop)
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<TakeResult> {
    if (this.#closed) throw new Error('rate limiter is closed')
    checkSpec(spec, cost)
    const now = this.#now ? String(Math.round(this.#now())) : ''
    try {
      const [ok, n] = await this.#take(`${this.prefix}:${key}`, spec.capacity, spec.refillPerSec, cost, now)
      return Number(ok) === 1 ? { ok: true, remaining: Number(n) } : { ok: false, retryAfterMs: Number(n) }
    } catch (err) {
      if (err instanceof Error && err.name === 'ReplyError') throw err
      this.#onFallback?.(err as Error)
      return this.#local.takeSync(key, spec, cost)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#local.close()
    if (this.#ownsClient) {
      try {
        if (this.#redis.status === 'ready') await this.#redis.quit()
        else this.#redis.disconnect()
      } catch {
        this.#redis.disconnect()
      }
    }
    this.#redis.off('error', noop)
  }
}

/**
 * Connect to Redis and return a shared limiter. Waits for the first connection up to
 * `connectTimeoutMs` (default 5000); if Redis does not answer by then, the limiter is returned
 * anyway, answers from the local fallback and keeps reconnecting.
 */
export async function connectRedisRateLimiter(options: ConnectRedisRateLimiterOptions): Promise<RedisRateLimiter> {
  const maxDelay = options.reconnectMaxDelayMs ?? 2000
  const redis = new Redis(options.url, {
    ...options.redis,
    // Fail fast while Redis is away, so the fallback answers at once; never replay a take.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs ?? 500,
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
    lazyConnect: true,
  })
  const limiter = new RedisRateLimiter(redis, { ...options, ownsClient: true })
  let timer: NodeJS.Timeout | undefined
  let onReady: (() => void) | undefined
  await new Promise<void>((resolve) => {
    onReady = resolve
    redis.once('ready', resolve)
    timer = setTimeout(resolve, options.connectTimeoutMs ?? 5000)
    redis.connect().catch(() => {})
  })
  clearTimeout(timer)
  redis.off('ready', onReady!)
  return limiter
}

function noop(): void {}

/**
 * Token buckets in this process. Buckets that are full again are forgotten (an absent bucket is a
 * full one), pruned now and then on `take`, so idle keys do not pile up; no timers.
 */
import { checkSpec, msUntilFull, takeFrom, type BucketState } from './bucket.ts'
import type { BucketSpec, RateLimiter, TakeResult } from './types.ts'

export interface MemoryRateLimiterOptions {
  /** Clock in ms; default Date.now. */
  now?: () => number
}

interface Entry extends BucketState {
  /** When the bucket is full again and can be dropped. */
  fullAt: number
}

export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory' as const
  readonly #now: () => number
  readonly #buckets = new Map<string, Entry>()
  #takesSincePrune = 0
  #closed = false

  constructor(options: MemoryRateLimiterOptions = {}) {
    this.#now = options.now ?? Date.now
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<TakeResult> {
    return this.takeSync(key, spec, cost)
  }

  /** The same as `take`, without a promise (the Redis limiter's fallback uses it). */
  takeSync(key: string, spec: BucketSpec, cost = 1): TakeResult {
    if (this.#closed) throw new Error('rate limiter is closed')
    checkSpec(spec, cost)
    const now = this.#now()
    const prev = this.#buckets.get(key)
    const [result, state] = takeFrom(prev && prev.fullAt > now ? prev : undefined, spec, cost, now)
    this.#buckets.set(key, { ...state, fullAt: now + msUntilFull(state.tokens, spec) })
    if (++this.#takesSincePrune >= 1000) this.#prune(now)
    return result
  }

  /** Buckets currently remembered (full ones may linger until the next prune). */
  get size(): number {
    return this.#buckets.size
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#buckets.clear()
  }

  #prune(now: number): void {
    this.#takesSincePrune = 0
    for (const [key, e] of this.#buckets) if (e.fullAt <= now) this.#buckets.delete(key)
  }
}

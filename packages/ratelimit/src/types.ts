/**
 * Token buckets keyed by a string (a user, a connection, an address). `capacity` tokens at most,
 * refilled at `refillPerSec`; `take` spends `cost` tokens if there are enough. The Redis
 * implementation shares buckets across every gateway; the memory one is per process.
 */
export interface BucketSpec {
  capacity: number
  refillPerSec: number
}

export type TakeResult = { ok: true; remaining: number } | { ok: false; retryAfterMs: number }

export interface RateLimiter {
  readonly kind: 'memory' | 'redis'
  take(key: string, spec: BucketSpec, cost?: number): Promise<TakeResult>
  close(): Promise<void>
}

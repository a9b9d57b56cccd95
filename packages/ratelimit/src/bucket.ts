/**
 * Token-bucket arithmetic shared by the memory limiter and mirrored by lua/take.lua: a bucket
 * holds `tokens` as of `at` (ms); it refills continuously at `refillPerSec` up to `capacity`.
 * An absent bucket is a full one, so idle buckets can be dropped (memory) or expire (Redis).
 */
import type { BucketSpec, TakeResult } from './types.ts'

export interface BucketState {
  tokens: number
  at: number
}

export function checkSpec(spec: BucketSpec, cost: number): void {
  if (!(Number.isFinite(spec.capacity) && spec.capacity > 0)) throw new RangeError(`capacity must be > 0, got ${spec.capacity}`)
  if (!(Number.isFinite(spec.refillPerSec) && spec.refillPerSec > 0)) {
    throw new RangeError(`refillPerSec must be > 0, got ${spec.refillPerSec}`)
  }
  if (!(Number.isFinite(cost) && cost >= 0)) throw new RangeError(`cost must be >= 0, got ${cost}`)
  // A cost above capacity could never succeed: a caller bug, not a rate-limit answer.
  if (cost > spec.capacity) throw new RangeError(`cost ${cost} exceeds capacity ${spec.capacity}`)
}

/** Spend `cost` from `state` (undefined = full) at time `now`; returns the result and the new state. */
export function takeFrom(state: BucketState | undefined, spec: BucketSpec, cost: number, now: number): [TakeResult, BucketState] {
  let tokens = spec.capacity
  if (state) {
    // A clock that went backwards (another host, NTP step) refills nothing rather than draining.
    const elapsed = Math.max(0, now - state.at)
    tokens = Math.min(spec.capacity, state.tokens + (elapsed * spec.refillPerSec) / 1000)
  }
  if (tokens >= cost) {
    tokens -= cost
    return [
      { ok: true, remaining: Math.floor(tokens) },
      { tokens, at: now },
    ]
  }
  const retryAfterMs = Math.max(1, Math.ceil(((cost - tokens) * 1000) / spec.refillPerSec))
  return [
    { ok: false, retryAfterMs },
    { tokens, at: now },
  ]
}

/** How long until a bucket with `tokens` is full again (after that it can be forgotten). */
export function msUntilFull(tokens: number, spec: BucketSpec): number {
  return Math.ceil(((spec.capacity - tokens) * 1000) / spec.refillPerSec)
}

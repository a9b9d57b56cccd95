/**
 * The behaviour every RateLimiter must have, as vitest suites taking a factory: run on memory by
 * memory.test.ts and on a real Redis by redis.int.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { RateLimiter } from './types.ts'

export interface RateLimiterHarness {
  limiter: RateLimiter
  /** Move the limiter's clock forward (every limiter of the harness shares it). */
  advance(ms: number): Promise<void>
  /** Another limiter on the same buckets (another gateway); default: the same limiter. */
  peer?(): Promise<RateLimiter>
  cleanup(): Promise<void>
}

export function rateLimiterContract(make: () => Promise<RateLimiterHarness>): void {
  const run = (fn: (h: RateLimiterHarness) => Promise<void>) => async () => {
    const h = await make()
    try {
      await fn(h)
    } finally {
      await h.cleanup()
    }
  }

  describe('rate limiter contract', () => {
    it(
      'a new bucket is full; capacity is respected; remaining counts down',
      run(async ({ limiter }) => {
        const spec = { capacity: 3, refillPerSec: 1 }
        expect(await limiter.take('u1', spec)).toEqual({ ok: true, remaining: 2 })
        expect(await limiter.take('u1', spec)).toEqual({ ok: true, remaining: 1 })
        expect(await limiter.take('u1', spec)).toEqual({ ok: true, remaining: 0 })
        expect((await limiter.take('u1', spec)).ok).toBe(false)
        // Other keys have their own bucket.
        expect(await limiter.take('u2', spec)).toEqual({ ok: true, remaining: 2 })
      }),
    )

    it(
      'cost spends several tokens; a refused take spends nothing',
      run(async ({ limiter }) => {
        const spec = { capacity: 10, refillPerSec: 1 }
        expect(await limiter.take('k', spec, 7)).toEqual({ ok: true, remaining: 3 })
        expect((await limiter.take('k', spec, 4)).ok).toBe(false)
        expect(await limiter.take('k', spec, 3)).toEqual({ ok: true, remaining: 0 })
        expect(await limiter.take('k', spec, 0)).toEqual({ ok: true, remaining: 0 })
        await expect(limiter.take('k', spec, 11)).rejects.toThrow(RangeError)
        await expect(limiter.take('k', { capacity: 0, refillPerSec: 1 })).rejects.toThrow(RangeError)
      }),
    )

    it(
      'refills over time, never above capacity',
      run(async ({ limiter, advance }) => {
        const spec = { capacity: 4, refillPerSec: 2 }
        for (let i = 0; i < 4; i++) expect((await limiter.take('r', spec)).ok).toBe(true)
        expect((await limiter.take('r', spec)).ok).toBe(false)
        await advance(1000) // +2 tokens
        expect(await limiter.take('r', spec)).toEqual({ ok: true, remaining: 1 })
        expect(await limiter.take('r', spec)).toEqual({ ok: true, remaining: 0 })
        expect((await limiter.take('r', spec)).ok).toBe(false)
        await advance(60_000) // far more than needed: back to capacity, not beyond
        expect(await limiter.take('r', spec)).toEqual({ ok: true, remaining: 3 })
      }),
    )

    it(
      'retryAfterMs says when the take would succeed',
      run(async ({ limiter, advance }) => {
        const spec = { capacity: 2, refillPerSec: 4 } // a token every 250 ms
        await limiter.take('w', spec, 2)
        const no = await limiter.take('w', spec)
        expect(no.ok).toBe(false)
        const after = no.ok ? 0 : no.retryAfterMs
        expect(after).toBeGreaterThan(0)
        expect(after).toBeLessThanOrEqual(250)
        const big = await limiter.take('w', spec, 2)
        expect(big.ok ? 0 : big.retryAfterMs).toBeGreaterThan(250)
        expect(big.ok ? 0 : big.retryAfterMs).toBeLessThanOrEqual(500)
        await advance(Math.max(after - 1, 0))
        if (after > 1) expect((await limiter.take('w', spec)).ok).toBe(false)
        await advance(1)
        expect((await limiter.take('w', spec)).ok).toBe(true)
      }),
    )

    it(
      'two limiters on the same store share the bucket',
      run(async (h) => {
        const other = h.peer ? await h.peer() : h.limiter
        const spec = { capacity: 4, refillPerSec: 1 }
        expect((await h.limiter.take('shared', spec, 3)).ok).toBe(true)
        expect(await other.take('shared', spec)).toEqual({ ok: true, remaining: 0 })
        expect((await h.limiter.take('shared', spec)).ok).toBe(false)
        expect((await other.take('shared', spec)).ok).toBe(false)
      }),
    )

    it(
      'concurrent takes never over-spend',
      run(async (h) => {
        const other = h.peer ? await h.peer() : h.limiter
        const spec = { capacity: 50, refillPerSec: 0.001 }
        const results = await Promise.all(
          Array.from({ length: 300 }, (_, i) => (i % 2 === 0 ? h.limiter : other).take('hot', spec, 1 + (i % 2))),
        )
        const spent = results.reduce((sum, r, i) => sum + (r.ok ? 1 + (i % 2) : 0), 0)
        expect(spent).toBeLessThanOrEqual(50)
        // Everything was spent that could be (what is left is smaller than the largest cost).
        expect(spent).toBeGreaterThanOrEqual(49)
        for (const r of results) if (!r.ok) expect(r.retryAfterMs).toBeGreaterThan(0)
      }),
    )
  })
}

import { randomUUID } from 'node:crypto'
import { startRedis, waitFor } from '@touchline/testkit'
import { peerClients, redisForFile } from '@touchline/testkit/fixtures'
import { describe, expect, it } from 'vitest'
import { rateLimiterContract } from './contract.ts'
import { connectRedisRateLimiter } from './redis.ts'

const redis = redisForFile()

rateLimiterContract(async () => {
  // A fake clock passed to every limiter of the test, so refill is exact; a fresh prefix per test.
  let now = 1_700_000_000_000
  const opts = { url: redis.server.url, prefix: `rl-${randomUUID()}`, now: () => now }
  const limiter = await connectRedisRateLimiter(opts)
  const peers = peerClients(() => connectRedisRateLimiter(opts))
  return {
    limiter,
    advance: async (ms) => {
      now += ms
    },
    peer: peers.open,
    cleanup: async () => {
      await limiter.close()
      await peers.closeAll()
    },
  }
})

describe('RedisRateLimiter', () => {
  it('uses the Redis clock by default and lets an idle bucket expire once full', async () => {
    const prefix = `rl-${randomUUID()}`
    const limiter = await connectRedisRateLimiter({ url: redis.server.url, prefix })
    try {
      const spec = { capacity: 2, refillPerSec: 10 } // a token every 100 ms
      expect((await limiter.take('k', spec, 2)).ok).toBe(true)
      const no = await limiter.take('k', spec)
      expect(no.ok).toBe(false)
      const pttl = await redis.admin.pttl(`${prefix}:k`)
      expect(pttl).toBeGreaterThan(0)
      expect(pttl).toBeLessThanOrEqual(200)
      await new Promise((r) => setTimeout(r, 120))
      expect((await limiter.take('k', spec)).ok).toBe(true)
      await waitFor('the full bucket to expire', async () => ((await redis.admin.exists(`${prefix}:k`)) === 0 ? true : undefined), 2000, 20)
    } finally {
      await limiter.close()
    }
  })

  it('fails open to a local bucket while Redis is down, and uses Redis again when it is back', async () => {
    await using own = await startRedis()
    const fallbacks: Error[] = []
    const limiter = await connectRedisRateLimiter({
      url: own.url,
      prefix: 'down',
      commandTimeoutMs: 300,
      reconnectMaxDelayMs: 100,
      onFallback: (e) => fallbacks.push(e),
    })
    try {
      const spec = { capacity: 3, refillPerSec: 0.001 }
      expect((await limiter.take('u', spec, 3)).ok).toBe(true)
      await own.kill()
      // Answers come at once from the local bucket, which still limits.
      const t0 = Date.now()
      const local = [
        await limiter.take('u', spec),
        await limiter.take('u', spec),
        await limiter.take('u', spec),
        await limiter.take('u', spec),
      ]
      expect(Date.now() - t0).toBeLessThan(1500)
      expect(local.map((r) => r.ok)).toEqual([true, true, true, false])
      expect(fallbacks.length).toBe(4)

      await own.start()
      await waitFor(
        'Redis again',
        async () => {
          const before = fallbacks.length
          await limiter.take('probe', spec)
          return fallbacks.length === before ? true : undefined
        },
        10_000,
        50,
      )
      // Redis restarted empty: its bucket for 'u' is full again.
      expect(await limiter.take('u', spec)).toEqual({ ok: true, remaining: 2 })
    } finally {
      await limiter.close()
    }
  })
})

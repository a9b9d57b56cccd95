import { describe, expect, it } from 'vitest'
import { rateLimiterContract } from './contract.ts'
import { MemoryRateLimiter } from './memory.ts'

rateLimiterContract(async () => {
  let now = 1_700_000_000_000
  const limiter = new MemoryRateLimiter({ now: () => now })
  return {
    limiter,
    advance: async (ms) => {
      now += ms
    },
    cleanup: () => limiter.close(),
  }
})

describe('MemoryRateLimiter', () => {
  it('forgets buckets that are full again', async () => {
    let now = 0
    const limiter = new MemoryRateLimiter({ now: () => now })
    const spec = { capacity: 2, refillPerSec: 10 }
    for (let i = 0; i < 999; i++) await limiter.take(`k${i}`, spec)
    expect(limiter.size).toBe(999)
    now += 1000
    await limiter.take('trigger', spec)
    expect(limiter.size).toBe(1)
  })

  it('rejects after close', async () => {
    const limiter = new MemoryRateLimiter()
    await limiter.close()
    await expect(limiter.take('k', { capacity: 1, refillPerSec: 1 })).rejects.toThrow(/closed/)
  })
})

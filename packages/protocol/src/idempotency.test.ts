import { describe, expect, it } from 'vitest'
import { idempotencyKeyTime, keyMadeRecently, newIdempotencyKey } from './idempotency.ts'

describe('UUIDv7 idempotency keys', () => {
  it('are RFC 9562 version 7 UUIDs carrying the time they were made', () => {
    const at = Date.UTC(2026, 10, 25, 9, 30, 0, 123)
    const key = newIdempotencyKey(at)
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(idempotencyKeyTime(key)).toBe(at)
    expect(idempotencyKeyTime(key.toUpperCase())).toBe(at)
    // 74 random bits: no two alike, and later keys sort after earlier ones.
    const many = new Set(Array.from({ length: 1000 }, () => newIdempotencyKey(at)))
    expect(many.size).toBe(1000)
    expect(newIdempotencyKey(at + 1) > newIdempotencyKey(at)).toBe(true)
  })

  it('any other key has no time', () => {
    for (const k of [
      'k1',
      '',
      crypto.randomUUID(), // version 4
      '0193a1b2-c3d4-4e5f-8a9b-0c1d2e3f4a5b', // version 4
      '0193a1b2-c3d4-7e5f-ca9b-0c1d2e3f4a5b', // version 7, wrong variant
      '0193a1b2c3d47e5f8a9b0c1d2e3f4a5b', // no dashes
      ' 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
      '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b-extra',
    ])
      expect(idempotencyKeyTime(k)).toBeUndefined()
  })

  it('keyMadeRecently: within the window minus a margin (a sixth, at most 10 s), not from the future beyond the margin', () => {
    const now = 1_800_000_000_000
    const W = 120_000 // margin 10 s: fresh from -10 s to 100 s of age
    const aged = (ms: number) => newIdempotencyKey(now - ms)
    expect(keyMadeRecently(aged(0), now, W)).toBe(true)
    expect(keyMadeRecently(aged(100_000), now, W)).toBe(true)
    expect(keyMadeRecently(aged(100_001), now, W)).toBe(false)
    expect(keyMadeRecently(aged(-10_000), now, W)).toBe(true)
    expect(keyMadeRecently(aged(-10_001), now, W)).toBe(false)
    expect(keyMadeRecently(aged(3_600_000), now, W)).toBe(false)
    // A short window: margin W/6 = 200 ms, fresh from -200 to 800 ms.
    expect(keyMadeRecently(aged(800), now, 1200)).toBe(true)
    expect(keyMadeRecently(aged(801), now, 1200)).toBe(false)
    expect(keyMadeRecently(aged(-201), now, 1200)).toBe(false)
    // Opaque keys and a zero window never skip the lookup.
    expect(keyMadeRecently('retry-42', now, W)).toBe(false)
    expect(keyMadeRecently(aged(0), now, 0)).toBe(false)
  })
})

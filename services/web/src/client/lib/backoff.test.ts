import { describe, expect, it } from 'vitest'
import { backoffDelay, closeAdvice, restartDelay } from './backoff.ts'

describe('backoff', () => {
  it('grows exponentially with jitter in the upper half, up to the cap', () => {
    const opts = { baseMs: 500, maxMs: 15_000, factor: 2 }
    expect(backoffDelay(0, opts, () => 0)).toBe(250)
    expect(backoffDelay(0, opts, () => 1)).toBe(500)
    expect(backoffDelay(3, opts, () => 0.5)).toBe(3000)
    expect(backoffDelay(20, opts, () => 1)).toBe(15_000)
    expect(backoffDelay(20, opts, () => 0)).toBe(7500)
  })

  it('follows the close-code table: 1008 and 1009 stop, 1012 comes back soon, 1006 retries', () => {
    expect(closeAdvice(1008).reconnect).toBe(false)
    expect(closeAdvice(1009).reconnect).toBe(false)
    expect(closeAdvice(1000).reconnect).toBe(false)
    expect(closeAdvice(1012)).toMatchObject({ reconnect: true, soon: true })
    expect(closeAdvice(1013)).toMatchObject({ reconnect: true, soon: false })
    expect(closeAdvice(1006)).toMatchObject({ reconnect: true, soon: false, reason: 'connection lost' })
    expect(closeAdvice(1011, 'oops').reason).toBe('oops')
  })

  it('a restart delay is short and random', () => {
    expect(restartDelay(() => 0)).toBe(100)
    expect(restartDelay(() => 1)).toBe(1100)
  })
})

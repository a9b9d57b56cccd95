import { describe, expect, it } from 'vitest'
import { type Clock, DelayQueue } from './delay.ts'

function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 1_000_000
  let timers: Array<{ at: number; fn: () => void; id: number }> = []
  let next = 1
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = next++
      timers.push({ at: now + ms, fn, id })
      return id
    },
    clearTimeout(h) {
      timers = timers.filter((t) => t.id !== h)
    },
    advance(ms) {
      const until = now + ms
      for (;;) {
        timers.sort((a, b) => a.at - b.at)
        const t = timers[0]
        if (!t || t.at > until) break
        timers.shift()
        now = t.at
        t.fn()
      }
      now = until
    },
  }
}

describe('DelayQueue', () => {
  it('releases at once without a delay', () => {
    const out: number[] = []
    const q = new DelayQueue<number>((xs) => out.push(...xs), fakeClock())
    q.push(1)
    q.push(2)
    expect(out).toEqual([1, 2])
    expect(q.size).toBe(0)
  })

  it('holds each item for the delay, in arrival order', () => {
    const clock = fakeClock()
    const out: number[] = []
    const q = new DelayQueue<number>((xs) => out.push(...xs), clock)
    q.setDelay(30_000)
    q.push(1)
    clock.advance(10_000)
    q.push(2)
    clock.advance(19_999)
    expect(out).toEqual([])
    clock.advance(1)
    expect(out).toEqual([1])
    clock.advance(10_000)
    expect(out).toEqual([1, 2])
  })

  it('items that happened earlier are released earlier, never out of order', () => {
    const clock = fakeClock()
    const out: number[] = []
    const q = new DelayQueue<number>((xs) => out.push(...xs), clock)
    q.setDelay(30_000)
    q.push(1, clock.now() - 29_000)
    q.push(2, clock.now() - 40_000)
    expect(out).toEqual([])
    clock.advance(1000)
    expect(out).toEqual([1, 2])
  })

  it('shortening the delay releases what is old enough; remove and clear drop items', () => {
    const clock = fakeClock()
    const out: number[] = []
    const q = new DelayQueue<number>((xs) => out.push(...xs), clock)
    q.setDelay(60_000)
    q.push(1)
    q.push(2)
    q.push(3)
    clock.advance(20_000)
    q.remove((x) => x === 2)
    q.setDelay(10_000)
    expect(out).toEqual([1, 3])
    q.push(4)
    expect(q.items()).toEqual([4])
    q.clear()
    clock.advance(60_000)
    expect(out).toEqual([1, 3])
  })
})

import { describe, expect, it } from 'vitest'
import { Scheduler, type Tick } from './scheduler.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('scheduler', () => {
  it('runs jobs at a fixed rate, independently: a slow job skips its own ticks and never delays the others', async () => {
    const ticks: Tick[] = []
    const starts = new Map<string, number[]>()
    const s = new Scheduler({ onTick: (t) => ticks.push(t) })
    const record = (id: string) => {
      starts.set(id, [...(starts.get(id) ?? []), performance.now()])
    }
    s.add({ id: 'fast', intervalMs: 100, run: async () => record('fast') })
    s.add({
      id: 'slow',
      intervalMs: 100,
      run: async () => {
        record('slow')
        await sleep(250)
      },
    })
    s.add({
      id: 'throws',
      intervalMs: 100,
      run: async () => {
        throw new Error('x')
      },
    })
    s.start()
    await sleep(1050)
    await s.stop()
    const fast = starts.get('fast')!
    expect(fast.length).toBeGreaterThanOrEqual(10)
    // Fixed rate: the n-th start stays near start + n·interval (lateness does not accumulate),
    // however the slow job behaves. (Tolerances allow for a loaded CI machine.)
    expect(Math.abs(fast[fast.length - 1]! - fast[0]! - 100 * (fast.length - 1))).toBeLessThan(60)
    const drift = ticks.filter((t) => t.id === 'fast').map((t) => t.driftMs)
    expect(drift.sort((a, b) => a - b)[Math.floor(drift.length / 2)]!).toBeLessThan(20)
    // The slow job ran about every third tick and skipped the others.
    expect(ticks.filter((t) => t.id === 'slow' && t.skipped).length).toBeGreaterThanOrEqual(5)
    expect(starts.get('slow')!.length).toBeLessThanOrEqual(5)
    expect(ticks.filter((t) => t.id === 'throws' && !t.skipped).length).toBeGreaterThanOrEqual(10)
  })

  it('adds and removes jobs while running', async () => {
    const s = new Scheduler()
    let n = 0
    s.start()
    s.add({ id: 'a', intervalMs: 20, run: async () => void n++ })
    await sleep(70)
    s.remove('a')
    const after = n
    await sleep(60)
    expect(after).toBeGreaterThanOrEqual(3)
    expect(n).toBe(after)
    expect(() => s.add({ id: 'b', intervalMs: 0, run: async () => {} })).toThrow(/intervalMs/)
    await s.stop()
  })
})

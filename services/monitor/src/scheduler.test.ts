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
    s.add({ id: 'fast', intervalMs: 50, run: async () => record('fast') })
    s.add({
      id: 'slow',
      intervalMs: 50,
      run: async () => {
        record('slow')
        await sleep(130)
      },
    })
    // A job that blocks its promise but not the event loop, and one that throws.
    s.add({
      id: 'throws',
      intervalMs: 50,
      run: async () => {
        throw new Error('x')
      },
    })
    s.start()
    await sleep(620)
    await s.stop()
    const fast = starts.get('fast')!
    expect(fast.length).toBeGreaterThanOrEqual(11)
    const gaps = fast.slice(1).map((t, i) => t - fast[i]!)
    for (const g of gaps) expect(Math.abs(g - 50)).toBeLessThan(25)
    // Fixed rate: the n-th start stays near start + n·interval (no accumulated lateness).
    expect(Math.abs(fast[fast.length - 1]! - fast[0]! - 50 * (fast.length - 1))).toBeLessThan(25)
    expect(ticks.filter((t) => t.id === 'slow' && t.skipped).length).toBeGreaterThanOrEqual(4)
    expect(starts.get('slow')!.length).toBeLessThanOrEqual(5)
    expect(ticks.filter((t) => t.id === 'throws').length).toBeGreaterThanOrEqual(11)
    expect(Math.max(...ticks.map((t) => t.driftMs))).toBeLessThan(50)
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

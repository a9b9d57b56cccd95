import { describe, expect, it } from 'vitest'
import { alertFor, observe, type TrackState } from './tracker.ts'
import type { ObservationResult } from './types.ts'

const th = { failThreshold: 3, recoverThreshold: 2 }

function run(start: TrackState, results: ObservationResult[]) {
  let t = start
  const changes: string[] = []
  results.forEach((result, i) => {
    const r = observe(t, { result }, th, i)
    t = r.next
    if (r.change) changes.push(`${r.change.from}->${r.change.to}:${alertFor(r.change) ?? 'silent'}`)
  })
  return { state: t.state, changes }
}

describe('tracker', () => {
  const up: TrackState = { state: 'up', since: 0, streak: 0 }
  const unknown: TrackState = { state: 'unknown', since: 0, streak: 0 }

  it('goes down only after N consecutive failures, and back up after M successes', () => {
    expect(run(up, ['fail', 'fail']).changes).toEqual([])
    expect(run(up, ['fail', 'fail', 'fail']).changes).toEqual(['up->down:down'])
    expect(run(up, ['fail', 'fail', 'fail', 'ok', 'ok']).changes).toEqual(['up->down:down', 'down->up:recovered'])
  })

  it('does not flap', () => {
    expect(run(up, ['fail', 'ok', 'fail', 'fail', 'ok', 'fail', 'ok']).changes).toEqual([])
    expect(run({ state: 'down', since: 0, streak: 0 }, ['ok', 'fail', 'ok', 'fail']).changes).toEqual([])
  })

  it('degraded is a state of its own with its own alert', () => {
    expect(run(up, ['degraded', 'degraded', 'ok', 'ok']).changes).toEqual(['up->degraded:degraded', 'degraded->up:recovered'])
    expect(run(up, ['degraded', 'degraded', 'fail', 'fail', 'fail']).changes).toEqual(['up->degraded:degraded', 'degraded->down:down'])
  })

  it('a draining answer (clean stop in progress) is no verdict: never down, and it does not break a streak', () => {
    let t: TrackState = up
    for (let i = 0; i < 10; i++) {
      const r = observe(t, { result: 'fail', draining: true }, th, i)
      expect(r.change).toBeUndefined()
      t = r.next
    }
    expect(t).toEqual(up)
    // fail, fail, draining, fail: still three failures in a row as far as the threshold goes.
    t = observe(observe(up, { result: 'fail' }, th, 1).next, { result: 'fail' }, th, 2).next
    t = observe(t, { result: 'fail', draining: true }, th, 3).next
    expect(observe(t, { result: 'fail' }, th, 4).change).toEqual({ from: 'up', to: 'down' })
  })

  it('takes the first good check from unknown silently, but a bad start still needs the threshold', () => {
    expect(run(unknown, ['ok']).changes).toEqual(['unknown->up:silent'])
    expect(run(unknown, ['fail', 'fail']).state).toBe('unknown')
    expect(run(unknown, ['fail', 'fail', 'fail']).changes).toEqual(['unknown->down:down'])
  })
})

import { describe, expect, it } from 'vitest'
import { Board, shownBelow } from './board.ts'
import { ChatLog, compareIds } from './chat.ts'

describe('Board', () => {
  it('folds events from empty with the shared reducer', () => {
    const b = new Board()
    b.apply({ seq: 1, kind: 'period', data: { period: '1st half', minute: 0 } })
    b.apply({ seq: 2, kind: 'goal', data: { score: { home: 1, away: 0 }, minute: 12 } })
    b.apply({ seq: 2, kind: 'goal', data: { score: { home: 5, away: 0 } } })
    expect(b.view()).toEqual({ home: 1, away: 0, period: '1st half', minute: 12 })
  })

  it('continues from a server view; older seqs are ignored', () => {
    const b = new Board()
    b.seed({ home: 2, away: 1, period: '2nd half', minute: 70 }, 40)
    b.apply({ seq: 39, kind: 'goal', data: { score: { home: 9, away: 9 } } })
    expect(b.view()).toEqual({ home: 2, away: 1, period: '2nd half', minute: 70 })
    b.apply({ seq: 41, kind: 'goal', data: { score: { home: 3, away: 1 }, minute: 75 } })
    expect(b.view()).toEqual({ home: 3, away: 1, period: '2nd half', minute: 75 })
    // A retraction of the new goal falls back to the seeded score.
    b.apply({ seq: 42, kind: 'retraction', data: { refSeq: 41 } })
    expect(b.view().home).toBe(2)
    // A retraction of an event before the seed cannot be applied locally (the page refetches).
    b.apply({ seq: 43, kind: 'retraction', data: { refSeq: 40 } })
    expect(b.view().home).toBe(2)
  })
})

describe('Board under a spoiler delay (a late joiner whose snapshot does not reach back to seq 1)', () => {
  // Two goals and half-time long ago, then 55 lines: the snapshot's 50 events (9–58) are all
  // younger than the delay, so the page has shown nothing of them yet.
  const log = [
    { seq: 1, kind: 'goal', data: { score: { home: 1, away: 0 }, minute: 10 } },
    { seq: 2, kind: 'goal', data: { score: { home: 2, away: 0 }, minute: 20 } },
    { seq: 3, kind: 'period', data: { period: 'Half-time', minute: 45 } },
    ...Array.from({ length: 55 }, (_, i) => ({ seq: 4 + i, kind: 'commentary', data: { text: `line ${i + 1}` } })),
  ]
  const held = log.slice(8).map((e) => e.seq)

  it('shows the board as of the first event still held, not 0–0', () => {
    expect(shownBelow(held, 58)).toBe(9)
    const b = new Board()
    b.rebuild(log, shownBelow(held, 58))
    expect(b.view()).toEqual({ home: 2, away: 0, period: 'Half-time', minute: 45 })
    // Then each released event moves it on.
    for (const e of log.slice(8)) b.apply(e)
    expect(b.view().home).toBe(2)
  })

  it('never folds what is still held or not yet received, and adds what was released meanwhile', () => {
    const withGoal = [...log, { seq: 59, kind: 'goal', data: { score: { home: 2, away: 1 } } }]
    // 59 is in the log but has not reached the page (or is held): no spoiler.
    const b = new Board()
    b.rebuild(withGoal, shownBelow([], 58))
    expect(b.view().away).toBe(0)
    b.rebuild(withGoal, shownBelow([59], 59))
    expect(b.view().away).toBe(0)
    // Released while the log was being read (the feed holds it): counted.
    b.rebuild(log, shownBelow([], 58), [withGoal[58] as (typeof withGoal)[number]])
    expect(b.view()).toMatchObject({ home: 2, away: 1 })
  })
})

describe('ChatLog', () => {
  it('orders ids numerically, drops duplicates and deleted ids', () => {
    expect(['10', '9', '100'].sort(compareIds)).toEqual(['9', '10', '100'])
    const c = new ChatLog(2)
    const msg = (id: string) => ({ type: 'chat' as const, matchId: 'm', id, user: { id: 'u', name: 'n' }, text: id, at: '' })
    expect(c.add(msg('10'))).toBe(true)
    expect(c.add(msg('10'))).toBe(false)
    c.delete('11')
    expect(c.add(msg('11'))).toBe(false)
    c.add(msg('9'))
    c.add(msg('12'))
    expect(c.list().map((m) => m.id)).toEqual(['10', '12'])
  })
})

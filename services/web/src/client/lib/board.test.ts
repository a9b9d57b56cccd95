import { describe, expect, it } from 'vitest'
import { Board } from './board.ts'
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

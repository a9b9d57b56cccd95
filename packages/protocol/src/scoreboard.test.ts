import { describe, expect, it } from 'vitest'
import { applyEvent, EMPTY_BOARD, foldContiguous, foldFromOldest, viewOf, type BoardEvent } from './scoreboard.ts'

function fold(events: BoardEvent[]) {
  return events.reduce(applyEvent, EMPTY_BOARD)
}

describe('scoreboard', () => {
  it('follows score-bearing events, period and minute', () => {
    const b = fold([
      { seq: 1, kind: 'period', data: { text: '1H', minute: 0 } },
      { seq: 2, kind: 'goal', data: { score: { home: 1, away: 0 }, minute: 12 } },
      { seq: 3, kind: 'commentary', data: { text: 'close!', minute: 20 } },
      { seq: 4, kind: 'score', data: { score: { home: 1, away: 1 } } },
    ])
    expect(viewOf(b)).toEqual({ home: 1, away: 1, period: '1H', minute: 20 })
  })

  it('a retraction withdraws a goal and the score falls back', () => {
    const b = fold([
      { seq: 1, kind: 'goal', data: { score: { home: 1, away: 0 } } },
      { seq: 2, kind: 'goal', data: { score: { home: 2, away: 0 } } },
      { seq: 3, kind: 'retraction', data: { refSeq: 2, text: 'VAR: offside' } },
    ])
    expect(viewOf(b)).toMatchObject({ home: 1, away: 0 })
    expect(
      viewOf(
        fold([
          { seq: 1, kind: 'goal', data: { score: { home: 1, away: 0 } } },
          { seq: 2, kind: 'retraction', data: { refSeq: 1 } },
        ]),
      ),
    ).toMatchObject({ home: 0, away: 0 })
  })

  it('a correction amends an earlier score', () => {
    const b = fold([
      { seq: 1, kind: 'goal', data: { score: { home: 1, away: 0 } } },
      { seq: 2, kind: 'correction', data: { refSeq: 1, score: { home: 0, away: 1 } } },
    ])
    expect(viewOf(b)).toMatchObject({ home: 0, away: 1 })
  })

  it('is idempotent: re-applying an old seq changes nothing', () => {
    const events: BoardEvent[] = [
      { seq: 1, kind: 'goal', data: { score: { home: 1, away: 0 } } },
      { seq: 2, kind: 'retraction', data: { refSeq: 1 } },
    ]
    const once = fold(events)
    const twice = fold([...events, ...events])
    expect(twice).toEqual(once)
  })

  it('starts at 0-0 with no period', () => {
    expect(viewOf(EMPTY_BOARD)).toEqual({ home: 0, away: 0, period: null, minute: null })
  })
})

const goal = (seq: number, home: number, away: number): BoardEvent => ({ seq, kind: 'goal', data: { score: { home, away } } })
const note = (seq: number): BoardEvent => ({ seq, kind: 'commentary', data: { text: `n${seq}` } })

describe('foldContiguous', () => {
  it('folds the events after the board in seq order, skipping those already applied', () => {
    const at2 = fold([goal(1, 1, 0), note(2)])
    const b = foldContiguous(at2, [goal(1, 9, 9), note(2), goal(3, 2, 0), note(4)])
    expect(b.seq).toBe(4)
    expect(viewOf(b)).toMatchObject({ home: 2, away: 0 })
    expect(b).toEqual(fold([goal(1, 1, 0), note(2), goal(3, 2, 0), note(4)]))
  })

  it('stops at the first gap: the board never claims a seq whose predecessors it has not seen', () => {
    const b = foldContiguous(EMPTY_BOARD, [goal(1, 1, 0), note(2), goal(4, 2, 0), note(5)])
    expect(b.seq).toBe(2)
    expect(viewOf(b)).toMatchObject({ home: 1, away: 0 })
    // Nothing right after the board: unchanged, the same object.
    const at2 = fold([note(1), note(2)])
    expect(foldContiguous(at2, [goal(4, 1, 0)])).toBe(at2)
    expect(foldContiguous(at2, [])).toBe(at2)
  })
})

describe('foldFromOldest', () => {
  it('starts at the first event when the ones between the board and it are gone', () => {
    const at1 = fold([goal(1, 1, 0)])
    const b = foldFromOldest(at1, [note(5), goal(6, 2, 1), note(7)])
    expect(b.seq).toBe(7)
    expect(viewOf(b)).toMatchObject({ home: 2, away: 1 })
    // What the board had stays: without a later score-bearing event the old score shows.
    expect(viewOf(foldFromOldest(at1, [note(5), note(6)]))).toMatchObject({ home: 1, away: 0 })
    expect(foldFromOldest(at1, [note(5), note(6)]).seq).toBe(6)
  })

  it('is foldContiguous when the events continue the board, and still stops at a later gap', () => {
    const at2 = fold([goal(1, 1, 0), note(2)])
    const events = [note(2), goal(3, 2, 0), note(5)]
    expect(foldFromOldest(at2, events)).toEqual(foldContiguous(at2, events))
    expect(foldFromOldest(at2, events).seq).toBe(3)
    expect(foldFromOldest(at2, [])).toBe(at2)
  })
})

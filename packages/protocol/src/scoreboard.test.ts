import { describe, expect, it } from 'vitest'
import { applyEvent, type BoardEvent, type BoardState, EMPTY_BOARD, foldContiguous, foldFromOldest, viewOf } from './scoreboard.ts'

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

describe('corrections and retractions (docs/protocol.md: a correction amends, a retraction withdraws)', () => {
  const period = (seq: number, data: BoardEvent['data']): BoardEvent => ({ seq, kind: 'period', data })
  const correction = (seq: number, data: BoardEvent['data']): BoardEvent => ({ seq, kind: 'correction', data })
  const retraction = (seq: number, refSeq: number): BoardEvent => ({ seq, kind: 'retraction', data: { refSeq } })
  const at = (seq: number, minute: number): BoardEvent => ({ seq, kind: 'commentary', data: { text: `n${seq}`, minute } })

  it('a text correction of a period taken from its text changes the period; one of an explicit data.period does not', () => {
    expect(viewOf(fold([period(1, { text: 'Kick-off' }), correction(2, { refSeq: 1, text: 'Second half' })])).period).toBe('Second half')
    expect(viewOf(fold([period(1, { period: '1H', text: 'Kick-off' }), correction(2, { refSeq: 1, text: 'Second half' })])).period).toBe(
      '1H',
    )
    // Once a correction gave it an explicit period, a text correction leaves that period.
    const b = fold([
      period(1, { text: 'Kick-off' }),
      correction(2, { refSeq: 1, period: '2H' }),
      correction(3, { refSeq: 1, text: 'oops' }),
    ])
    expect(viewOf(b).period).toBe('2H')
    // The text of an event that is not a period does not become the period.
    expect(viewOf(fold([period(1, { text: '1H' }), goal(2, 1, 0), correction(3, { refSeq: 2, text: 'own goal' })])).period).toBe('1H')
  })

  it("a correction of an old event's minute does not roll the clock back; one of the clock's source or a later event moves it", () => {
    const three = [at(1, 23), at(2, 45), at(3, 80)]
    expect(viewOf(fold([...three, correction(4, { refSeq: 1, minute: 24 })])).minute).toBe(80)
    expect(viewOf(fold([...three, correction(4, { refSeq: 3, minute: 81 })])).minute).toBe(81)
    // Event 2 gets a minute: it is now the latest event carrying one, so the clock follows it...
    const later = fold([at(1, 10), note(2), correction(3, { refSeq: 2, minute: 12 })])
    expect(viewOf(later).minute).toBe(12)
    // ...and event 1, now before it, no longer moves the clock.
    expect(viewOf(applyEvent(later, correction(4, { refSeq: 1, minute: 11 }))).minute).toBe(12)
    // No minute yet: the first minute given to any event sets the clock.
    expect(viewOf(fold([goal(1, 1, 0), correction(2, { refSeq: 1, minute: 5 })])).minute).toBe(5)
    // A correction's own minute is the amended value, not the time of the correction.
    expect(viewOf(fold([...three, correction(4, { refSeq: 2, minute: 46, score: { home: 1, away: 0 } })]))).toMatchObject({
      home: 1,
      minute: 80,
    })
    // Withdrawing the event the clock came from does not run the clock back.
    expect(viewOf(fold([...three, retraction(4, 3)])).minute).toBe(80)
  })

  it('a withdrawn event stays withdrawn: a later correction of it changes nothing', () => {
    const b = fold([
      period(1, { text: '1H', minute: 0 }),
      { seq: 2, kind: 'goal', data: { score: { home: 1, away: 0 }, minute: 10 } },
      retraction(3, 2),
      correction(4, { refSeq: 2, score: { home: 5, away: 5 }, minute: 11 }),
    ])
    expect(viewOf(b)).toEqual({ home: 0, away: 0, period: '1H', minute: 10 })
    // A withdrawn period event cannot be corrected back either.
    expect(
      viewOf(fold([period(1, { text: '1H' }), period(2, { text: '2H' }), retraction(3, 2), correction(4, { refSeq: 2, period: 'ET' })]))
        .period,
    ).toBe('1H')
  })

  it('a correction of a correction or of a retraction changes nothing; a retraction of a correction does not undo it', () => {
    const base = [goal(1, 1, 0), correction(2, { refSeq: 1, score: { home: 0, away: 1 } })]
    expect(viewOf(fold([...base, correction(3, { refSeq: 2, score: { home: 4, away: 4 } })]))).toMatchObject({ home: 0, away: 1 })
    expect(viewOf(fold([goal(1, 1, 0), retraction(2, 1), correction(3, { refSeq: 2, score: { home: 3, away: 3 } })]))).toMatchObject({
      home: 0,
      away: 0,
    })
    // The board does not keep what a correction replaced: the way back is a new correction.
    const retracted = fold([...base, retraction(3, 2)])
    expect(viewOf(retracted)).toMatchObject({ home: 0, away: 1 })
    expect(viewOf(applyEvent(retracted, correction(4, { refSeq: 1, score: { home: 1, away: 0 } })))).toMatchObject({ home: 1, away: 0 })
  })

  it('a correction that gives an event without an entry a score takes effect at its place', () => {
    const b = fold([goal(1, 1, 0), note(2), goal(3, 2, 0), correction(4, { refSeq: 2, score: { home: 1, away: 1 } })])
    expect(viewOf(b)).toMatchObject({ home: 2, away: 0 })
    expect(viewOf(applyEvent(b, retraction(5, 3)))).toMatchObject({ home: 1, away: 1 })
  })

  it('cuts a period to 40 characters, never through an emoji', () => {
    const p = viewOf(fold([period(1, { text: `${'a'.repeat(39)}😀 and more` })])).period as string
    expect(p).toBe(`${'a'.repeat(39)}😀`)
    expect(p.isWellFormed()).toBe(true)
    expect(viewOf(fold([period(1, { text: '⚽'.repeat(10) + '😀'.repeat(50) })])).period).toBe('⚽'.repeat(10) + '😀'.repeat(30))
    const corrected = viewOf(fold([period(1, { text: 'x' }), correction(2, { refSeq: 1, text: '😀'.repeat(41) })])).period as string
    expect(Array.from(corrected)).toHaveLength(40)
    expect(corrected.isWellFormed()).toBe(true)
  })

  it('is idempotent and never changes an earlier board; EMPTY_BOARD stays frozen', () => {
    const events = [period(1, { text: '1H' }), goal(2, 1, 0), retraction(3, 2), correction(4, { refSeq: 1, text: '2H', minute: 3 })]
    const once = fold(events)
    expect(fold([...events, ...events])).toEqual(once)
    for (const e of events) expect(applyEvent(once, e)).toBe(once)
    const before = fold(events.slice(0, 3))
    const copy = structuredClone(before)
    applyEvent(before, events[3] as BoardEvent)
    expect(before).toEqual(copy)
    expect(Object.isFrozen(EMPTY_BOARD)).toBe(true)
    expect(EMPTY_BOARD).toEqual({ entries: [], minute: null, seq: 0 })
  })

  it('survives storage as JSON, and folds a board stored by the previous version (without the new fields)', () => {
    const events = [period(1, { text: 'Kick-off', minute: 0 }), goal(2, 1, 0), at(3, 30), retraction(4, 2)]
    const rest = [
      correction(5, { refSeq: 2, score: { home: 9, away: 9 } }),
      correction(6, { refSeq: 1, text: '2H' }),
      correction(7, { refSeq: 3, minute: 31 }),
    ]
    const stored = JSON.parse(JSON.stringify(fold(events))) as BoardState
    expect(rest.reduce(applyEvent, stored)).toEqual(fold([...events, ...rest]))
    expect(viewOf(rest.reduce(applyEvent, stored))).toEqual({ home: 0, away: 0, period: '2H', minute: 31 })
    // What the previous version stored for period(1, text 'Kick-off'), goal 2-1 at 40', at seq 2.
    const old: BoardState = {
      entries: [
        { seq: 1, period: 'Kick-off' },
        { seq: 2, score: { home: 2, away: 1 } },
      ],
      minute: 40,
      seq: 2,
    }
    const b = [goal(3, 3, 1), correction(4, { refSeq: 2, minute: 12 }), retraction(5, 3)].reduce(applyEvent, old)
    // It folds on; what it never recorded (where the minute and the period came from) stays as it was.
    expect(viewOf(b)).toEqual({ home: 2, away: 1, period: 'Kick-off', minute: 40 })
    expect(viewOf(applyEvent(b, correction(6, { refSeq: 1, text: '2H' }))).period).toBe('Kick-off')
    // The next event carrying a minute makes the clock's source known again.
    const on = [at(6, 50), correction(7, { refSeq: 6, minute: 51 }), correction(8, { refSeq: 1, period: '2H' })].reduce(applyEvent, b)
    expect(viewOf(on)).toEqual({ home: 2, away: 1, period: '2H', minute: 51 })
  })
})

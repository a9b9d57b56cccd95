import { describe, expect, it } from 'vitest'
import { applyEvent, EMPTY_BOARD, viewOf, type BoardEvent } from './scoreboard.ts'

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

/**
 * The scoreboard a page shows: the shared reducer from @touchline/protocol, started either from
 * the empty board (when the page holds the whole log) or from a view the server computed (a
 * snapshot's `match.scoreboard`, or GET /v1/matches/:id) at that view's seq.
 */
import { applyEvent, EMPTY_BOARD, viewOf } from './protocol.ts'
import type { BoardState, EventFrame, ScoreboardView } from './protocol.ts'

type Ev = Pick<EventFrame, 'seq' | 'kind' | 'data'>

/**
 * Under a spoiler delay, the seq below which the page has shown everything: the first event
 * still held, or (nothing held) the one after the last seq received without a gap. The log read
 * for the board may be longer than that, and what lies beyond would be a spoiler.
 */
export function shownBelow(heldSeqs: Iterable<number>, contiguous: number): number {
  let below = contiguous + 1
  for (const seq of heldSeqs) if (seq < below) below = seq
  return below
}

export class Board {
  #state: BoardState = EMPTY_BOARD

  get seq(): number {
    return this.#state.seq
  }

  reset(): void {
    this.#state = EMPTY_BOARD
  }

  /**
   * Start from a server-computed view at `seq`. The seeded entry carries seq 0, so a later
   * retraction of an event the page never saw does not wrongly remove it (the page refetches
   * the match after a correction or retraction anyway).
   */
  seed(view: ScoreboardView, seq: number): void {
    const entry: BoardState['entries'][number] = { seq: 0 }
    if (view.home !== 0 || view.away !== 0) entry.score = { home: view.home, away: view.away }
    if (view.period) entry.period = view.period
    this.#state = { entries: entry.score || entry.period ? [entry] : [], minute: view.minute, seq }
  }

  /** Apply one event; a seq at or below the board's is ignored (idempotent). */
  apply(ev: Ev): void {
    this.#state = applyEvent(this.#state, { seq: ev.seq, kind: ev.kind, data: ev.data ?? {} })
  }

  /** Fold `log` (oldest first) from the empty board up to, not including, seq `below`, then `after` (oldest first). */
  rebuild(log: readonly Ev[], below: number, after: readonly Ev[] = []): void {
    this.reset()
    for (const e of log) if (e.seq < below) this.apply(e)
    for (const e of after) this.apply(e)
  }

  view(): ScoreboardView {
    return viewOf(this.#state)
  }
}

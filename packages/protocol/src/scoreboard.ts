/**
 * How the log becomes a scoreboard. Pure and idempotent: applying an event whose seq was already
 * applied changes nothing, so replays and duplicate deliveries are harmless.
 *
 * - any event with `data.score` sets the score (goal, score, …);
 * - `period` sets the period from `data.period` or `data.text`;
 * - `correction` with `refSeq` amends the referenced event's score/period/minute;
 * - `retraction` with `refSeq` withdraws the referenced event: the score falls back to the
 *   previous score-bearing event that still stands (0–0 when none);
 * - `minute` follows the latest event that carries one.
 */
import type { EventData, Score, ScoreboardView } from './common.ts'

interface Entry {
  seq: number
  score?: Score
  period?: string
}

export interface BoardState {
  /** Only the events that matter to the board (score- or period-bearing), in seq order. */
  entries: Entry[]
  minute: number | null
  /** The last seq applied. */
  seq: number
}

export const EMPTY_BOARD: BoardState = Object.freeze({ entries: [], minute: null, seq: 0 }) as BoardState

export interface BoardEvent {
  seq: number
  kind: string
  data: EventData
}

function periodOf(data: EventData): string | undefined {
  const p = data.period ?? data.text
  return typeof p === 'string' && p.length > 0 ? p.slice(0, 40) : undefined
}

export function applyEvent(state: BoardState, ev: BoardEvent): BoardState {
  if (ev.seq <= state.seq) return state
  const entries = state.entries.slice()
  const minute = typeof ev.data.minute === 'number' ? ev.data.minute : state.minute
  const ref = ev.data.refSeq
  if (ev.kind === 'retraction' && typeof ref === 'number') {
    const i = entries.findIndex((e) => e.seq === ref)
    if (i >= 0) entries.splice(i, 1)
  } else if (ev.kind === 'correction' && typeof ref === 'number') {
    const i = entries.findIndex((e) => e.seq === ref)
    const patch: Entry = { seq: ref }
    if (ev.data.score) patch.score = ev.data.score
    const period = ev.data.period
    if (typeof period === 'string') patch.period = period
    if (i >= 0) entries[i] = { ...entries[i], ...patch } as Entry
    else if (patch.score || patch.period) {
      const at = entries.findIndex((e) => e.seq > ref)
      entries.splice(at < 0 ? entries.length : at, 0, patch)
    }
  } else {
    const entry: Entry = { seq: ev.seq }
    if (ev.data.score) entry.score = { home: ev.data.score.home, away: ev.data.score.away }
    if (ev.kind === 'period') {
      const p = periodOf(ev.data)
      if (p) entry.period = p
    }
    if (entry.score || entry.period) entries.push(entry)
  }
  return { entries, minute, seq: ev.seq }
}

/**
 * Fold `events` (seq order) onto `board`, stopping at the first gap: a board is only ever at a seq
 * whose every predecessor it has seen. Events at or below `board.seq` are skipped.
 */
export function foldContiguous(board: BoardState, events: readonly BoardEvent[]): BoardState {
  let b = board
  for (const e of events) {
    if (e.seq <= b.seq) continue
    if (e.seq !== b.seq + 1) break
    b = applyEvent(b, e)
  }
  return b
}

/**
 * `foldContiguous` over events read from the log after `board.seq`, where the log may no longer
 * hold the seqs right after it (they aged out, or the reader chose not to read that far back):
 * when the first event is past `board.seq + 1`, the fold starts at it. What the skipped events
 * did is lost, but a score-bearing event carries the whole score, so the board is right again
 * from the next one on; without this the board could never move past the hole.
 */
export function foldFromOldest(board: BoardState, events: readonly BoardEvent[]): BoardState {
  const first = events[0]
  const base = first && first.seq > board.seq + 1 ? { ...board, seq: first.seq - 1 } : board
  return foldContiguous(base, events)
}

export function viewOf(state: BoardState): ScoreboardView {
  let score: Score | undefined
  let period: string | undefined
  for (let i = state.entries.length - 1; i >= 0 && (!score || !period); i--) {
    const e = state.entries[i] as Entry
    score ??= e.score
    period ??= e.period
  }
  return { home: score?.home ?? 0, away: score?.away ?? 0, period: period ?? null, minute: state.minute }
}

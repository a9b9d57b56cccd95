/**
 * How the log becomes a scoreboard. Pure and idempotent: applying an event whose seq was already
 * applied changes nothing, so replays and duplicate deliveries are harmless.
 *
 * - any event with `data.score` sets the score (goal, score, …);
 * - `period` sets the period from `data.period`, else from `data.text` (at most 40 characters);
 * - `minute` follows the latest event that carries one (the match clock);
 * - `retraction` with `refSeq` withdraws the referenced event: score and period fall back to the
 *   previous event that still stands (0–0 and no period when none). The minute stays: the clock
 *   does not run back because an event was withdrawn (the retraction's own `minute` moves it like
 *   any event's);
 * - `correction` with `refSeq` amends the referenced event as if it had been posted with the
 *   correction's fields:
 *   - `score` replaces its score, `period` its period, and `text` its period only when that came
 *     from its text (a `period` event without `data.period`);
 *   - `minute` replaces its minute, which moves the clock only if that event is then the latest
 *     carrying one: the clock's current source, or an event after it (it had no minute, so it
 *     becomes the source). An earlier event's minute is history and leaves the clock alone, and so
 *     does every minute correction while the source is unknown (a board stored before `minuteSeq`
 *     existed, or seeded from a view), until the next event carrying a minute;
 *   - an event the board holds nothing for (no score or period, or older than the board's history)
 *     gets an entry at its place when the correction gives it a score or a period;
 * - a withdrawn event, a correction and a retraction are `sealed`: a correction of one changes
 *   nothing, so a withdrawn goal stays withdrawn (and, as in the feed, a correction of a correction
 *   amends that correction's item, not its target). A retraction of a correction changes nothing
 *   either: the board does not keep what a correction replaced, so it cannot undo it; the fix is a
 *   new correction with the right values.
 */
import type { EventData, Score, ScoreboardView } from './common.ts'
import { sliceChars } from './text.ts'

interface Entry {
  seq: number
  score?: Score
  period?: string
  /**
   * The period came from the event's text (it had no `data.period`), so a correction of the text
   * corrects the period. Absent in boards stored before it existed: such a period then changes only
   * by a correction's `period`, as before.
   */
  textPeriod?: true
}

/** Stored with each match record: fields added later are optional, and absent in older boards. */
export interface BoardState {
  /** Only the events that matter to the board (score- or period-bearing), in seq order. */
  entries: Entry[]
  minute: number | null
  /** The seq `minute` came from; absent when unknown (see the header). */
  minuteSeq?: number
  /**
   * Seqs no correction may amend: withdrawn events, corrections and retractions. Absent means
   * none; a board stored before it existed does not know what was withdrawn before.
   */
  sealed?: number[]
  /** The last seq applied. */
  seq: number
}

export const EMPTY_BOARD: BoardState = Object.freeze({ entries: [], minute: null, seq: 0 }) as BoardState

export interface BoardEvent {
  seq: number
  kind: string
  data: EventData
}

const PERIOD_MAX = 40

/** A non-empty string cut to PERIOD_MAX characters (code points: an emoji is never split in half). */
function clip(s: unknown): string | undefined {
  return typeof s === 'string' && s.length > 0 ? sliceChars(s, PERIOD_MAX) : undefined
}

export function applyEvent(state: BoardState, ev: BoardEvent): BoardState {
  if (ev.seq <= state.seq) return state
  const next: BoardState = { ...state, entries: state.entries.slice(), seq: ev.seq }
  const { data } = ev
  const ref = data.refSeq
  if ((ev.kind === 'retraction' || ev.kind === 'correction') && typeof ref === 'number') {
    const sealed = state.sealed ?? []
    next.sealed = [...sealed, ev.seq]
    // The log only lets an event name an earlier one; anything else is ignored.
    const open = ref < ev.seq && !sealed.includes(ref)
    if (ev.kind === 'retraction') {
      if (typeof data.minute === 'number') setMinute(next, data.minute, ev.seq)
      if (open) {
        next.entries = next.entries.filter((e) => e.seq !== ref)
        next.sealed.push(ref)
      }
    } else if (open) {
      correct(next, data, ref)
    }
  } else {
    if (typeof data.minute === 'number') setMinute(next, data.minute, ev.seq)
    const entry: Entry = { seq: ev.seq }
    if (data.score) entry.score = { home: data.score.home, away: data.score.away }
    if (ev.kind === 'period') {
      // `??` as before: only an absent data.period falls back to the text.
      const fromText = data.period === undefined || data.period === null
      const p = clip(fromText ? data.text : data.period)
      if (p) entry.period = p
      if (p && fromText) entry.textPeriod = true
    }
    if (entry.score || entry.period) next.entries.push(entry)
  }
  return next
}

function setMinute(board: BoardState, minute: number, seq: number): void {
  board.minute = minute
  board.minuteSeq = seq
}

/** Amend event `ref` (not sealed, before the correction) on `board`, a fresh copy. */
function correct(board: BoardState, data: EventData, ref: number): void {
  const { entries } = board
  const i = entries.findIndex((e) => e.seq === ref)
  const cur = i >= 0 ? entries[i] : undefined
  const amended: Entry = { seq: ref }
  const score = data.score ?? cur?.score
  if (score) amended.score = { home: score.home, away: score.away }
  const period = clip(data.period)
  if (period) {
    amended.period = period // now an explicit period: a later text correction leaves it
  } else if (cur?.textPeriod) {
    amended.period = clip(data.text) ?? cur.period
    amended.textPeriod = true
  } else if (cur?.period) {
    amended.period = cur.period
  }
  if (cur) entries[i] = amended
  else if (amended.score || amended.period) {
    const at = entries.findIndex((e) => e.seq > ref)
    entries.splice(at < 0 ? entries.length : at, 0, amended)
  }
  if (typeof data.minute === 'number') {
    // No source yet (minute null) counts as one before every event; an unknown source is undefined.
    const source = board.minuteSeq ?? (board.minute === null ? 0 : undefined)
    if (source !== undefined && ref >= source) setMinute(board, data.minute, ref)
  }
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

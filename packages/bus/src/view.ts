import { viewOf, type MatchView } from '@touchline/protocol'
import type { MatchRecord } from './types.ts'

/**
 * The public view of a stored match: metadata, scoreboard (from the folded board), last seq.
 * The scoreboard is `record.board` as given, and the stored board may lag the log (the bus folds
 * an event in after it is durable), so a caller that needs the scoreboard at `lastSeq` brings the
 * board up to it first (ingest: catchUpBoard; the gateway's snapshot: boardAt in resume.ts).
 * `seq` is max(lastSeq, board.seq).
 */
export function matchView(record: MatchRecord, lastSeq: number): MatchView {
  const { id, title, home, away, startsAt, createdAt } = record.meta
  return {
    id,
    title,
    home,
    away,
    startsAt,
    createdAt,
    scoreboard: viewOf(record.board),
    seq: Math.max(lastSeq, record.board.seq),
  }
}

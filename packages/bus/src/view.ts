import { viewOf, type MatchView } from '@touchline/protocol'
import type { MatchRecord } from './types.ts'

/** The public view of a stored match: metadata, scoreboard (from the folded board), last seq. */
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

/**
 * The scoreboard stored in the match record, kept honest across replicas.
 *
 * The bus folds each appended event into the record's board (Bus.appendEvent, with protocol's
 * applyEvent). If a replica stored an event and then failed before folding it (NATS dropped
 * between the two writes, the process was killed), the record's `board.seq` lags the log. Ingest
 * repairs that here: it reads the missing seqs from the log, folds them in seq order, and writes
 * the result back with a compare-and-set `updateMatch` that only ever moves the board forward and
 * only over a contiguous run of seqs, so two replicas repairing at once cannot double-apply or
 * skip an event (applyEvent ignores seqs already applied).
 *
 * A short lag is normal and not repaired here: the bus writes the board after the append has
 * answered and at most once per its board interval under load (NatsBus boardIntervalMs), so a
 * read right after a post often finds the board an event or two behind. Those are folded in
 * memory only; the board is written back (and counted as a repair) only when the oldest missing
 * event was accepted more than STALE_AFTER_MS ago, i.e. when the writer's own fold is overdue.
 */
import type { Bus, MatchRecord, StoredEvent } from '@touchline/bus'
import { type BoardEvent, foldFromOldest } from '@touchline/protocol'

/** At most this many events are folded by one read (a record that far behind is repaired in steps). */
const MAX_FOLD = 10_000
const PAGE = 1000

/** A lag whose oldest event is older than this is a missed fold (the bus's own write is bounded by its timeout). */
export const STALE_AFTER_MS = 5000

export interface CatchUp {
  record: MatchRecord
  /** How many events were folded in memory (0 when the board was current). */
  folded: number
  /** Whether the lag was stale (see STALE_AFTER_MS) and a write-back was attempted. */
  repaired: boolean
}

/**
 * Bring `record`'s board up to `lastSeq` from the log. Returns the caught-up record (in memory,
 * even if writing it back failed: the caller only needs a correct view) and, for a stale lag,
 * tries to persist it.
 */
export async function catchUpBoard(
  bus: Bus,
  record: MatchRecord,
  lastSeq: number,
  onPersistError?: (err: unknown) => void,
  now = Date.now(),
): Promise<CatchUp> {
  const matchId = record.meta.id
  if (record.board.seq >= lastSeq) return { record, folded: 0, repaired: false }
  const events: BoardEvent[] = []
  let oldest: number | undefined
  let after = record.board.seq
  while (after < lastSeq && events.length < MAX_FOLD) {
    const read = await bus.readEvents(matchId, after, Math.min(PAGE, lastSeq - after))
    const page = read.events.filter((e: StoredEvent) => e.seq > after && e.seq <= lastSeq)
    if (page.length === 0) break
    oldest ??= page[0]?.acceptedAt
    for (const e of page) events.push({ seq: e.seq, kind: e.kind, data: e.data })
    after = (page[page.length - 1] as StoredEvent).seq
  }
  // Events that aged out of the log cannot be replayed: the fold starts at the oldest retained one.
  const board = foldFromOldest(record.board, events)
  const caughtUp: MatchRecord = { ...record, board }
  const folded = board.seq - record.board.seq
  if (folded === 0 || oldest === undefined || now - oldest < STALE_AFTER_MS) return { record: caughtUp, folded, repaired: false }
  try {
    await bus.updateMatch(matchId, (cur) => {
      if (cur.board.seq >= board.seq) return null
      const next = foldFromOldest(cur.board, events)
      return next.seq > cur.board.seq ? { ...cur, board: next } : null
    })
  } catch (err) {
    onPersistError?.(err)
  }
  return { record: caughtUp, folded, repaired: true }
}

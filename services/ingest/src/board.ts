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
 */
import type { Bus, MatchRecord, StoredEvent } from '@touchline/bus'
import { type BoardEvent, foldFromOldest } from '@touchline/protocol'

/** At most this many events are folded by one read (a record that far behind is repaired in steps). */
const MAX_FOLD = 10_000
const PAGE = 1000

export interface CatchUp {
  record: MatchRecord
  /** How many events were folded in memory (0 when the board was current). */
  folded: number
}

/**
 * Bring `record`'s board up to `lastSeq` from the log. Returns the caught-up record (in memory,
 * even if writing it back failed: the caller only needs a correct view) and tries to persist it.
 */
export async function catchUpBoard(
  bus: Bus,
  record: MatchRecord,
  lastSeq: number,
  onPersistError?: (err: unknown) => void,
): Promise<CatchUp> {
  const matchId = record.meta.id
  if (record.board.seq >= lastSeq) return { record, folded: 0 }
  const events: BoardEvent[] = []
  let after = record.board.seq
  while (after < lastSeq && events.length < MAX_FOLD) {
    const read = await bus.readEvents(matchId, after, Math.min(PAGE, lastSeq - after))
    const page = read.events.filter((e: StoredEvent) => e.seq > after && e.seq <= lastSeq)
    if (page.length === 0) break
    for (const e of page) events.push({ seq: e.seq, kind: e.kind, data: e.data })
    after = (page[page.length - 1] as StoredEvent).seq
  }
  // Events that aged out of the log cannot be replayed: the fold starts at the oldest retained one.
  const board = foldFromOldest(record.board, events)
  const caughtUp: MatchRecord = { ...record, board }
  try {
    await bus.updateMatch(matchId, (cur) => {
      if (cur.board.seq >= board.seq) return null
      const next = foldFromOldest(cur.board, events)
      return next.seq > cur.board.seq ? { ...cur, board: next } : null
    })
  } catch (err) {
    onPersistError?.(err)
  }
  return { record: caughtUp, folded: board.seq - record.board.seq }
}

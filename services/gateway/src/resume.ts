/**
 * Subscribe with or without `since`, gap-free and exactly once (centrifuge's recovery, in hub terms):
 *
 * 1. join the hub as *pending*: from now on every event the hub delivers for the match (in seq
 *    order, gap-free) is also kept by this subscription;
 * 2. read the log after `since` in pages (or build a snapshot of the recent events) and send it;
 * 3. keep reading until the replay reaches what the hub holds for us (or what the hub has
 *    delivered, if it holds nothing);
 * 4. synchronously: send `subscribed`, send the held events with seq > the last one sent, and
 *    switch to live — no event can be delivered between the check and the switch.
 *
 * `since` that cannot be replayed (older than the retained log, newer than the last seq, or from
 * another epoch) answers a `snapshot` with `reset: true`.
 */
import { matchView, type Bus, type LiveEvent, type LogRead, type MatchRecord, type StoredEvent } from '@touchline/bus'
import { type BoardState, encodeFrame, encodeSnapshot, foldFromOldest } from '@touchline/protocol'
import type { Hub, HubSubscriber, MatchChannel } from './hub.ts'
import type { Sender } from './sender.ts'
import type { GatewayStats } from './stats.ts'

export interface ResumeOptions {
  bus: Bus
  hub: Hub
  stats: GatewayStats
  /** Events per log read while replaying. */
  pageSize: number
  /** Recent events in a snapshot. */
  snapshotEvents: number
  /** Recent chat messages in a snapshot. */
  snapshotChat: number
  /** While replaying, wait for the socket's buffer to drain below this many bytes. */
  replayHighWaterBytes: number
  /** Give up on a replay whose socket does not drain for this long (close 1013). */
  replayStallMs: number
  /** Reuse a built snapshot and a match record read this long (default SNAPSHOT_REUSE_MS; 0 = share only while in flight). */
  snapshotReuseMs?: number
}

type SubState = 'starting' | 'pending' | 'live' | 'closed'

export class Subscription implements HubSubscriber {
  readonly matchId: string
  readonly sender: Sender
  readonly maxHeld: number
  #state: SubState = 'starting'
  held: LiveEvent[] = []

  constructor(matchId: string, sender: Sender, maxHeld: number) {
    this.matchId = matchId
    this.sender = sender
    this.maxHeld = maxHeld
  }

  get state(): SubState {
    return this.#state
  }

  set state(s: SubState) {
    this.#state = s
  }

  /** Still wanted (not unsubscribed, socket open). */
  active(): boolean {
    return this.#state !== 'closed' && !this.sender.closed
  }

  hold(event: LiveEvent): void {
    if (this.#state === 'closed') return
    if (this.held.length >= this.maxHeld) {
      // The replay cannot keep up with the live stream: let the client resume later.
      this.held = []
      this.sender.closeSlow()
      return
    }
    this.held.push(event)
  }
}

export type SubscribeOutcome =
  | { type: 'live'; seq: number; epoch: string; mode: 'snapshot' | 'replay' | 'reset' }
  | { type: 'cancelled' }
  | { type: 'error'; code: 'unknown_match' | 'unavailable'; message: string }

class Cancelled extends Error {}

function asBuffer(frame: Uint8Array): Buffer {
  return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
}

/**
 * Run a subscription to live. The caller has registered `sub` with its connection; on any outcome
 * other than `live` the subscription has left the hub.
 */
export async function startSubscription(
  o: ResumeOptions,
  sub: Subscription,
  request: { since?: number; epoch?: string },
): Promise<SubscribeOutcome> {
  const { bus, hub } = o
  const matchId = sub.matchId
  let record: MatchRecord | null = null
  try {
    if (request.since === undefined || !hub.hasReadyChannel(matchId)) {
      record = await sharedGetMatch(bus, matchId, o.snapshotReuseMs ?? SNAPSHOT_REUSE_MS)
      if (!record) return { type: 'error', code: 'unknown_match', message: `no match ${matchId}` }
    }
  } catch (err) {
    return { type: 'error', code: 'unavailable', message: `the match store is unavailable: ${(err as Error).message}` }
  }
  if (!sub.active()) return { type: 'cancelled' }

  let ch: MatchChannel
  try {
    ch = hub.join(sub)
    sub.state = 'pending'
    await ch.ready
  } catch (err) {
    hub.leave(sub)
    return { type: 'error', code: 'unavailable', message: `the event log is unavailable: ${(err as Error).message}` }
  }

  try {
    let cursor: number
    let mode: 'snapshot' | 'replay' | 'reset'
    if (request.since !== undefined) {
      const since = request.since
      const first = await bus.readEvents(matchId, since, o.pageSize)
      check(sub)
      const head = first.events[0]
      const replayable =
        (request.epoch === undefined || request.epoch === first.epoch) &&
        since <= first.lastSeq &&
        since >= first.firstSeq - 1 &&
        (head === undefined || head.seq === since + 1)
      if (replayable) {
        mode = 'replay'
        const c = await pump(o, sub, ch, since, first)
        cursor = c ?? (await snapshot(o, sub, ch, record, true))
        if (c === null) mode = 'reset'
      } else {
        mode = 'reset'
        cursor = await snapshot(o, sub, ch, record, true)
      }
    } else {
      mode = 'snapshot'
      cursor = await snapshot(o, sub, ch, record, false)
    }
    // Reach what the hub holds for us (normally already there).
    let c = await pump(o, sub, ch, cursor, undefined)
    if (c === null) {
      // The log lost what we needed meanwhile (retention): start over from a snapshot.
      mode = 'reset'
      c = await snapshot(o, sub, ch, record, true)
      c = await pump(o, sub, ch, c, undefined)
      if (c === null) throw new Error('log keeps moving under the subscription')
    }
    cursor = c
    check(sub)
    // --- synchronous from here: the switch to live ---
    const epoch = ch.epoch
    sub.sender.send(encodeFrame({ type: 'subscribed', matchId, seq: cursor, epoch }))
    for (const ev of sub.held) {
      if (ev.seq <= cursor) continue
      if (ev.seq !== cursor + 1) throw new Error(`held events not contiguous: ${cursor} then ${ev.seq}`)
      sub.sender.send(ev.frame as Buffer)
      cursor = ev.seq
    }
    sub.held = []
    hub.goLive(sub, cursor)
    sub.state = 'live'
    return { type: 'live', seq: cursor, epoch, mode }
  } catch (err) {
    hub.leave(sub)
    sub.held = []
    if (err instanceof Cancelled || !sub.active()) return { type: 'cancelled' }
    return { type: 'error', code: 'unavailable', message: `subscribe failed: ${(err as Error).message}` }
  }
}

function check(sub: Subscription): void {
  if (!sub.active()) throw new Cancelled()
}

/** Caught up when the held events continue the cursor, or nothing is held and the hub is not ahead. */
function caughtUp(sub: Subscription, ch: MatchChannel, cursor: number): boolean {
  const first = sub.held[0]
  return first ? first.seq <= cursor + 1 : cursor >= ch.lastSeq
}

/**
 * Send log events after `cursor` until caught up with the hub. Returns the new cursor, or null when
 * the log no longer has the next seq (a reset is needed).
 */
async function pump(
  o: ResumeOptions,
  sub: Subscription,
  ch: MatchChannel,
  cursor: number,
  first: LogRead | undefined,
): Promise<number | null> {
  let read = first
  let idle = 0
  for (;;) {
    check(sub)
    if (read) {
      if (read.epoch !== ch.epoch && ch.epoch !== '') return null
      const events: StoredEvent[] = read.events
      for (const e of events) {
        if (e.seq <= cursor) continue
        if (e.seq !== cursor + 1) return null
        if (sub.sender.bufferedAmount > o.replayHighWaterBytes) await drain(o, sub)
        // A page of the replay (and `subscribed` after the last) in one write per tick.
        sub.sender.holdTick()
        if (!sub.sender.send(asBuffer(e.frame))) throw new Cancelled()
        cursor = e.seq
        o.stats.replayedEvents++
      }
      if (events.length === 0 && !caughtUp(sub, ch, cursor)) {
        // The hub has delivered a seq the log read did not show yet (a lagging read).
        if (++idle > 50) throw new Error(`log read stays behind at ${cursor}`)
        await new Promise((r) => setTimeout(r, Math.min(10 * idle, 200)))
      } else idle = 0
    }
    if (caughtUp(sub, ch, cursor)) return cursor
    read = await o.bus.readEvents(sub.matchId, cursor, o.pageSize)
  }
}

async function drain(o: ResumeOptions, sub: Subscription): Promise<void> {
  const deadline = Date.now() + o.replayStallMs
  while (sub.active() && sub.sender.bufferedAmount > o.replayHighWaterBytes) {
    if (Date.now() > deadline) {
      sub.sender.closeSlow()
      break
    }
    await sub.sender.waitBelow(o.replayHighWaterBytes)
  }
  check(sub)
}

/**
 * Reads of a match record, per bus: subscribers arriving together (a burst of connections to one
 * match) share one read instead of each making its own, in flight and for `snapshotReuseMs` after.
 */
const matchReads = new WeakMap<Bus, Map<string, Promise<MatchRecord | null>>>()

function sharedGetMatch(bus: Bus, matchId: string, reuseMs: number): Promise<MatchRecord | null> {
  let reads = matchReads.get(bus)
  if (!reads) {
    reads = new Map()
    matchReads.set(bus, reads)
  }
  const inFlight = reads.get(matchId)
  if (inFlight) return inFlight
  const read = bus.getMatch(matchId)
  const all = reads
  all.set(matchId, read)
  const done = () => {
    if (all.get(matchId) === read) all.delete(matchId)
  }
  // A record is reused for reuseMs; "no such match" and failures are not.
  read.then((record) => (record && reuseMs > 0 ? setTimeout(done, reuseMs).unref() : done()), done)
  return read
}

/** A snapshot frame and its seq, as built for one or more subscribers (see `snapshot`). */
export interface BuiltSnapshot {
  frame: Buffer
  seq: number
}

/**
 * How long a built snapshot (and a match record read) is reused for later subscribers of the same
 * position. A burst of subscribers — a reconnect storm after a gateway died, the start of a big
 * match — otherwise rebuilt it over and over: with sharing only while in flight, 10,000
 * connections to one match made ~1,000 builds (three NATS reads each) and ~3,000 record reads.
 * Nothing in a reused snapshot is older than a new build would be: it is only reused for the same
 * delivered seq and epoch and while no chat reached the channel (see `snapshot`), its scoreboard
 * is folded up to its seq, and a match's other fields do not change after it is created. The
 * bound only keeps a quiet match from holding its snapshot (and a record) in memory.
 */
export const SNAPSHOT_REUSE_MS = 1000

/** A built snapshot kept on its channel for reuse (see SNAPSHOT_REUSE_MS). */
export interface ReusableSnapshot {
  /** Position it was built for: delivered seq, epoch, reset. */
  key: string
  /** The channel's chat version when its reads started. */
  chatVersion: number
  /** When its reads started (Date.now()). */
  at: number
  built: BuiltSnapshot
}

/** Send a snapshot covering at least what the hub has delivered; returns its seq. */
async function snapshot(o: ResumeOptions, sub: Subscription, ch: MatchChannel, known: MatchRecord | null, reset: boolean): Promise<number> {
  // Subscribers of a match that ask while a snapshot of the same position (delivered seq, epoch,
  // reset) is being built get that one: its reads started after the hub had delivered the same
  // seq, so it covers what they need, and the frame is one Buffer written to each socket (as
  // fan-out does). A built one is reused for SNAPSHOT_REUSE_MS while the position is the same and
  // no chat (or chat deletion) reached the channel since its reads started: the same events, the
  // same recent chat as a new build would read. (A chat message already stored whose live copy
  // has not reached this node yet can be missing, as from a snapshot shared in flight: chat is
  // best effort; events never are, the seq in the key guards them.)
  const key = `${ch.lastSeq}\u0000${ch.epoch}\u0000${reset ? 1 : 0}`
  const now = Date.now()
  const reuseMs = o.snapshotReuseMs ?? SNAPSHOT_REUSE_MS
  const kept = ch.reusable
  let building: Promise<BuiltSnapshot> | BuiltSnapshot | undefined =
    kept && kept.key === key && kept.chatVersion === ch.chatVersion && now - kept.at < reuseMs ? kept.built : ch.snapshots.get(key)
  if (!building) {
    const chatVersion = ch.chatVersion
    const built = buildSnapshot(o, sub.matchId, ch.lastSeq, known, reset)
    building = built
    ch.snapshots.set(key, built)
    const done = () => {
      if (ch.snapshots.get(key) === built) ch.snapshots.delete(key)
    }
    built.then((b) => {
      done()
      if (reuseMs > 0) keepForReuse(ch, { key, chatVersion, at: now, built: b }, reuseMs)
    }, done)
  }
  const { frame, seq } = await building
  check(sub)
  if (sub.sender.bufferedAmount > o.replayHighWaterBytes) await drain(o, sub)
  // The snapshot, `subscribed` and `online` normally follow in this tick: one write for all.
  sub.sender.holdTick()
  if (!sub.sender.send(frame)) throw new Cancelled()
  o.stats.snapshots++
  if (reset) o.stats.resets++
  return seq
}

function keepForReuse(ch: MatchChannel, entry: ReusableSnapshot, reuseMs: number): void {
  if (ch.closed || (ch.reusable !== undefined && ch.reusable.at > entry.at)) return
  ch.reusable = entry
  // Not kept past its use: a quiet match must not hold its snapshot Buffer.
  setTimeout(() => {
    if (ch.reusable === entry) ch.reusable = undefined
  }, reuseMs).unref()
}

async function buildSnapshot(
  o: ResumeOptions,
  matchId: string,
  tail: number,
  known: MatchRecord | null,
  reset: boolean,
): Promise<BuiltSnapshot> {
  const { bus } = o
  const n = o.snapshotEvents
  const [record, read, chat] = await Promise.all([
    known ? Promise.resolve(known) : bus.getMatch(matchId),
    bus.readEvents(matchId, Math.max(0, tail - n), Math.max(1, n * 2)),
    o.snapshotChat > 0 ? bus.recentChat(matchId, o.snapshotChat) : Promise.resolve([]),
  ])
  if (!record) throw new Error(`match ${matchId} disappeared`)
  const events = n > 0 ? read.events.slice(-n) : []
  const last = events[events.length - 1]
  const seq = last ? last.seq : Math.max(read.lastSeq, tail)
  // A page seeds its scoreboard from this view *at `seq`* and ignores events up to it, so the view
  // must be at `seq` too. Its seq is `seq` unless the stored board is already past it (read after
  // more events were folded): the page then applies those events again, which ends at the same
  // scoreboard (a score-bearing event carries the whole score).
  const board = await boardAt(bus, matchId, record.board, seq, read)
  const current = board === record.board ? record : { ...record, board }
  const frame = encodeSnapshot(
    { matchId, match: matchView(current, seq), seq, epoch: read.epoch, ...(reset ? { reset: true } : {}) },
    events.map((e) => e.frame),
    chat.map((c) => c.frame),
  )
  return { frame, seq }
}

/** At most this many events are read from the log to bring a lagging stored board up to a snapshot. */
export const MAX_BOARD_FOLD = 1000

/**
 * The stored `board` brought up to `seq`, in memory (the gateway never writes the record). The
 * bus folds each event into the stored board only after the event is durable (and may coalesce
 * those writes under load), so the board can lag the log. `read` is the snapshot's log read: it
 * ends at or before `seq`, and its events are folded first-hand; what lies before it (or after it,
 * for a snapshot without events) is read from the log. The board itself when it is current: no
 * read, no copy.
 */
async function boardAt(bus: Bus, matchId: string, board: BoardState, seq: number, read: LogRead): Promise<BoardState> {
  if (board.seq >= seq) return board
  let b = board
  const held = read.events.filter((e) => e.seq <= seq)
  const first = held[0]
  // Before the read (unless the log holds nothing older: then the fold starts at `first`).
  if (first && first.seq > b.seq + 1 && first.seq > read.firstSeq) b = await foldLog(bus, matchId, b, first.seq - 1, read.epoch)
  b = foldFromOldest(b, held)
  if (b.seq < seq) b = await foldLog(bus, matchId, b, seq, read.epoch)
  return b
}

/**
 * `board` with the log's events up to `upTo` folded in. A board more than MAX_BOARD_FOLD events
 * behind starts at the last MAX_BOARD_FOLD (as it does where older events aged out of the log):
 * the recent events are the ones that decide the score, and the read stays bounded.
 */
async function foldLog(bus: Bus, matchId: string, board: BoardState, upTo: number, epoch: string): Promise<BoardState> {
  const events: StoredEvent[] = []
  let after = Math.max(board.seq, upTo - MAX_BOARD_FOLD)
  while (after < upTo) {
    const page = await bus.readEvents(matchId, after, upTo - after)
    // A log recreated meanwhile has other seqs: nothing of it belongs to this board.
    if (page.epoch !== epoch) break
    const before = events.length
    for (const e of page.events) if (e.seq > after && e.seq <= upTo) events.push(e)
    if (events.length === before) break
    after = (events[events.length - 1] as StoredEvent).seq
  }
  return foldFromOldest(board, events)
}

/**
 * The hub: match → local subscribers, and one bus subscription (events + chat) per match that has
 * at least one local subscriber, dropped when the last one leaves.
 *
 * Ordering lives here, per match, not per socket: the hub delivers seq n+1 only after n. A live
 * event that jumps ahead (core NATS is at most once: a publish can be lost) is held while the
 * missing seqs are read from the log; duplicates (seq ≤ last delivered) are dropped. Subscribers
 * therefore see one gap-free, duplicate-free stream per match.
 *
 * A subscriber is either *pending* (still replaying or building its snapshot: the hub hands it each
 * delivered event to keep, see resume.ts) or *live* (the hub writes the event's bytes straight to
 * its socket). Fan-out writes the same Buffer to every live socket; nothing is encoded per socket.
 * The complete WebSocket frame (header + payload, frame.ts) is built once per event or broadcast
 * here, not per socket; each Sender writes it with one `write` where it can (sender.ts).
 *
 * Chat coalescing: droppable frames of a match (chat, `online`) that arrive while the match's
 * window (`chatCoalesceMs`) is open are collected and, when it ends, written to each live socket
 * together as one Buffer in one write. At 100 chat messages/s to thousands of sockets that
 * divides the number of writes — the gateway's main cost — by the frames per window. Events
 * never wait for it: they are written at once (they may overtake pending chat, which carries no
 * order relative to events), and a window that ends on its own is written a chunk of sockets per
 * event-loop turn (chunked.ts), so an event that arrives meanwhile goes out between two chunks
 * instead of after all of them (the `online` count of a 5,000-socket match is ~40 ms of writes
 * every second). What must not reorder is written out at once, first: the window before a
 * must-deliver broadcast of the match (chat_deleted must not overtake the chat it deletes) or a
 * subscriber going live (it must get exactly the chat that arrived while it was live, as without
 * the window), and an earlier window before a later one. Closing a channel clears its timer and
 * drops a write in progress (no subscriber is left); `closeAll` (gateway stop) writes first.
 */
import type { Bus, BusSubscription, LiveChat, LiveEvent, StoredEvent } from '@touchline/bus'
import type { Logger } from 'pino'
import { ChunkedRun, FANOUT_CHUNK } from './chunked.ts'
import { FrameBatch, textFrame } from './frame.ts'
import type { BuiltSnapshot, ReusableSnapshot } from './resume.ts'
import type { Sender } from './sender.ts'
import type { GatewayStats } from './stats.ts'

export interface HubSubscriber {
  readonly matchId: string
  readonly sender: Sender
  /** While pending: keep this event (delivered in seq order) for the switch to live. */
  hold(event: LiveEvent): void
}

export interface HubOptions {
  bus: Bus
  stats: GatewayStats
  log: Logger
  /** Page size when filling a gap from the log. */
  pageSize: number
  /** Seconds from acceptance to the last local socket write, per event and match. */
  observeFanout?: (seconds: number) => void
  /** A match gained (+1) or lost (-1) a local subscriber (for presence). */
  onMembership?: (matchId: string, delta: 1 | -1) => void
  /** The match's log moved past what can be delivered in order (retention cut, new epoch). */
  onResync?: (sub: HubSubscriber) => void
  /** The chat coalescing window in ms, read at each window's start (a reload applies to the next); 0 = off. */
  chatCoalesceMs?: () => number
  /** Sockets an ended window is written to per event-loop turn (default FANOUT_CHUNK; tests use less). */
  writeChunk?: number
}

/** A window's batch is written early once it holds this many payload bytes (bounds one write and the memory held). */
export const CHAT_BATCH_MAX_BYTES = 64 * 1024

export class MatchChannel {
  readonly matchId: string
  readonly pending = new Set<HubSubscriber>()
  readonly live = new Set<HubSubscriber>()
  /**
   * Live subscribers whose replay went further than the hub has delivered (the log read saw
   * events whose live copies are still on the way): subscriber → last seq it already has. They
   * join `live` at the first delivered event after that seq, so nothing reaches them twice.
   */
  readonly joining = new Map<HubSubscriber, number>()
  /** The last seq the hub delivered (-1 until the channel is ready). */
  lastSeq = -1
  epoch = ''
  isReady = false
  closed = false
  filling = false
  /** Live events waiting for initialisation or for a gap to be filled. */
  queue: LiveEvent[] = []
  /** When the hub last delivered an event of the match or read its log position (ms). */
  movedAt = 0
  /** A log position read (Hub#checkQuiet, Hub#catchUp) is in flight. */
  checking = false
  ready: Promise<void>
  subs: BusSubscription[] = []
  /** Snapshots being built for this match, by position (resume.ts shares them while in flight). */
  readonly snapshots = new Map<string, Promise<BuiltSnapshot>>()
  /** The last snapshot built, reused for a while (resume.ts SNAPSHOT_REUSE_MS). */
  reusable: ReusableSnapshot | undefined
  /** Counts chat messages and must-deliver broadcasts (chat deletions): a snapshot built before a change is not reused. */
  chatVersion = 0
  /** Droppable frames collected in the open coalescing window, and the timer that ends it. */
  chatBatch: FrameBatch | undefined
  chatTimer: NodeJS.Timeout | undefined
  /** An ended window still being written, a chunk of sockets per turn. */
  chatWrite: ChunkedRun<HubSubscriber> | undefined

  constructor(matchId: string) {
    this.matchId = matchId
    this.ready = Promise.resolve()
  }

  get size(): number {
    return this.pending.size + this.live.size + this.joining.size
  }
}

function toBuffer(frame: Uint8Array): Buffer {
  return Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
}

export function liveOf(e: StoredEvent): LiveEvent {
  return { matchId: e.matchId, seq: e.seq, acceptedAt: e.acceptedAt, frame: toBuffer(e.frame) }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export class Hub {
  readonly channels = new Map<string, MatchChannel>()
  /** The channel each subscriber joined: leave() must find it even after a new one replaced it. */
  readonly #member = new WeakMap<HubSubscriber, MatchChannel>()
  readonly #o: HubOptions

  constructor(options: HubOptions) {
    this.#o = options
  }

  get subscriptionCount(): number {
    let n = 0
    for (const ch of this.channels.values()) n += ch.size
    return n
  }

  /** A ready channel exists: the match is known to exist (some subscriber checked it). */
  hasReadyChannel(matchId: string): boolean {
    return this.channels.get(matchId)?.isReady === true
  }

  /** Add a pending subscriber; creates the channel (and its bus subscriptions) when needed. */
  join(sub: HubSubscriber): MatchChannel {
    if (this.#member.has(sub)) throw new Error('subscriber joined twice')
    let ch = this.channels.get(sub.matchId)
    if (!ch) ch = this.#open(sub.matchId)
    ch.pending.add(sub)
    this.#member.set(sub, ch)
    this.#o.onMembership?.(sub.matchId, 1)
    return ch
  }

  /**
   * Move a pending subscriber to live; it has every event up to `sentSeq`. Synchronous: nothing
   * can be delivered in between. When the hub has not delivered `sentSeq` yet, the subscriber
   * waits in `joining` and starts with the event after it.
   */
  goLive(sub: HubSubscriber, sentSeq: number): void {
    const ch = this.#member.get(sub)
    if (!ch || ch.closed || !ch.pending.delete(sub)) return
    // Chat collected before this subscriber was live would reach it late (and maybe twice, with
    // its snapshot's recent chat): the others get it now.
    this.#flushChat(ch)
    if (sentSeq > ch.lastSeq) ch.joining.set(sub, sentSeq)
    else ch.live.add(sub)
  }

  /** Remove a subscriber from the channel it joined (even if that channel was closed since). */
  leave(sub: HubSubscriber): void {
    const ch = this.#member.get(sub)
    if (!ch) return
    this.#member.delete(sub)
    ch.pending.delete(sub)
    ch.live.delete(sub)
    ch.joining.delete(sub)
    this.#o.onMembership?.(sub.matchId, -1)
    if (ch.size === 0) this.#close(ch)
  }

  /**
   * Write one pre-encoded frame to every live socket of a match (chat_deleted, online, …). A
   * droppable one joins the match's coalescing window; a must-deliver one goes out at once, after
   * the window's pending frames (so it never overtakes them).
   */
  broadcast(matchId: string, frame: Buffer, droppable: boolean): void {
    const ch = this.channels.get(matchId)
    if (!ch || ch.closed) return
    if (droppable) {
      this.#droppable(ch, frame, false)
      return
    }
    ch.chatVersion++
    this.#flushChat(ch)
    let framed: Buffer | undefined
    for (const sub of this.#liveAndJoining(ch)) {
      framed ??= textFrame(frame)
      sub.sender.send(frame, framed)
    }
  }

  /** Write the match's pending coalesced frames now (no-op when there are none). */
  flushChat(matchId: string): void {
    const ch = this.channels.get(matchId)
    if (ch) this.#flushChat(ch)
  }

  /** After the bus reconnected: live publishes may have been lost meanwhile; fill from the log. */
  catchUp(): void {
    for (const ch of this.channels.values()) {
      if (ch.isReady && !ch.filling && !ch.closed) this.#checkPosition(ch, 'reconnect')
    }
  }

  /**
   * Fill what the live subject never brought, for every match that has been quiet for `quietMs`.
   * A gap is otherwise noticed at the match's next live event, which may be minutes away: the live
   * copy of a stored event is lost when ingest dies between the store's ack and its live publish
   * leaving the process (the commentator may even have had the 201), and the log is the truth.
   * One log-position read per quiet match per `quietMs`; matches with live events are never read.
   */
  checkQuiet(quietMs: number, now = Date.now()): void {
    for (const ch of this.channels.values()) {
      if (!ch.isReady || ch.filling || ch.closed || ch.checking || now - ch.movedAt < quietMs) continue
      this.#checkPosition(ch, 'quiet')
    }
  }

  #checkPosition(ch: MatchChannel, why: 'reconnect' | 'quiet'): void {
    ch.checking = true
    this.#o.bus.logPosition(ch.matchId).then(
      (pos) => {
        ch.checking = false
        ch.movedAt = Date.now()
        if (ch.closed || !ch.isReady) return
        if (pos.epoch !== ch.epoch) this.#resync(ch, pos.lastSeq, pos.epoch)
        else if (pos.lastSeq > ch.lastSeq && !ch.filling) {
          if (why === 'quiet') {
            this.#o.stats.liveCopiesMissed += pos.lastSeq - ch.lastSeq
            this.#o.log.warn(
              { matchId: ch.matchId, from: ch.lastSeq + 1, to: pos.lastSeq },
              'live copies never arrived: delivering from the log',
            )
          }
          void this.#fill(ch, pos.lastSeq)
        }
      },
      (err) => {
        ch.checking = false
        ch.movedAt = Date.now()
        this.#o.log.warn(
          { err, matchId: ch.matchId },
          why === 'reconnect' ? 'catch-up after reconnect failed' : 'log position check failed',
        )
      },
    )
  }

  /** Stop: pending coalesced frames are written first, then every channel is closed (no timer left). */
  closeAll(): void {
    for (const ch of [...this.channels.values()]) {
      this.#flushChat(ch)
      this.#close(ch)
    }
  }

  #open(matchId: string): MatchChannel {
    const ch = new MatchChannel(matchId)
    this.channels.set(matchId, ch)
    const { bus } = this.#o
    // Subscribe first, then read the position: nothing published after the read can be missed.
    try {
      ch.subs.push(bus.subscribeEvents(matchId, (ev) => this.#onLive(ch, ev)))
      ch.subs.push(bus.subscribeChat(matchId, (c) => this.#onChat(ch, c)))
    } catch (err) {
      this.#close(ch)
      throw err
    }
    ch.ready = bus.logPosition(matchId).then(
      (pos) => {
        if (ch.closed) return
        ch.lastSeq = pos.lastSeq
        ch.epoch = pos.epoch
        ch.movedAt = Date.now()
        ch.isReady = true
        this.#process(ch)
      },
      (err: unknown) => {
        // Drop the channel so that the next subscribe tries again; its waiters get `unavailable`.
        if (this.channels.get(matchId) === ch) this.#close(ch)
        throw err
      },
    )
    ch.ready.catch(() => {})
    return ch
  }

  #close(ch: MatchChannel): void {
    if (ch.closed) return
    ch.closed = true
    ch.queue = []
    // No subscriber is left (or the node stops, after closeAll flushed): nothing to deliver.
    if (ch.chatTimer) clearTimeout(ch.chatTimer)
    ch.chatTimer = undefined
    ch.chatBatch = undefined
    ch.chatWrite?.cancel()
    ch.chatWrite = undefined
    ch.reusable = undefined
    for (const s of ch.subs) {
      try {
        s.unsubscribe()
      } catch {}
    }
    ch.subs = []
    if (this.channels.get(ch.matchId) === ch) this.channels.delete(ch.matchId)
  }

  #onLive(ch: MatchChannel, raw: LiveEvent): void {
    if (ch.closed) return
    const ev: LiveEvent = Buffer.isBuffer(raw.frame) ? raw : { ...raw, frame: toBuffer(raw.frame) }
    if (!ch.isReady || ch.filling) {
      ch.queue.push(ev)
      return
    }
    if (ev.seq <= ch.lastSeq) return
    if (ev.seq === ch.lastSeq + 1) {
      this.#deliver(ch, ev)
      return
    }
    ch.queue.push(ev)
    this.#process(ch)
  }

  #onChat(ch: MatchChannel, chat: LiveChat): void {
    if (ch.closed) return
    ch.chatVersion++
    this.#droppable(ch, toBuffer(chat.frame), true)
  }

  /** A chat or `online` frame: into the match's open window, or written at once when coalescing is off. */
  #droppable(ch: MatchChannel, payload: Buffer, isChat: boolean): void {
    if (ch.live.size + ch.joining.size === 0) return
    const framed = textFrame(payload)
    const windowMs = this.#o.chatCoalesceMs?.() ?? 0
    if (windowMs <= 0) {
      let n = 0
      for (const sub of this.#liveAndJoining(ch)) if (sub.sender.sendDroppable(payload, framed)) n++
      if (isChat) this.#o.stats.chatFannedOut += n
      return
    }
    let batch = ch.chatBatch
    if (!batch) {
      batch = new FrameBatch()
      ch.chatBatch = batch
      const timer = setTimeout(() => this.#flushChat(ch, true), windowMs)
      timer.unref()
      ch.chatTimer = timer
    }
    batch.add(payload, framed, isChat)
    if (batch.payloadBytes >= CHAT_BATCH_MAX_BYTES) this.#flushChat(ch, true)
  }

  /**
   * End the match's coalescing window: its frames, joined once, in one write per socket that is
   * live (or joining) now. `chunked`: a chunk of sockets per turn (a window that ended on its
   * own); otherwise all now (something that must not overtake it comes next). An earlier window
   * still being written is finished first, so that every socket gets the windows in order.
   */
  #flushChat(ch: MatchChannel, chunked = false): void {
    ch.chatWrite?.finish()
    ch.chatWrite = undefined
    const batch = ch.chatBatch
    if (ch.chatTimer) clearTimeout(ch.chatTimer)
    ch.chatTimer = undefined
    ch.chatBatch = undefined
    if (!batch || ch.closed) return
    const stats = this.#o.stats
    // The recipients are those of now: one that joins later got this chat in its snapshot, one
    // that leaves meanwhile (for another match, or closed) is skipped.
    const write = new ChunkedRun(
      [...this.#liveAndJoining(ch)],
      (sub) => {
        if (this.#member.get(sub) !== ch || !(ch.live.has(sub) || ch.joining.has(sub))) return
        if (sub.sender.sendDroppableBatch(batch)) stats.chatFannedOut += batch.chats
      },
      this.#o.writeChunk ?? FANOUT_CHUNK,
    )
    if (!chunked) write.finish()
    else if (!write.done) ch.chatWrite = write
  }

  /** Deliver what is contiguous in the queue; start a fill at the first gap. */
  #process(ch: MatchChannel): void {
    if (ch.closed || !ch.isReady || ch.filling) return
    if (ch.queue.length === 0) return
    const queue = ch.queue.sort((a, b) => a.seq - b.seq)
    let i = 0
    for (; i < queue.length; i++) {
      const ev = queue[i] as LiveEvent
      if (ev.seq <= ch.lastSeq) continue
      if (ev.seq !== ch.lastSeq + 1) break
      this.#deliver(ch, ev)
    }
    ch.queue = queue.slice(i)
    const next = ch.queue[0]
    if (next) void this.#fill(ch, next.seq - 1)
  }

  /** Read the log until `target` is delivered, then carry on with the queue. */
  async #fill(ch: MatchChannel, target: number): Promise<void> {
    ch.filling = true
    this.#o.stats.gapFills++
    let delay = 50
    try {
      while (!ch.closed && ch.lastSeq < target) {
        let read: Awaited<ReturnType<Bus['readEvents']>>
        try {
          read = await this.#o.bus.readEvents(ch.matchId, ch.lastSeq, Math.max(1, Math.min(this.#o.pageSize, target - ch.lastSeq)))
        } catch (err) {
          this.#o.log.warn({ err, matchId: ch.matchId }, 'gap fill: log read failed; retrying')
          await sleep(delay)
          delay = Math.min(delay * 2, 2000)
          continue
        }
        if (ch.closed) return
        if (read.epoch !== ch.epoch) {
          this.#resync(ch, read.lastSeq, read.epoch)
          break
        }
        const first = read.events[0]
        if (first && first.seq > ch.lastSeq + 1) {
          // The retained log starts after what we delivered: those seqs are gone for good.
          this.#resync(ch, read.lastSeq, read.epoch)
          break
        }
        let progressed = false
        for (const e of read.events) {
          if (e.seq === ch.lastSeq + 1) {
            this.#deliver(ch, liveOf(e))
            progressed = true
          }
        }
        if (!progressed) {
          // The live message arrived before the log shows it (a lagging read): wait a moment.
          await sleep(delay)
          delay = Math.min(delay * 2, 2000)
        } else delay = 50
      }
    } finally {
      ch.filling = false
    }
    this.#process(ch)
  }

  /** The log cannot continue where we are: every subscriber resumes from scratch (1013). */
  #resync(ch: MatchChannel, lastSeq: number, epoch: string): void {
    this.#o.log.warn({ matchId: ch.matchId, from: ch.lastSeq, to: lastSeq, epoch }, 'log cannot continue in order; resyncing subscribers')
    ch.lastSeq = lastSeq
    ch.epoch = epoch
    ch.queue = ch.queue.filter((e) => e.seq > lastSeq)
    for (const sub of [...ch.pending, ...ch.live, ...ch.joining.keys()]) this.#o.onResync?.(sub)
  }

  /** Subscribers that get non-event frames (chat, online): live ones and those joining. */
  *#liveAndJoining(ch: MatchChannel): Iterable<HubSubscriber> {
    yield* ch.live
    yield* ch.joining.keys()
  }

  #deliver(ch: MatchChannel, ev: LiveEvent): void {
    ch.lastSeq = ev.seq
    ch.movedAt = Date.now()
    if (ch.joining.size > 0) {
      for (const [sub, sentSeq] of ch.joining) {
        if (ev.seq <= sentSeq) continue
        ch.joining.delete(sub)
        ch.live.add(sub)
      }
    }
    for (const sub of ch.pending) sub.hold(ev)
    const frame = ev.frame as Buffer
    // Built once for every socket of the match; skipped when nobody is live yet.
    const framed = ch.live.size > 0 ? textFrame(frame) : undefined
    let n = 0
    for (const sub of ch.live) if (sub.sender.send(frame, framed)) n++
    this.#o.stats.eventsFannedOut += n
    if (n > 0 && this.#o.observeFanout) this.#o.observeFanout((Date.now() - ev.acceptedAt) / 1000)
  }
}

/**
 * The bounded writer of one socket (after centrifuge's writer.go, in ws terms).
 *
 * `ws.bufferedAmount` (the socket's pending writes plus ws's own queue) is the backpressure
 * signal, checked before every write:
 *
 * - droppable frames (chat, online counts) are dropped — and counted — once the buffer holds more
 *   than `chatShedBytes`, so match events keep flowing to a socket that is falling behind;
 * - a must-deliver frame (event, snapshot, replies) that would take the buffer over
 *   `maxBufferedBytes` closes the socket with 1013 (the client resumes with `since`) and the socket
 *   is terminated after `slowCloseGraceMs`, because a close frame queued behind a full buffer may
 *   never leave (ws would otherwise wait 30 s for it).
 *
 * Nothing here ever waits: a slow socket costs the fan-out one comparison, never a delay.
 *
 * Frame once, write once: the hub passes, with each payload, its complete WebSocket frame built
 * once per event (frame.ts). When the socket allows it (direct.ts: ws internals as expected, no
 * permessage-deflate, nothing queued in ws's own Sender) that one Buffer is written straight to the
 * TCP socket with one `write`; otherwise the payload goes through `ws.send` as before. Both land in
 * the socket's writable buffer, which `bufferedAmount` reads, so backpressure sees both.
 *
 * The first frame of a tick goes out at once (an event is not held back while the hub loops over
 * the other sockets: that kept steady-rate p99 at 1.5–2.2× a plain ws server). From the second
 * frame for the same socket in the same tick on, the TCP socket is corked and flushed on the next
 * tick, so a burst of frames for one socket still becomes one writev instead of one syscall each.
 * `_socket` is a ws internal; when it is missing (fake sockets in tests) writes go out as they are.
 *
 * `stats.socketWrites` counts what reaches the kernel as one call: each uncorked write, and each
 * corked run once (its uncork is one writev).
 */
import { CLOSE } from '@touchline/protocol'
import { canWriteDirect, type DirectTarget, directTarget } from './direct.ts'
import type { FrameBatch } from './frame.ts'
import type { GatewayStats } from './stats.ts'

/** The part of a ws WebSocket the sender uses (a fake in unit tests). */
export interface SocketLike {
  readonly bufferedAmount: number
  readonly readyState: number
  send(data: Buffer, options: { binary: boolean }): void
  close(code?: number, reason?: string): void
  terminate(): void
}

interface Corkable {
  cork(): void
  uncork(): void
  destroyed?: boolean
}

export interface SenderLimits {
  /** A must-deliver frame that would take the buffer past this closes the socket with 1013. */
  maxBufferedBytes: number
  /** Droppable frames are dropped while the buffer holds more than this. */
  chatShedBytes: number
  /** How long a slow socket gets to take its close frame before it is terminated. */
  slowCloseGraceMs: number
  /** Cork writes of one tick into one syscall. */
  cork: boolean
}

const OPEN = 1

/**
 * A number that changes once per tick (after the current callback and its nextTick queue). One
 * `process.nextTick` per tick for all sockets, instead of one per socket per tick: a fan-out to
 * 5,000 sockets would otherwise queue 5,000 callbacks just to reset a flag.
 */
let tickId = 0
let tickScheduled = false
const nextTickId = () => {
  tickScheduled = false
  tickId++
}
function currentTick(): number {
  if (!tickScheduled) {
    tickScheduled = true
    process.nextTick(nextTickId)
  }
  return tickId
}

export class Sender {
  readonly #ws: SocketLike
  readonly #limits: SenderLimits
  readonly #stats: GatewayStats
  readonly #onSlow: (() => void) | undefined
  /** Where complete frames can be written (undefined: always `ws.send`). */
  readonly #direct: DirectTarget | undefined
  #closed = false
  #corked: Corkable | undefined
  /** The tick (see `currentTick`) of this socket's last write: a second write in it corks. */
  #lastTick = -1

  constructor(ws: SocketLike, limits: SenderLimits, stats: GatewayStats, onSlow?: () => void) {
    this.#ws = ws
    this.#limits = limits
    this.#stats = stats
    this.#onSlow = onSlow
    this.#direct = directTarget(ws)
  }

  /** True once the socket is closing (for any reason): further sends are no-ops. */
  get closed(): boolean {
    return this.#closed || this.#ws.readyState !== OPEN
  }

  get bufferedAmount(): number {
    return this.#ws.bufferedAmount
  }

  /** Whether complete frames can be written straight to this socket (see direct.ts). */
  get direct(): boolean {
    return this.#direct !== undefined
  }

  /** Stop sending (the connection is closing for another reason). */
  markClosed(): void {
    this.#closed = true
  }

  /**
   * A frame that must arrive (event, snapshot, subscribed, replies). `framed`, when given, is the
   * complete WebSocket frame of `payload` (frame.ts `textFrame`), built once for many sockets.
   * Returns false when the socket is closed or was just closed as too slow.
   */
  send(payload: Buffer, framed?: Buffer): boolean {
    if (this.closed) return false
    const buffered = this.#ws.bufferedAmount
    if (buffered > 0 && buffered + payload.byteLength > this.#limits.maxBufferedBytes) {
      this.closeSlow()
      return false
    }
    return this.#write(payload, framed)
  }

  /** A frame that may be dropped under pressure (chat, online). Returns whether it was written. */
  sendDroppable(payload: Buffer, framed?: Buffer): boolean {
    if (this.closed) return false
    if (this.#ws.bufferedAmount + payload.byteLength > this.#limits.chatShedBytes) {
      this.#stats.chatShed++
      return false
    }
    return this.#write(payload, framed)
  }

  /**
   * Droppable frames collected in a coalescing window (hub.ts): one shed check on the batch's
   * size (all of it is dropped, each frame counted, or all of it written) and one write.
   */
  sendDroppableBatch(batch: FrameBatch): boolean {
    if (this.closed) return false
    if (this.#ws.bufferedAmount + batch.payloadBytes > this.#limits.chatShedBytes) {
      this.#stats.chatShed += batch.size
      return false
    }
    if (batch.size === 1) return this.#write(batch.payloads[0] as Buffer, batch.framed)
    this.#tick()
    const d = this.#direct
    let writes = 1
    try {
      if (d && canWriteDirect(d)) {
        d.socket.write(batch.framed)
      } else {
        // ws.send frames each payload; corked (unless this tick's cork already holds the socket)
        // they still leave in one writev.
        const sock = (this.#ws as unknown as { _socket?: Corkable })._socket
        const tcp = this.#corked === undefined && sock && typeof sock.cork === 'function' && !sock.destroyed ? sock : undefined
        tcp?.cork()
        try {
          for (const p of batch.payloads) this.#ws.send(p, { binary: false })
        } finally {
          if (tcp && !tcp.destroyed) tcp.uncork()
        }
        if (!tcp) writes = batch.size
      }
    } catch {
      this.#broken()
      return false
    }
    if (this.#corked === undefined) this.#stats.socketWrites += writes
    this.#stats.framesSent += batch.size
    this.#stats.bytesSent += batch.payloadBytes
    return true
  }

  /**
   * Hold this tick's frames for this socket from now on, the first one included, and write them
   * together at the next tick: for a run of frames known to follow one another without I/O in
   * between (snapshot, held events, `subscribed`, `online` on a subscribe), which the
   * first-frame-at-once rule would otherwise split into two writes. Fan-out never calls it.
   */
  holdTick(): void {
    if (!this.#limits.cork || this.closed || this.#corked !== undefined) return
    this.#lastTick = currentTick()
    this.#cork()
  }

  /** Close with 1013 and terminate after the grace period. Idempotent. */
  closeSlow(): void {
    if (this.#closed) return
    this.#closed = true
    this.#stats.slowCloses++
    try {
      this.#ws.close(CLOSE.slowConsumer.code, CLOSE.slowConsumer.reason)
    } catch {}
    const timer = setTimeout(() => {
      try {
        this.#ws.terminate()
      } catch {}
    }, this.#limits.slowCloseGraceMs)
    timer.unref?.()
    this.#onSlow?.()
  }

  /** Resolves once the buffer is below `bytes` (or the socket closed). For replays, not fan-out. */
  async waitBelow(bytes: number, pollMs = 5): Promise<void> {
    while (!this.closed && this.#ws.bufferedAmount > bytes) {
      await new Promise((r) => setTimeout(r, pollMs))
    }
  }

  #write(payload: Buffer, framed: Buffer | undefined): boolean {
    this.#tick()
    const d = this.#direct
    try {
      if (framed !== undefined && d !== undefined && canWriteDirect(d)) d.socket.write(framed)
      else this.#ws.send(payload, { binary: false })
    } catch {
      this.#broken()
      return false
    }
    if (this.#corked === undefined) this.#stats.socketWrites++
    this.#stats.framesSent++
    this.#stats.bytesSent += payload.byteLength
    return true
  }

  /** Before a write: the first of a tick goes out at once, a later one corks the socket until the next tick. */
  #tick(): void {
    if (!this.#limits.cork) return
    const t = currentTick()
    if (this.#lastTick !== t) this.#lastTick = t
    else if (this.#corked === undefined) this.#cork()
  }

  /** Never let one broken socket stop a fan-out loop. */
  #broken(): void {
    this.#closed = true
    try {
      this.#ws.terminate()
    } catch {}
  }

  #cork(): void {
    const sock = (this.#ws as unknown as { _socket?: Corkable })._socket
    if (!sock || typeof sock.cork !== 'function' || sock.destroyed) return
    sock.cork()
    this.#corked = sock
    // The writes of this corked run leave in one writev at the uncork: counted once, here.
    this.#stats.socketWrites++
    process.nextTick(() => {
      this.#corked = undefined
      if (!sock.destroyed) sock.uncork()
    })
  }
}

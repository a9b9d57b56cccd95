/**
 * WebSocket-level heartbeat (ws README, "How to detect and close broken connections"): one timer
 * per node; every `intervalMs` each connection that answered the previous ping is pinged again,
 * and one that did not is sent close 1001 (`CLOSE.heartbeat`) and terminated at once. Any frame
 * from the client also counts as a sign of life.
 *
 * A round goes through the connections a chunk per event-loop turn (chunked.ts): pinging 5,000
 * sockets in one go is 5,000 socket writes (~30 ms) during which no event is delivered, and it was
 * the largest part of touchline's steady-rate p99 over a plain ws server (bench, 5,000 × 10
 * events/s). A round still pings everyone within a few ms, so the liveness rule (answer within one
 * interval) is unchanged.
 */
import { CLOSE } from '@touchline/protocol'
import { ChunkedRun, FANOUT_CHUNK } from './chunked.ts'

/** Connections pinged per event-loop turn. */
export const HEARTBEAT_CHUNK = FANOUT_CHUNK
export interface Beating {
  /** Set by the connection on pong (and on any message). */
  alive: boolean
  ping(): void
  /** Send a close frame (the closing handshake is not waited for here). */
  close(code: number, reason: string): void
  /** Destroy the socket now. */
  terminate(): void
}

export class Heartbeat {
  readonly #list: () => Iterable<Beating>
  readonly #onDead: (b: Beating) => void
  #timer: NodeJS.Timeout | undefined
  #intervalMs: number
  /** The round in progress (its next chunk is scheduled), if any. */
  #round: ChunkedRun<Beating> | undefined

  constructor(intervalMs: number, list: () => Iterable<Beating>, onDead: (b: Beating) => void = () => {}) {
    this.#intervalMs = intervalMs
    this.#list = list
    this.#onDead = onDead
  }

  get intervalMs(): number {
    return this.#intervalMs
  }

  start(intervalMs = this.#intervalMs): void {
    this.stop()
    this.#intervalMs = intervalMs
    this.#timer = setInterval(() => this.tick(), intervalMs)
    this.#timer.unref()
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
    this.#round?.cancel()
    this.#round = undefined
  }

  /** Start a round (unless one is still going): the first chunk now, the rest on later turns. */
  tick(): void {
    if (this.#round && !this.#round.done) return
    this.#round = new ChunkedRun(this.#list(), (b) => this.#beat(b), HEARTBEAT_CHUNK)
  }

  #beat(b: Beating): void {
    if (!b.alive) {
      this.#onDead(b)
      // The close frame first: a peer that is alive but slow (a throttled background tab) learns
      // why and reconnects with `since` (1001 says reconnect). Then terminate at once: a dead
      // peer never answers the closing handshake, and waiting for it would hold the socket for
      // ws's 30 s close timeout.
      try {
        b.close(CLOSE.heartbeat.code, CLOSE.heartbeat.reason)
      } catch {}
      try {
        b.terminate()
      } catch {}
      return
    }
    b.alive = false
    try {
      b.ping()
    } catch {}
  }
}

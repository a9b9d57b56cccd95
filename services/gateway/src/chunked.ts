/**
 * Work over every socket of a node or a match, a chunk per event-loop turn (setImmediate), so
 * that match events are not held behind it. A socket write costs ~8 µs here (mostly the
 * syscall), so one pass over 5,000 sockets is ~40 ms during which no NATS message is read: a
 * heartbeat round, an `online` count or a chat window written in one go held the events that
 * arrived meanwhile for that long (bench, 5,000 × 10 events/s). A chunk of FANOUT_CHUNK is
 * ~4 ms; events arriving meanwhile go out between two chunks.
 */
export const FANOUT_CHUNK = 500

export class ChunkedRun<T> {
  #rest: Iterator<T> | undefined
  readonly #each: (item: T) => void
  readonly #size: number
  #immediate: NodeJS.Immediate | undefined

  /** Starts at once: the first chunk now, the rest on later turns. `items` is read lazily. */
  constructor(items: Iterable<T>, each: (item: T) => void, size = FANOUT_CHUNK) {
    this.#rest = items[Symbol.iterator]()
    this.#each = each
    this.#size = size
    this.#step(size)
  }

  get done(): boolean {
    return this.#rest === undefined
  }

  /** Do what is left now: something is about to be sent that must not overtake it. */
  finish(): void {
    this.#step(Number.POSITIVE_INFINITY)
  }

  /** Drop what is left. */
  cancel(): void {
    if (this.#immediate) clearImmediate(this.#immediate)
    this.#immediate = undefined
    this.#rest = undefined
  }

  #step(n: number): void {
    if (this.#immediate) clearImmediate(this.#immediate)
    this.#immediate = undefined
    const rest = this.#rest
    if (!rest) return
    for (let i = 0; i < n; i++) {
      const next = rest.next()
      if (next.done) {
        this.#rest = undefined
        return
      }
      this.#each(next.value)
    }
    this.#immediate = setImmediate(() => this.#step(this.#size))
  }
}

/**
 * The spoiler delay: hold each item until `delayMs` after it arrived, then release items in
 * arrival order. Changing the delay re-times what is held (a shorter delay releases at once what
 * is already old enough). One timer, for the oldest held item.
 */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (h) => globalThis.clearTimeout(h as ReturnType<typeof setTimeout>),
}

interface Held<T> {
  item: T
  /** when the item counts as having happened (arrival time, or earlier for old snapshot items) */
  at: number
}

export class DelayQueue<T> {
  readonly #held: Held<T>[] = []
  readonly #release: (items: T[]) => void
  readonly #clock: Clock
  #delayMs = 0
  #timer: unknown

  constructor(release: (items: T[]) => void, clock: Clock = realClock) {
    this.#release = release
    this.#clock = clock
  }

  get delayMs(): number {
    return this.#delayMs
  }

  get size(): number {
    return this.#held.length
  }

  /** What is held, in release order. */
  items(): T[] {
    return this.#held.map((h) => h.item)
  }

  /** Time at which the oldest held item will show, or undefined when nothing is held. */
  get nextReleaseAt(): number | undefined {
    const first = this.#held[0]
    return first ? first.at + this.#delayMs : undefined
  }

  setDelay(ms: number): void {
    this.#delayMs = Math.max(0, ms)
    this.#flush()
  }

  /**
   * Add an item that happened at `at` (default now). With no delay and nothing held, it is
   * released at once, synchronously. Items are released in push order.
   */
  push(item: T, at: number = this.#clock.now()): void {
    this.#held.push({ item, at })
    this.#flush()
  }

  /** Remove held items matching `drop` (e.g. a chat message deleted by a moderator). */
  remove(drop: (item: T) => boolean): void {
    for (let i = this.#held.length - 1; i >= 0; i--) if (drop((this.#held[i] as Held<T>).item)) this.#held.splice(i, 1)
  }

  /** Forget everything held (a reset snapshot, another match). */
  clear(): void {
    this.#held.length = 0
    this.#schedule()
  }

  #flush(): void {
    const now = this.#clock.now()
    let n = 0
    // Arrival order is kept even if an older item was pushed with a later `at`.
    while (n < this.#held.length && (this.#held[n] as Held<T>).at + this.#delayMs <= now) n++
    if (n > 0) this.#release(this.#held.splice(0, n).map((h) => h.item))
    this.#schedule()
  }

  #schedule(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    const next = this.nextReleaseAt
    if (next === undefined) return
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined
        this.#flush()
      },
      Math.max(0, next - this.#clock.now()),
    )
  }
}

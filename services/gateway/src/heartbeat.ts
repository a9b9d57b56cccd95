/**
 * WebSocket-level heartbeat (ws README, "How to detect and close broken connections"): one timer
 * per node; every `intervalMs` each connection that answered the previous ping is pinged again,
 * and one that did not is terminated. Any frame from the client also counts as a sign of life.
 */
export interface Beating {
  /** Set by the connection on pong (and on any message). */
  alive: boolean
  ping(): void
  terminate(): void
}

export class Heartbeat {
  readonly #list: () => Iterable<Beating>
  readonly #onDead: (b: Beating) => void
  #timer: NodeJS.Timeout | undefined
  #intervalMs: number

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
  }

  tick(): void {
    for (const b of this.#list()) {
      if (!b.alive) {
        this.#onDead(b)
        try {
          b.terminate()
        } catch {}
        continue
      }
      b.alive = false
      try {
        b.ping()
      } catch {}
    }
  }
}

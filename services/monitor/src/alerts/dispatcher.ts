/**
 * Delivers alerts through channels without ever holding up a check: `dispatch` only queues.
 *
 * Each (channel, target) pair has its own ordered queue, so one target's `down` is delivered
 * before its `recovered`, while a receiver that is slow for one alert does not hold another
 * target's alerts — and never the checks. A failed attempt is retried with exponential back-off
 * (with jitter, capped at 30 s) up to the channel's `retries`; each attempt has the channel's
 * timeout. Past `queueMax` waiting deliveries per channel the oldest waiting one is dropped
 * (counted as failed). `flush(boundMs)` (on SIGTERM) lets pending deliveries finish for at most
 * `boundMs`, then abandons the rest: the attempt in flight is aborted, and nothing is handed to a
 * channel after that (not even a retry that was waiting for its back-off).
 */
import { redactCredentials, withAbort } from '../checks/util.ts'
import type { Alert } from '../types.ts'

export interface Channel {
  /** e.g. `webhook`, `email`, `log`; the channel target is `alerts:<name>`. */
  readonly name: string
  /** Where it delivers (shown in /status; credentials are removed there). */
  readonly target?: string
  readonly retries: number
  readonly backoffMs: number
  readonly timeoutMs: number
  send(alert: Alert, signal: AbortSignal): Promise<void>
  close?(): Promise<void>
}

export interface Delivery {
  channel: string
  alert: Alert
  ok: boolean
  attempts: number
  error?: string
  /** True for a failed attempt that will be retried (`ok` is false). */
  retrying?: boolean
  /**
   * Given up without a (complete) attempt: pushed out of a full queue, or abandoned when the
   * monitor stopped (still waiting, waiting for a retry, or cut off in flight).
   */
  dropped?: DropReason
}

export type DropReason = 'queue_full' | 'shutdown'

/** The error of a delivery abandoned at shutdown. */
export const ABANDONED = 'abandoned: the monitor is stopping'

export interface DispatcherOptions {
  channels: Channel[]
  queueMax?: number
  /** Called after each attempt (ok, failed-and-retrying, failed for good, dropped). */
  onDelivery?: (d: Delivery) => void
  /** For tests: randomness of the jitter. */
  random?: () => number
}

interface Queue {
  channel: Channel
  waiting: Alert[]
  busy: boolean
}

interface Counters {
  sent: number
  failed: number
  pending: number
}

const MAX_BACKOFF_MS = 30_000

export class Dispatcher {
  readonly #channels: Channel[]
  readonly #queueMax: number
  readonly #onDelivery: (d: Delivery) => void
  readonly #random: () => number
  readonly #queues = new Map<string, Queue>()
  readonly #counters = new Map<string, Counters>()
  readonly #abort = new AbortController()
  readonly #idle = new Set<() => void>()
  readonly #draining = new Set<Promise<void>>()

  constructor(options: DispatcherOptions) {
    this.#channels = options.channels
    this.#queueMax = options.queueMax ?? 1000
    this.#onDelivery = options.onDelivery ?? (() => {})
    this.#random = options.random ?? Math.random
    for (const c of this.#channels) this.#counters.set(c.name, { sent: 0, failed: 0, pending: 0 })
  }

  get channelNames(): string[] {
    return this.#channels.map((c) => c.name)
  }

  /** Queue `alert` on every channel except `exclude`; returns at once. */
  dispatch(alert: Alert, exclude: readonly string[] = []): void {
    for (const channel of this.#channels) {
      if (exclude.includes(channel.name)) continue
      const counters = this.#counters.get(channel.name)!
      if (this.#abort.signal.aborted) {
        counters.failed++
        this.#report({ channel: channel.name, alert, ok: false, attempts: 0, error: ABANDONED, dropped: 'shutdown' })
        continue
      }
      if (counters.pending >= this.#queueMax) this.#dropOldest(channel)
      const key = `${channel.name}\u0000${alert.target.name}`
      let q = this.#queues.get(key)
      if (!q) {
        q = { channel, waiting: [], busy: false }
        this.#queues.set(key, q)
      }
      q.waiting.push(alert)
      counters.pending++
      if (!q.busy) {
        const p = this.#drain(key, q)
        this.#draining.add(p)
        void p.finally(() => this.#draining.delete(p))
      }
    }
  }

  stats(): Counters & { channels: Record<string, Counters> } {
    const channels: Record<string, Counters> = {}
    const total = { sent: 0, failed: 0, pending: 0 }
    for (const [name, c] of this.#counters) {
      channels[name] = { ...c }
      total.sent += c.sent
      total.failed += c.failed
      total.pending += c.pending
    }
    return { ...total, channels }
  }

  /**
   * Let pending deliveries (including their retries) finish for at most `boundMs`; then abort the
   * attempts in flight and drop what is left. New alerts after this are dropped. Returns how many
   * deliveries were abandoned.
   */
  async flush(boundMs: number): Promise<number> {
    const before = this.stats().pending
    if (before > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, boundMs)
        function done() {
          clearTimeout(timer)
          resolve()
        }
        this.#idle.add(done)
        this.#checkIdle()
      })
    }
    const left = this.stats().pending
    this.#abort.abort()
    for (const q of this.#queues.values()) {
      const counters = this.#counters.get(q.channel.name)!
      // The head of a busy queue is in flight: its drain loop settles it (aborted just now).
      for (const alert of q.waiting.splice(q.busy ? 1 : 0)) {
        counters.pending--
        counters.failed++
        this.#report({ channel: q.channel.name, alert, ok: false, attempts: 0, error: ABANDONED, dropped: 'shutdown' })
      }
    }
    await Promise.allSettled([...this.#draining])
    await Promise.allSettled(this.#channels.map((c) => c.close?.()))
    return left
  }

  #dropOldest(channel: Channel): void {
    let oldest: { q: Queue; at: number } | undefined
    for (const q of this.#queues.values()) {
      const head = q.waiting[q.busy ? 1 : 0]
      if (q.channel !== channel || !head) continue
      const at = Date.parse(head.at)
      if (!oldest || at < oldest.at) oldest = { q, at }
    }
    if (!oldest) return
    const [alert] = oldest.q.waiting.splice(oldest.q.busy ? 1 : 0, 1)
    const counters = this.#counters.get(channel.name)!
    counters.pending--
    counters.failed++
    this.#report({ channel: channel.name, alert: alert!, ok: false, attempts: 0, error: 'queue full', dropped: 'queue_full' })
  }

  async #drain(key: string, q: Queue): Promise<void> {
    q.busy = true
    try {
      while (q.waiting.length > 0 && !this.#abort.signal.aborted) {
        const alert = q.waiting[0]!
        await this.#deliver(q.channel, alert)
        // flush() may have emptied the queue meanwhile.
        if (q.waiting[0] === alert) {
          q.waiting.shift()
          this.#counters.get(q.channel.name)!.pending--
        }
      }
    } finally {
      q.busy = false
      if (q.waiting.length === 0) this.#queues.delete(key)
      this.#checkIdle()
    }
  }

  async #deliver(channel: Channel, alert: Alert): Promise<void> {
    const counters = this.#counters.get(channel.name)!
    const attempts = channel.retries + 1
    for (let attempt = 1; attempt <= attempts; attempt++) {
      // Stopping (flush ran out of time, perhaps during the back-off): hand nothing more to the
      // channel. A send started with an aborted signal is only a way to lose the alert noisily.
      if (this.#abort.signal.aborted) {
        counters.failed++
        this.#report({ channel: channel.name, alert, ok: false, attempts: attempt - 1, error: ABANDONED, dropped: 'shutdown' })
        return
      }
      const signal = AbortSignal.any([AbortSignal.timeout(channel.timeoutMs), this.#abort.signal])
      try {
        // A channel that ignores its signal is cut off by it all the same.
        await withAbort(channel.send(alert, signal), signal)
        counters.sent++
        this.#report({ channel: channel.name, alert, ok: true, attempts: attempt })
        return
      } catch (err) {
        if (signal.aborted && signal.reason === this.#abort.signal.reason) {
          // Cut off by the end of the flush, not failed by the channel.
          counters.failed++
          this.#report({ channel: channel.name, alert, ok: false, attempts: attempt, error: ABANDONED, dropped: 'shutdown' })
          return
        }
        const error = describe(err, signal, channel.timeoutMs)
        if (attempt === attempts) {
          counters.failed++
          this.#report({ channel: channel.name, alert, ok: false, attempts: attempt, error })
          return
        }
        this.#report({ channel: channel.name, alert, ok: false, attempts: attempt, error, retrying: true })
        const base = Math.min(MAX_BACKOFF_MS, channel.backoffMs * 2 ** (attempt - 1))
        await sleep(base * (0.8 + 0.4 * this.#random()), this.#abort.signal)
      }
    }
  }

  #report(d: Delivery): void {
    try {
      this.#onDelivery(d)
    } catch {}
  }

  #checkIdle(): void {
    if (this.stats().pending > 0) return
    for (const f of [...this.#idle]) {
      this.#idle.delete(f)
      f()
    }
  }
}

function describe(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError') return `timed out after ${timeoutMs} ms`
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause
    return redactCredentials(cause?.code ? `${err.message}: ${cause.code}` : err.message)
  }
  return redactCredentials(String(err))
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}

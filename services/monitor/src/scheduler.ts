/**
 * Runs each job on its own fixed-rate timer: the k-th run of a job is planned at
 * `start + offset + k * interval` on the monotonic clock, whatever earlier runs did, so lateness
 * never accumulates. Jobs are independent: a job's run is started and not awaited, so a slow
 * target never delays another's schedule. A job whose previous run is still going when its next
 * tick comes skips that tick (reported, counted) rather than piling up runs.
 *
 * Every tick reports its drift (actual start − planned start), which the metrics record.
 */
import { performance } from 'node:perf_hooks'

export interface Job {
  id: string
  intervalMs: number
  run(): Promise<void>
}

export interface Tick {
  id: string
  /** How late this tick started, in ms (timer lateness / event-loop delay). */
  driftMs: number
  /** The previous run was still in flight, so this tick did not run. */
  skipped: boolean
}

export interface SchedulerOptions {
  onTick?: (tick: Tick) => void
  /** Monotonic ms clock; default performance.now. */
  now?: () => number
}

interface Entry {
  job: Job
  next: number
  timer: NodeJS.Timeout | undefined
  running: Promise<void> | undefined
}

export class Scheduler {
  readonly #entries = new Map<string, Entry>()
  readonly #onTick: (tick: Tick) => void
  readonly #now: () => number
  #running = false

  constructor(options: SchedulerOptions = {}) {
    this.#onTick = options.onTick ?? (() => {})
    this.#now = options.now ?? (() => performance.now())
  }

  get running(): boolean {
    return this.#running
  }

  /** Add a job; its first run comes `offsetMs` after start (or after now, when already started). */
  add(job: Job, offsetMs = 0): void {
    if (this.#entries.has(job.id)) throw new Error(`job ${job.id} already scheduled`)
    if (!(job.intervalMs > 0)) throw new RangeError(`job ${job.id}: intervalMs must be > 0`)
    const entry: Entry = { job, next: this.#now() + offsetMs, timer: undefined, running: undefined }
    this.#entries.set(job.id, entry)
    if (this.#running) this.#arm(entry)
  }

  has(id: string): boolean {
    return this.#entries.has(id)
  }

  /** Stop scheduling a job (a run in flight finishes on its own). */
  remove(id: string): void {
    const e = this.#entries.get(id)
    if (!e) return
    clearTimeout(e.timer)
    this.#entries.delete(id)
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    const now = this.#now()
    for (const e of this.#entries.values()) {
      if (e.next < now) e.next = now
      this.#arm(e)
    }
  }

  /** Stop planning runs; resolves when the runs in flight have settled. */
  async stop(): Promise<void> {
    this.#running = false
    for (const e of this.#entries.values()) {
      clearTimeout(e.timer)
      e.timer = undefined
    }
    await Promise.allSettled([...this.#entries.values()].map((e) => e.running))
  }

  #arm(e: Entry): void {
    const delay = Math.max(0, e.next - this.#now())
    e.timer = setTimeout(() => this.#tick(e), delay)
  }

  #tick(e: Entry): void {
    if (!this.#running || this.#entries.get(e.job.id) !== e) return
    const now = this.#now()
    const driftMs = now - e.next
    const skipped = e.running !== undefined
    if (!skipped) {
      const run = e.job
        .run()
        .catch(() => {})
        .finally(() => {
          if (e.running === run) e.running = undefined
        })
      e.running = run
    }
    try {
      this.#onTick({ id: e.job.id, driftMs, skipped })
    } catch {}
    // Fixed rate: plan from the planned time, not from now; skip whole periods we are past.
    e.next += e.job.intervalMs
    if (e.next <= now) e.next += Math.ceil((now - e.next + 1) / e.job.intervalMs) * e.job.intervalMs
    this.#arm(e)
  }
}

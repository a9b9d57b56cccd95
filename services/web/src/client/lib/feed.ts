/**
 * The commentary feed as a pure model: events by seq, with corrections and retractions applied.
 *
 * Idempotent and order-independent: adding an event whose seq is already there changes nothing,
 * and a correction or retraction that arrives before the event it refers to (a replay, a partial
 * snapshot) takes effect as soon as that event is added. The effective view of an item is its own
 * data amended by every standing correction of it, in seq order; a retraction withdraws it.
 */
import type { EventData, EventFrame, Score } from './protocol.ts'

export interface FeedEntry {
  seq: number
  kind: string
  at: string
  text?: string
  imageUrl?: string
  minute?: number
  score?: Score
  period?: string
  /** Card colour for `card` events (data.card), when given. */
  card?: string
  team?: string
  /** Withdrawn by a retraction (the seq of the retraction). */
  withdrawnBy?: number
  /** Seqs of the corrections applied to this entry, oldest first. */
  correctedBy: number[]
  /** A correction or retraction whose target is not in the feed: shown on its own as a note. */
  orphanRef?: number
}

type Stored = Pick<EventFrame, 'seq' | 'kind' | 'at' | 'data'>

const AMENDABLE = ['text', 'imageUrl', 'minute', 'score', 'period', 'card', 'team', 'player'] as const

export function isAmendment(kind: string): boolean {
  return kind === 'correction' || kind === 'retraction'
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined
}

export class Feed {
  readonly #events = new Map<number, Stored>()
  /** target seq → seqs of corrections / retractions naming it */
  readonly #refs = new Map<number, Set<number>>()
  #version = 0
  #lastSeq = 0

  /** Highest seq held. */
  get lastSeq(): number {
    return this.#lastSeq
  }

  get size(): number {
    return this.#events.size
  }

  /** Bumps on every change, so a view can skip work when nothing changed. */
  get version(): number {
    return this.#version
  }

  has(seq: number): boolean {
    return this.#events.has(seq)
  }

  get(seq: number): Stored | undefined {
    return this.#events.get(seq)
  }

  /** Add an event; false when its seq was already there (a duplicate delivery). */
  add(ev: Stored): boolean {
    if (this.#events.has(ev.seq)) return false
    this.#events.set(ev.seq, { seq: ev.seq, kind: ev.kind, at: ev.at, data: ev.data ?? {} })
    if (ev.seq > this.#lastSeq) this.#lastSeq = ev.seq
    const ref = ev.data?.refSeq
    if (isAmendment(ev.kind) && typeof ref === 'number') {
      const set = this.#refs.get(ref) ?? new Set<number>()
      set.add(ev.seq)
      this.#refs.set(ref, set)
    }
    this.#version++
    return true
  }

  clear(): void {
    this.#events.clear()
    this.#refs.clear()
    this.#lastSeq = 0
    this.#version++
  }

  /**
   * Seqs whose effective view or visibility may change when `seq` is added: itself, the entry it
   * amends and, when that is a correction, the entry the correction amended (a retracted
   * correction stops counting), and amendments of `seq` that arrived first (shown on their own
   * until now).
   */
  affected(seq: number): number[] {
    const out = [seq]
    const ref = this.#refOf(seq)
    if (ref !== undefined) {
      out.push(ref)
      const next = this.#refOf(ref)
      if (next !== undefined) out.push(next)
    }
    for (const r of this.#refs.get(seq) ?? []) out.push(r)
    return out
  }

  #refOf(seq: number): number | undefined {
    const ev = this.#events.get(seq)
    const ref = ev?.data.refSeq
    return ev && isAmendment(ev.kind) && typeof ref === 'number' ? ref : undefined
  }

  /** The effective view of one event (undefined if absent). */
  entry(seq: number): FeedEntry | undefined {
    const ev = this.#events.get(seq)
    if (!ev) return undefined
    const merged: Record<string, unknown> = { ...ev.data }
    const correctedBy: number[] = []
    let withdrawnBy: number | undefined
    const refs = [...(this.#refs.get(seq) ?? [])].sort((a, b) => a - b)
    for (const r of refs) {
      const amend = this.#events.get(r)
      if (!amend) continue
      if (amend.kind === 'retraction') {
        withdrawnBy ??= r
      } else if (!this.#retracted(r)) {
        const patch = amend.data as Record<string, unknown>
        for (const k of AMENDABLE) if (patch[k] !== undefined) merged[k] = patch[k]
        correctedBy.push(r)
      }
    }
    const data = merged as EventData
    const entry: FeedEntry = { seq, kind: ev.kind, at: ev.at, correctedBy }
    const text = str(data.text)
    if (text) entry.text = text
    const img = str(data.imageUrl)
    if (img) entry.imageUrl = img
    if (typeof data.minute === 'number') entry.minute = data.minute
    if (data.score && typeof data.score.home === 'number' && typeof data.score.away === 'number') entry.score = data.score
    const period = str(data.period)
    if (period) entry.period = period
    const card = str(merged.card)
    if (card) entry.card = card
    const team = str(merged.team)
    if (team) entry.team = team
    if (withdrawnBy !== undefined) entry.withdrawnBy = withdrawnBy
    if (isAmendment(ev.kind) && typeof ev.data.refSeq === 'number' && !this.#events.has(ev.data.refSeq)) entry.orphanRef = ev.data.refSeq
    return entry
  }

  #retracted(seq: number): boolean {
    for (const r of this.#refs.get(seq) ?? []) if (this.#events.get(r)?.kind === 'retraction') return true
    return false
  }

  /**
   * What the feed shows, newest first: every event except corrections and retractions whose
   * target is present (those show on their target instead).
   */
  entries(): FeedEntry[] {
    const seqs = [...this.#events.keys()].sort((a, b) => b - a)
    const out: FeedEntry[] = []
    for (const s of seqs) {
      if (!this.visible(s)) continue
      const e = this.entry(s)
      if (e) out.push(e)
    }
    return out
  }

  /** The newest `max` seqs shown as their own item, below `below`, newest first (a full scan: not per event). */
  newest(max: number, below = Number.POSITIVE_INFINITY): number[] {
    const seqs: number[] = []
    for (const s of this.#events.keys()) if (s < below && this.visible(s)) seqs.push(s)
    return seqs.sort((a, b) => b - a).slice(0, max)
  }

  /** Whether `seq` is shown as its own item. */
  visible(seq: number): boolean {
    const ev = this.#events.get(seq)
    if (!ev) return false
    if (!isAmendment(ev.kind)) return true
    const ref = ev.data.refSeq
    return typeof ref !== 'number' || !this.#events.has(ref)
  }

  /** Events with seq > after, oldest first (for folding the scoreboard). */
  after(after: number): Stored[] {
    return [...this.#events.values()].filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq)
  }
}

/**
 * Which items the page shows: the newest `max` items of a feed, newest first. Each change is
 * placed where it belongs instead of re-listing the whole feed, so a long match costs the same
 * per event as a short one, and the page holds at most `max` items (the feed model keeps every
 * event: amendments of older ones still find their target, and the scoreboard folds them). No DOM
 * here: FeedList (render.ts) draws what `update` returns.
 */
export class FeedWindow {
  readonly #max: number
  /** Shown seqs, newest first. */
  #seqs: number[] = []

  constructor(max: number) {
    this.#max = max
  }

  get seqs(): readonly number[] {
    return this.#seqs
  }

  /** Show the newest items of `feed` (a snapshot, another match). */
  reset(feed: Feed): readonly number[] {
    this.#seqs = feed.newest(this.#max)
    return this.#seqs
  }

  /**
   * After the seqs `changed` were added to `feed` or amended (Feed.affected): the shown seqs to
   * draw again (new, or their view changed) and those to take away.
   */
  update(feed: Feed, changed: Iterable<number>): { render: number[]; remove: number[] } {
    const render = new Set<number>()
    const remove = new Set<number>()
    let hidden = false
    for (const seq of changed) {
      const i = this.#indexOf(seq)
      const shown = this.#seqs[i] === seq
      if (!feed.visible(seq)) {
        // An amendment whose target has just arrived: it shows on its target from now on.
        if (shown) {
          this.#seqs.splice(i, 1)
          render.delete(seq)
          remove.add(seq)
          hidden = true
        }
      } else if (shown) {
        render.add(seq)
      } else if (i < this.#max) {
        this.#seqs.splice(i, 0, seq)
        render.add(seq)
        remove.delete(seq)
      }
    }
    while (this.#seqs.length > this.#max) {
      const old = this.#seqs.pop() as number
      render.delete(old)
      remove.add(old)
    }
    if (hidden && this.#seqs.length < this.#max) {
      // Room freed at the bottom: older items come back into view.
      for (const seq of feed.newest(this.#max - this.#seqs.length, this.#seqs.at(-1))) {
        this.#seqs.push(seq)
        render.add(seq)
        remove.delete(seq)
      }
    }
    return { render: [...render], remove: [...remove] }
  }

  /** Where `seq` is or would go in the newest-first list (binary search). */
  #indexOf(seq: number): number {
    let lo = 0
    let hi = this.#seqs.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if ((this.#seqs[mid] as number) > seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

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

  /** Highest seq held. */
  get lastSeq(): number {
    let max = 0
    for (const s of this.#events.keys()) if (s > max) max = s
    return max
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
    this.#version++
  }

  /** Seqs whose effective view changes when `seq` is added (itself and the entry it amends). */
  affected(seq: number): number[] {
    const ev = this.#events.get(seq)
    const ref = ev?.data.refSeq
    return ev && isAmendment(ev.kind) && typeof ref === 'number' ? [seq, ref] : [seq]
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

/** Rendering pieces shared by the spectator page and the console: a feed item, a chat line. */
import { formatTime, h, safeUrl } from './dom.ts'
import { type Feed, type FeedEntry, FeedWindow } from './feed.ts'
import type { ChatFrame } from './protocol.ts'

const KIND_LABEL: Record<string, string> = {
  goal: 'Goal',
  card: 'Card',
  score: 'Score',
  period: 'Period',
  substitution: 'Substitution',
  commentary: '',
  correction: 'Correction',
  retraction: 'Retraction',
}

export function kindLabel(entry: Pick<FeedEntry, 'kind' | 'card'>): string {
  if (entry.kind === 'card') {
    const c = (entry.card ?? '').toLowerCase()
    return c === 'red' ? 'Red card' : c === 'yellow' ? 'Yellow card' : 'Card'
  }
  return KIND_LABEL[entry.kind] ?? entry.kind
}

/** A stable string of what an entry shows, to skip re-rendering unchanged items (one entry at a time). */
export function entrySignature(e: FeedEntry): string {
  return JSON.stringify(e)
}

export function renderEntry(e: FeedEntry): HTMLLIElement {
  const cls = ['item', `kind-${e.kind.replace(/[^a-z0-9_]/g, '')}`]
  if (e.kind === 'card' && e.card) cls.push(`card-${e.card.toLowerCase().replace(/[^a-z]/g, '')}`)
  if (e.withdrawnBy !== undefined) cls.push('withdrawn')
  if (e.correctedBy.length > 0) cls.push('corrected')
  const label = kindLabel(e)
  const img = safeUrl(e.imageUrl)
  const notes: (HTMLElement | null)[] = []
  if (e.withdrawnBy !== undefined) notes.push(h('span', { class: 'badge badge-withdrawn', text: 'withdrawn' }))
  if (e.correctedBy.length > 0) notes.push(h('span', { class: 'badge badge-corrected', text: 'corrected' }))
  let text = e.text ?? ''
  if (e.orphanRef !== undefined)
    text = `${e.kind === 'retraction' ? 'Withdrawn' : 'Correction to'} #${e.orphanRef}${text ? `: ${text}` : ''}`
  if (!text && e.kind === 'period' && e.period) text = e.period
  return h(
    'li',
    { class: cls.join(' '), dataset: { seq: String(e.seq), kind: e.kind } },
    h(
      'div',
      { class: 'item-head' },
      h('span', { class: 'minute', text: e.minute !== undefined ? `${e.minute}'` : '' }),
      label ? h('span', { class: 'kind', text: label }) : null,
      e.score ? h('span', { class: 'item-score', text: `${e.score.home}–${e.score.away}` }) : null,
      ...notes,
      h('time', { class: 'at', text: formatTime(e.at), attrs: { datetime: e.at } }),
    ),
    text ? h('p', { class: 'text', text }) : null,
    img
      ? h('img', {
          class: 'picture',
          attrs: { src: img, alt: text ? text.slice(0, 120) : 'picture', loading: 'lazy', referrerpolicy: 'no-referrer' },
        })
      : null,
  )
}

export function renderChat(c: ChatFrame, mine: boolean, extra?: HTMLElement): HTMLLIElement {
  return h(
    'li',
    { class: mine ? 'chat-line mine' : 'chat-line', dataset: { id: c.id, user: c.user.id } },
    h('span', { class: 'chat-user', text: c.user.name }),
    h('span', { class: 'chat-text', text: c.text }),
    h('time', { class: 'at', text: formatTime(c.at), attrs: { datetime: c.at } }),
    extra ?? null,
  )
}

/**
 * Keep a list's items in step with `keys` (in display order) without rebuilding unchanged ones:
 * images stay loaded and scrolling stays put.
 */
export class KeyedList<K> {
  readonly #el: HTMLElement
  readonly #nodes = new Map<K, { sig: string; node: HTMLElement }>()

  constructor(el: HTMLElement) {
    this.#el = el
  }

  update<T>(items: readonly T[], key: (item: T) => K, sig: (item: T) => string, render: (item: T) => HTMLElement): void {
    const seen = new Set<K>()
    let prev: HTMLElement | null = null
    for (const item of items) {
      const k = key(item)
      seen.add(k)
      const s = sig(item)
      let cur = this.#nodes.get(k)
      if (!cur || cur.sig !== s) {
        const node = render(item)
        if (cur) cur.node.replaceWith(node)
        cur = { sig: s, node }
        this.#nodes.set(k, cur)
      }
      const want: ChildNode | null = prev ? prev.nextSibling : this.#el.firstChild
      if (want !== cur.node) this.#el.insertBefore(cur.node, want)
      prev = cur.node
    }
    for (const [k, v] of this.#nodes) {
      if (!seen.has(k)) {
        v.node.remove()
        this.#nodes.delete(k)
      }
    }
  }

  clear(): void {
    this.#nodes.clear()
    this.#el.replaceChildren()
  }
}

/**
 * The commentary list: the newest `max` items of a Feed, newest first (FeedWindow decides which).
 * Only what changed is drawn: a new event is one node inserted in place; an amendment redraws its
 * target; the oldest item drops off the bottom once `max` are shown.
 */
export class FeedList {
  readonly #el: HTMLElement
  readonly #window: FeedWindow
  readonly #nodes = new Map<number, { sig: string; node: HTMLElement }>()

  constructor(el: HTMLElement, max: number) {
    this.#el = el
    this.#window = new FeedWindow(max)
  }

  get size(): number {
    return this.#window.seqs.length
  }

  /** Draw the newest items of `feed` from scratch. */
  reset(feed: Feed): void {
    this.clear()
    for (const seq of this.#window.reset(feed)) this.#draw(feed, seq)
  }

  /** After `changed` seqs were added or amended (Feed.affected of each new event). */
  update(feed: Feed, changed: Iterable<number>): void {
    const { render, remove } = this.#window.update(feed, changed)
    for (const seq of remove) {
      this.#nodes.get(seq)?.node.remove()
      this.#nodes.delete(seq)
    }
    // Oldest first: the next older item, before which a new one goes, is then always in place.
    for (const seq of render.sort((a, b) => a - b)) this.#draw(feed, seq)
  }

  clear(): void {
    this.#nodes.clear()
    this.#el.replaceChildren()
  }

  #draw(feed: Feed, seq: number): void {
    const entry = feed.entry(seq)
    if (!entry) return
    const sig = entrySignature(entry)
    const cur = this.#nodes.get(seq)
    if (cur?.sig === sig) return
    const node = renderEntry(entry)
    if (cur) {
      cur.node.replaceWith(node)
    } else {
      const seqs = this.#window.seqs
      const older = seqs[seqs.indexOf(seq) + 1]
      this.#el.insertBefore(node, older === undefined ? null : (this.#nodes.get(older)?.node ?? null))
    }
    this.#nodes.set(seq, { sig, node })
  }
}

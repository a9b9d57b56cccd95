/** Rendering pieces shared by the spectator page and the console: a feed item, a chat line. */
import { formatTime, h, safeUrl } from './dom.ts'
import type { FeedEntry } from './feed.ts'
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

/** A stable string of what an entry shows, to skip re-rendering unchanged items. */
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

/**
 * Building DOM without HTML strings. Every string given here becomes a text node or an attribute
 * value, never markup: chat and commentary cannot inject elements or scripts.
 */
import { sliceChars } from './protocol.ts'

export type Child = Node | string | number | null | undefined | false

export interface Props {
  class?: string
  text?: string
  title?: string
  attrs?: Record<string, string | undefined>
  dataset?: Record<string, string>
  on?: { [K in keyof HTMLElementEventMap]?: (ev: HTMLElementEventMap[K]) => void }
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  if (props.class) el.className = props.class
  if (props.title) el.title = props.title
  if (props.text !== undefined) el.textContent = props.text
  for (const [k, v] of Object.entries(props.attrs ?? {})) if (v !== undefined) el.setAttribute(k, v)
  for (const [k, v] of Object.entries(props.dataset ?? {})) el.dataset[k] = v
  for (const [type, fn] of Object.entries(props.on ?? {})) el.addEventListener(type, fn as EventListener)
  append(el, ...children)
  return el
}

export function append(parent: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

/** Replace the children of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, ...children)
}

export function $<T extends HTMLElement = HTMLElement>(selector: string, root: ParentNode = document): T {
  const el = root.querySelector<T>(selector)
  if (!el) throw new Error(`page is missing ${selector}`)
  return el
}

/** An http(s) URL for an <img src> or a link, or undefined for anything else (javascript:, data:, …). */
export function safeUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined
  try {
    const u = new URL(raw, location.href)
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : undefined
  } catch {
    return undefined
  }
}

export function formatTime(iso: string): string {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text
}

/**
 * A maxlength in characters (code points), as the API counts: the attribute counts UTF-16 units,
 * so it would stop 300 emoji at 250. Input beyond `max` is cut as the attribute would cut it.
 */
export function limitChars(input: HTMLInputElement | HTMLTextAreaElement, max: number): void {
  input.addEventListener('input', () => {
    const cut = sliceChars(input.value, max)
    if (cut !== input.value) input.value = cut
  })
}

/** Chat messages of one match by id (ids are decimal strings that grow with time), with deletions. */
import { charLength, cleanText, hasVisible, LIMITS } from './protocol.ts'
import type { ChatFrame } from './protocol.ts'

/** Order of chat ids: numeric, without losing precision on long ids. */
export function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

export class ChatLog {
  readonly #msgs = new Map<string, ChatFrame>()
  readonly #deleted = new Set<string>()
  readonly #max: number

  constructor(max = 200) {
    this.#max = max
  }

  has(id: string): boolean {
    return this.#msgs.has(id) || this.#deleted.has(id)
  }

  /** Add a message; false if it is already there or was deleted. */
  add(msg: ChatFrame): boolean {
    if (this.has(msg.id)) return false
    this.#msgs.set(msg.id, msg)
    if (this.#msgs.size > this.#max) {
      const oldest = [...this.#msgs.keys()].sort(compareIds).slice(0, this.#msgs.size - this.#max)
      for (const id of oldest) this.#msgs.delete(id)
    }
    return true
  }

  /** Remove a message (also one that has not arrived yet); true if it was shown. */
  delete(id: string): boolean {
    this.#deleted.add(id)
    return this.#msgs.delete(id)
  }

  isDeleted(id: string): boolean {
    return this.#deleted.has(id)
  }

  clear(): void {
    this.#msgs.clear()
    this.#deleted.clear()
  }

  /** Oldest first. */
  list(): ChatFrame[] {
    return [...this.#msgs.values()].sort((a, b) => compareIds(a.id, b.id))
  }
}

/**
 * A chat text or viewer name as the server will take it: cleaned as docs/protocol.md "Text people
 * read" has it, and measured in characters (code points), as the server measures it: an emoji is
 * one character, not the two UTF-16 units String.length counts. `problem` says why it cannot be sent.
 */
export function prepareText(raw: string, what: 'chat' | 'name'): { text: string; problem?: string } {
  const text = cleanText(raw)
  const max = what === 'chat' ? LIMITS.chatTextMaxLength : LIMITS.viewerNameMaxLength
  if (charLength(text) > max)
    return { text, problem: `Too long: ${what === 'chat' ? 'a message' : 'a name'} has at most ${max} characters.` }
  if (text && !hasVisible(text)) return { text, problem: `${what === 'chat' ? 'The message' : 'The name'} has nothing visible in it.` }
  return { text }
}

/** The viewer's own message waiting for its `chat_ack`. */
export interface PendingChat<N> {
  clientMsgId: string
  text: string
  /** What the page shows for it. */
  node: N
  sentAt: number
  /** Its ack did not come in time or cannot come any more (its connection closed). */
  unconfirmed: boolean
}

/**
 * The viewer's messages that were sent and not yet acknowledged. An ack comes only on the
 * connection that carried the message, and the server does not replay chat on a resume, so a
 * message whose connection dropped may never be confirmed: it is marked so (not resent on its
 * own, which could post it twice). The viewer's own `chat` frame with the same text settles it,
 * since chat frames carry no clientMsgId.
 */
export class PendingChats<N> {
  readonly #byId = new Map<string, PendingChat<N>>()
  /** Texts of acknowledged messages whose own chat frame has not come yet (it usually follows the ack). */
  readonly #awaited = new Map<string, number>()

  get size(): number {
    return this.#byId.size
  }

  values(): IterableIterator<PendingChat<N>> {
    return this.#byId.values()
  }

  add(clientMsgId: string, text: string, node: N, now: number): void {
    this.#byId.set(clientMsgId, { clientMsgId, text, node, sentAt: now, unconfirmed: false })
  }

  /** Its `error` came (or its ack: see ack): no longer pending. */
  settle(clientMsgId: string): PendingChat<N> | undefined {
    const p = this.#byId.get(clientMsgId)
    this.#byId.delete(clientMsgId)
    return p
  }

  /** Its `chat_ack` came: settled, and its chat frame, still on the way, must not settle another message of the same text. */
  ack(clientMsgId: string): PendingChat<N> | undefined {
    const p = this.settle(clientMsgId)
    if (p) this.#awaited.set(p.text, (this.#awaited.get(p.text) ?? 0) + 1)
    return p
  }

  /** One of the viewer's own messages arrived as a `chat` frame: unless acknowledged already, it settles the oldest pending one with that text. */
  echo(text: string): PendingChat<N> | undefined {
    const awaited = this.#awaited.get(text) ?? 0
    if (awaited > 0) {
      if (awaited === 1) this.#awaited.delete(text)
      else this.#awaited.set(text, awaited - 1)
      return undefined
    }
    for (const p of this.#byId.values()) if (p.text === text) return this.settle(p.clientMsgId)
    return undefined
  }

  /**
   * Mark as unconfirmed the messages sent `timeoutMs` or longer before `now`, or all of them when
   * their connection closed (`lost`); returns the ones newly marked.
   */
  expire(now: number, timeoutMs: number, lost = false): PendingChat<N>[] {
    // Frames that did not come on a closed connection will not come on the next one.
    if (lost) this.#awaited.clear()
    const out: PendingChat<N>[] = []
    for (const p of this.#byId.values()) {
      if (p.unconfirmed || (!lost && now - p.sentAt < timeoutMs)) continue
      p.unconfirmed = true
      out.push(p)
    }
    return out
  }

  clear(): void {
    this.#byId.clear()
    this.#awaited.clear()
  }
}

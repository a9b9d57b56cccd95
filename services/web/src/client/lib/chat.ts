/** Chat messages of one match by id (ids are decimal strings that grow with time), with deletions. */
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

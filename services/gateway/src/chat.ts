/**
 * Chat on the gateway side: text rules, banned-word masking, the mute cache and token buckets.
 * The flow itself (token → subscribed → text → rate limits → mute → store → ack) is in
 * connection.ts; everything here is synchronous and unit-testable except the mute lookup.
 */
import type { Bus } from '@touchline/bus'
import { LIMITS, charLength, cleanText, hasVisible } from '@touchline/protocol'

export type TextCheck = { ok: true; text: string } | { ok: false; code: 'bad_request' | 'too_large'; message: string }

/** Clean (protocol's text rules), and check that something visible is left and the length (in characters, after cleaning). */
export function cleanChatText(raw: string, maxLength: number = LIMITS.chatTextMaxLength): TextCheck {
  // Anything this long cannot be valid after cleaning: answer without scanning it.
  if (raw.length > maxLength * 8) return { ok: false, code: 'too_large', message: `chat text is longer than ${maxLength} characters` }
  const text = cleanText(raw)
  if (text.length === 0) return { ok: false, code: 'bad_request', message: 'chat text is empty' }
  if (!hasVisible(text)) return { ok: false, code: 'bad_request', message: 'chat text has no visible character' }
  if (charLength(text) > maxLength) return { ok: false, code: 'too_large', message: `chat text is longer than ${maxLength} characters` }
  return { ok: true, text }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Whole-word, case-insensitive masking: each banned word becomes asterisks of its length. */
export class BannedWords {
  #re: RegExp | null = null
  #count = 0

  get size(): number {
    return this.#count
  }

  set(words: readonly string[]): void {
    const clean = [...new Set(words.map((w) => w.trim()).filter((w) => w.length > 0))]
    this.#count = clean.length
    if (clean.length === 0) {
      this.#re = null
      return
    }
    // Longest first, so that "bad word" wins over "bad".
    clean.sort((a, b) => b.length - a.length)
    this.#re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${clean.map(escapeRegExp).join('|')})(?![\\p{L}\\p{N}_])`, 'giu')
  }

  mask(text: string): string {
    if (!this.#re) return text
    return text.replace(this.#re, (m) => '*'.repeat([...m].length))
  }
}

/** The banned-words setting as stored by ingest: `{ words: [...] }` or a plain array. */
export function wordsOf(setting: unknown): string[] {
  const list = Array.isArray(setting) ? setting : (setting as { words?: unknown } | null)?.words
  return Array.isArray(list) ? list.filter((w): w is string => typeof w === 'string') : []
}

export class TokenBucket {
  readonly #capacity: number
  readonly #perMs: number
  #tokens: number
  #at: number

  constructor(capacity: number, refillPerSec: number, now = Date.now()) {
    this.#capacity = capacity
    this.#perMs = refillPerSec / 1000
    this.#tokens = capacity
    this.#at = now
  }

  /** Take one token; returns 0 when taken, else ms until one is available. */
  take(now = Date.now()): number {
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#at) * this.#perMs)
    this.#at = now
    if (this.#tokens >= 1) {
      this.#tokens -= 1
      return 0
    }
    return this.#perMs > 0 ? Math.ceil((1 - this.#tokens) / this.#perMs) : 60_000
  }
}

/**
 * Mutes per (match, user). A mute control message updates the cache at once; a lookup that found
 * no mute is trusted for `negativeTtlMs` (1 s), so a lost control message delays a mute by at
 * most that long.
 */
export class MuteCache {
  readonly #bus: Bus
  readonly #negativeTtlMs: number
  readonly #entries = new Map<string, { until: number | null; checkedAt: number }>()

  constructor(bus: Bus, negativeTtlMs = 1000) {
    this.#bus = bus
    this.#negativeTtlMs = negativeTtlMs
  }

  apply(matchId: string, userId: string, until: number, now = Date.now()): void {
    this.#entries.set(`${matchId}\u0000${userId}`, { until: until > now ? until : null, checkedAt: now })
  }

  /** The mute end time when muted now, else null. Throws when the bus cannot answer. */
  async until(matchId: string, userId: string, now = Date.now()): Promise<number | null> {
    const key = `${matchId}\u0000${userId}`
    const hit = this.#entries.get(key)
    if (hit) {
      if (hit.until !== null && hit.until > now) return hit.until
      if (hit.until === null && now - hit.checkedAt < this.#negativeTtlMs) return null
    }
    const until = await this.#bus.getMute(matchId, userId)
    const current = this.#entries.get(key)
    if (current !== hit && current) {
      // A mute control message arrived while we asked: it is newer than our answer.
      return current.until !== null && current.until > Date.now() ? current.until : null
    }
    if (this.#entries.size > 50_000) this.#entries.clear()
    this.#entries.set(key, { until: until !== null && until > now ? until : null, checkedAt: Date.now() })
    return until !== null && until > now ? until : null
  }
}

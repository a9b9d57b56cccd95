/**
 * MemoryBus: the whole Bus behaviour in one process (embedded mode, unit tests). It mirrors
 * NatsBus rule for rule — per-match seqs without holes, idempotency keys kept 24 h, retention
 * limits (count and age) with `firstSeq`, an epoch per log, the board folded on append, chat with
 * delete, control messages, mutes with expiry, settings — and `contract.ts` checks both.
 *
 * Delivery to live subscribers happens on a microtask after the append resolved its storage,
 * one listener at a time; a throwing listener is reported and never stops the others.
 */
import { applyEvent, encodeChatFrame, encodeEventFrame, EMPTY_BOARD } from '@touchline/protocol'
import { BusUnavailableError, IdempotencyConflictError, MatchExistsError, UnknownMatchError } from './errors.ts'
import type {
  AppendOptions,
  AppendResult,
  Bus,
  BusStatus,
  BusSubscription,
  ChatRecord,
  ControlMessage,
  LiveChat,
  LiveEvent,
  LogRead,
  MatchMeta,
  MatchRecord,
  NewChat,
  NewEvent,
  RetentionOptions,
  StoredEvent,
} from './types.ts'
import { DEFAULT_RETENTION, IDEMPOTENCY_TTL_MS, eventFingerprint, reportListenerError } from './util.ts'

export interface MemoryBusOptions {
  retention?: RetentionOptions
  /** Clock, for tests. */
  now?: () => number
}

interface MatchState {
  record: MatchRecord
  events: StoredEvent[]
  /** Storage time of each event (age retention counts from it, as JetStream does). */
  eventsAt: number[]
  lastSeq: number
  /** key -> first result, with the time it was stored. */
  idem: Map<string, { event: StoredEvent; fp: string; storedAt: number }>
  chat: ChatRecord[]
  chatAt: number[]
}

export class MemoryBus implements Bus {
  readonly kind = 'memory' as const
  readonly #now: () => number
  readonly #retention: Required<RetentionOptions>
  readonly #epoch = `mem-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
  readonly #matches = new Map<string, MatchState>()
  readonly #eventSubs = new Map<string, Set<(e: LiveEvent) => void>>()
  readonly #chatSubs = new Map<string, Set<(c: LiveChat) => void>>()
  readonly #controlSubs = new Set<(m: ControlMessage) => void>()
  readonly #statusListeners = new Set<(s: BusStatus) => void>()
  readonly #mutes = new Map<string, number>()
  readonly #settings = new Map<string, string>()
  #chatId = 0
  #status: BusStatus = { type: 'connected' }

  constructor(options: MemoryBusOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#retention = { ...DEFAULT_RETENTION, ...options.retention }
  }

  status(): BusStatus {
    return this.#status
  }

  onStatus(listener: (status: BusStatus) => void): () => void {
    this.#statusListeners.add(listener)
    return () => this.#statusListeners.delete(listener)
  }

  async close(): Promise<void> {
    if (this.#status.type === 'closed') return
    this.#status = { type: 'closed' }
    this.#eventSubs.clear()
    this.#chatSubs.clear()
    this.#controlSubs.clear()
    for (const l of [...this.#statusListeners]) {
      try {
        l(this.#status)
      } catch (err) {
        reportListenerError(err)
      }
    }
  }

  // ---- matches ----

  async createMatch(meta: MatchMeta): Promise<MatchRecord> {
    this.#open()
    if (this.#matches.has(meta.id)) throw new MatchExistsError(meta.id)
    const record: MatchRecord = { meta: { ...meta }, board: EMPTY_BOARD }
    this.#matches.set(meta.id, { record, events: [], eventsAt: [], lastSeq: 0, idem: new Map(), chat: [], chatAt: [] })
    return clone(record)
  }

  async getMatch(matchId: string): Promise<MatchRecord | null> {
    this.#open()
    const m = this.#matches.get(matchId)
    return m ? clone(m.record) : null
  }

  async listMatches(): Promise<MatchRecord[]> {
    this.#open()
    return [...this.#matches.values()].map((m) => clone(m.record))
  }

  async updateMatch(matchId: string, update: (current: MatchRecord) => MatchRecord | null): Promise<MatchRecord> {
    this.#open()
    const m = this.#match(matchId)
    const next = update(clone(m.record))
    if (next) m.record = clone(next)
    return clone(m.record)
  }

  // ---- the event log ----

  async appendEvent(matchId: string, event: NewEvent, options: AppendOptions = {}): Promise<AppendResult> {
    this.#open()
    const m = this.#match(matchId)
    const now = this.#now()
    const key = options.idempotencyKey
    const fp = eventFingerprint(event.kind, event.data)
    if (key !== undefined) {
      const prior = m.idem.get(key)
      if (prior && now - prior.storedAt < IDEMPOTENCY_TTL_MS) {
        if (prior.fp !== fp) throw new IdempotencyConflictError(`idempotency key reused with a different event on ${matchId}`)
        return { event: prior.event, duplicate: true }
      }
    }
    const acceptedAt = event.acceptedAt ?? now
    const seq = m.lastSeq + 1
    const at = new Date(acceptedAt).toISOString()
    const data = structuredClone(event.data)
    const frame = encodeEventFrame({ matchId, seq, kind: event.kind, at, data })
    const stored: StoredEvent = { matchId, seq, kind: event.kind, at, acceptedAt, data, frame }
    m.lastSeq = seq
    m.events.push(stored)
    m.eventsAt.push(now)
    this.#trimEvents(m, now)
    if (key !== undefined) {
      m.idem.set(key, { event: stored, fp, storedAt: now })
      this.#pruneIdem(m, now)
    }
    m.record = { ...m.record, board: applyEvent(m.record.board, { seq, kind: event.kind, data }) }
    const live: LiveEvent = { matchId, seq, acceptedAt, frame }
    deliver(this.#eventSubs.get(matchId), live)
    return { event: stored, duplicate: false }
  }

  async readEvents(matchId: string, afterSeq: number, limit: number): Promise<LogRead> {
    this.#open()
    const m = this.#match(matchId)
    this.#trimEvents(m, this.#now())
    const pos = this.#position(m)
    const first = m.events[0]
    let events: StoredEvent[] = []
    if (first && limit > 0) {
      const start = Math.max(0, afterSeq + 1 - first.seq)
      events = m.events.slice(start, start + limit)
    }
    return { events, ...pos }
  }

  async logPosition(matchId: string): Promise<{ lastSeq: number; firstSeq: number; epoch: string }> {
    this.#open()
    const m = this.#match(matchId)
    this.#trimEvents(m, this.#now())
    return this.#position(m)
  }

  subscribeEvents(matchId: string, onEvent: (event: LiveEvent) => void): BusSubscription {
    return subscribe(this.#eventSubs, matchId, onEvent)
  }

  // ---- chat ----

  async appendChat(matchId: string, chat: NewChat): Promise<ChatRecord> {
    this.#open()
    const m = this.#match(matchId)
    const now = this.#now()
    const id = String(++this.#chatId)
    const at = new Date(chat.acceptedAt ?? now).toISOString()
    const user = { id: chat.user.id, name: chat.user.name }
    const frame = encodeChatFrame({ matchId, id, user, text: chat.text, at })
    const record: ChatRecord = { matchId, id, user, text: chat.text, at, frame }
    m.chat.push(record)
    m.chatAt.push(now)
    this.#trimChat(m, now)
    deliver(this.#chatSubs.get(matchId), { matchId, id, frame })
    return record
  }

  async recentChat(matchId: string, limit: number): Promise<ChatRecord[]> {
    this.#open()
    const m = this.#match(matchId)
    this.#trimChat(m, this.#now())
    return limit > 0 ? m.chat.slice(-limit) : []
  }

  async deleteChat(matchId: string, chatId: string): Promise<boolean> {
    this.#open()
    const m = this.#match(matchId)
    const i = m.chat.findIndex((c) => c.id === chatId)
    if (i < 0) return false
    m.chat.splice(i, 1)
    m.chatAt.splice(i, 1)
    return true
  }

  subscribeChat(matchId: string, onChat: (chat: LiveChat) => void): BusSubscription {
    return subscribe(this.#chatSubs, matchId, onChat)
  }

  // ---- moderation and settings ----

  async publishControl(message: ControlMessage): Promise<void> {
    this.#open()
    deliver(this.#controlSubs, structuredClone(message))
  }

  subscribeControl(onControl: (message: ControlMessage) => void): BusSubscription {
    this.#controlSubs.add(onControl)
    return { unsubscribe: () => this.#controlSubs.delete(onControl) }
  }

  async setMute(matchId: string, userId: string, until: number): Promise<void> {
    this.#open()
    const key = `${matchId}\u0000${userId}`
    if (until <= this.#now()) this.#mutes.delete(key)
    else this.#mutes.set(key, until)
  }

  async getMute(matchId: string, userId: string): Promise<number | null> {
    this.#open()
    const key = `${matchId}\u0000${userId}`
    const until = this.#mutes.get(key)
    if (until === undefined) return null
    if (until <= this.#now()) {
      this.#mutes.delete(key)
      return null
    }
    return until
  }

  async getSetting<T = unknown>(key: string): Promise<T | null> {
    this.#open()
    const v = this.#settings.get(key)
    return v === undefined ? null : (JSON.parse(v) as T)
  }

  async putSetting(key: string, value: unknown): Promise<void> {
    this.#open()
    this.#settings.set(key, JSON.stringify(value ?? null))
  }

  // ---- internals ----

  /** After close() every call fails as NatsBus's do: the bus is unavailable. */
  #open(): void {
    if (this.#status.type === 'closed') throw new BusUnavailableError('bus closed')
  }

  #match(matchId: string): MatchState {
    const m = this.#matches.get(matchId)
    if (!m) throw new UnknownMatchError(matchId)
    return m
  }

  #position(m: MatchState): { lastSeq: number; firstSeq: number; epoch: string } {
    const first = m.events[0]
    // Never stored: 0. Everything aged out: lastSeq + 1 (nothing at or below lastSeq is replayable).
    const firstSeq = first ? first.seq : m.lastSeq > 0 ? m.lastSeq + 1 : 0
    return { lastSeq: m.lastSeq, firstSeq, epoch: this.#epoch }
  }

  #trimEvents(m: MatchState, now: number): void {
    const { maxEventsPerMatch, maxAgeMs } = this.#retention
    let drop = Math.max(0, m.events.length - maxEventsPerMatch)
    if (maxAgeMs > 0) while (drop < m.eventsAt.length && now - (m.eventsAt[drop] as number) > maxAgeMs) drop++
    if (drop > 0) {
      m.events.splice(0, drop)
      m.eventsAt.splice(0, drop)
    }
  }

  #trimChat(m: MatchState, now: number): void {
    const { maxChatPerMatch, chatMaxAgeMs } = this.#retention
    let drop = Math.max(0, m.chat.length - maxChatPerMatch)
    if (chatMaxAgeMs > 0) while (drop < m.chatAt.length && now - (m.chatAt[drop] as number) > chatMaxAgeMs) drop++
    if (drop > 0) {
      m.chat.splice(0, drop)
      m.chatAt.splice(0, drop)
    }
  }

  #pruneIdem(m: MatchState, now: number): void {
    // Insertion order is time order: stop at the first one still young.
    for (const [k, v] of m.idem) {
      if (now - v.storedAt < IDEMPOTENCY_TTL_MS) break
      m.idem.delete(k)
    }
  }
}

function clone<T>(v: T): T {
  return structuredClone(v)
}

function subscribe<T>(map: Map<string, Set<(v: T) => void>>, matchId: string, fn: (v: T) => void): BusSubscription {
  // Wrap so that the same function subscribed twice gets two independent subscriptions.
  const listener = (v: T) => fn(v)
  let set = map.get(matchId)
  if (!set) {
    set = new Set()
    map.set(matchId, set)
  }
  set.add(listener)
  return {
    unsubscribe() {
      const s = map.get(matchId)
      if (!s) return
      s.delete(listener)
      if (s.size === 0) map.delete(matchId)
    },
  }
}

/** Deliver after the caller's current step, each listener isolated from the others. */
function deliver<T>(listeners: Set<(v: T) => void> | undefined, value: T): void {
  if (!listeners || listeners.size === 0) return
  const targets = [...listeners]
  queueMicrotask(() => {
    for (const l of targets) {
      if (!listeners.has(l)) continue
      try {
        l(value)
      } catch (err) {
        reportListenerError(err)
      }
    }
  })
}

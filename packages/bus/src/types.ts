/**
 * The bus: durable per-match logs (events, chat), live fan-out, match state and moderation state.
 * Two implementations keep exactly this behaviour: `MemoryBus` (embedded mode, unit tests) and
 * `NatsBus` (JetStream + core NATS + KV). `contract.ts` is the executable form of these comments
 * and runs against both.
 */
import type { BoardState, EventData, MatchView, User } from '@touchline/protocol'

export interface MatchMeta {
  id: string
  title: string
  home: string
  away: string
  startsAt: string
  createdAt: string
}

/** A match as stored: metadata plus the board folded from its log up to `board.seq`. */
export interface MatchRecord {
  meta: MatchMeta
  board: BoardState
}

export interface NewEvent {
  kind: string
  /**
   * Handed over to the bus: it may return this object as the stored event's `data` and fold it
   * into the board after appendEvent resolves, so the caller must not change it afterwards.
   */
  data: EventData
  /** Acceptance time; becomes the frame's `at`. Defaults to now. */
  acceptedAt?: number
}

/** An event as stored in the log. `frame` is the exact `event` frame spectators receive. */
export interface StoredEvent {
  matchId: string
  seq: number
  kind: string
  at: string
  /** Milliseconds since epoch at acceptance (for fan-out latency). */
  acceptedAt: number
  data: EventData
  frame: Uint8Array
}

/** How much of each log is kept. The oldest entries go first; `firstSeq` tells readers. */
export interface RetentionOptions {
  /** Events kept per match (default 100,000). */
  maxEventsPerMatch?: number
  /** Events older than this are dropped (ms; 0 = no age limit; default 30 days). */
  maxAgeMs?: number
  /** Chat messages kept per match (default 1,000). */
  maxChatPerMatch?: number
  /** Chat messages older than this are dropped (ms; 0 = no age limit; default 7 days). */
  chatMaxAgeMs?: number
}

export interface AppendOptions {
  /**
   * A retry with the same key (per match) returns the first event with `duplicate: true`
   * and stores nothing — also after a restart of the caller, for at least 24 hours.
   */
  idempotencyKey?: string
}

export interface AppendResult {
  event: StoredEvent
  duplicate: boolean
}

export interface LogRead {
  /** Events with seq > afterSeq, in seq order, at most `limit`. */
  events: StoredEvent[]
  /**
   * Oldest seq still retained: 0 if the match never had an event; lastSeq + 1 if every event
   * aged out. A `since` < firstSeq - 1 cannot be replayed.
   */
  firstSeq: number
  /** Newest seq stored (0 if none). */
  lastSeq: number
  /** Identity of the log; changes when the log was recreated (seqs restarted). */
  epoch: string
}

/** What a live subscriber receives: the stored bytes, never re-encoded. */
export interface LiveEvent {
  matchId: string
  seq: number
  acceptedAt: number
  frame: Uint8Array
}

export interface NewChat {
  user: User
  text: string
  acceptedAt?: number
}

export interface ChatRecord {
  matchId: string
  /** Unique per match, increasing with time (decimal string). */
  id: string
  user: User
  text: string
  at: string
  frame: Uint8Array
}

export interface LiveChat {
  matchId: string
  id: string
  frame: Uint8Array
}

/** Moderation and configuration changes that every gateway must apply within a second. */
export type ControlMessage =
  | { type: 'chat_deleted'; matchId: string; id: string }
  | { type: 'mute'; matchId: string; userId: string; until: number }
  | { type: 'settings_changed'; key: string }

export interface BusSubscription {
  unsubscribe(): void
}

export type BusStatus = { type: 'connected' } | { type: 'reconnecting'; since: number; error?: string } | { type: 'closed' }

export interface Bus {
  readonly kind: 'memory' | 'nats'
  status(): BusStatus
  /** Called on every status change; returns a function that removes the listener. */
  onStatus(listener: (status: BusStatus) => void): () => void
  /** Stops subscriptions, flushes pending publishes, closes the connection. */
  close(): Promise<void>

  // ---- matches ----
  /** Throws MatchExistsError when the id is taken. */
  createMatch(meta: MatchMeta): Promise<MatchRecord>
  getMatch(matchId: string): Promise<MatchRecord | null>
  listMatches(): Promise<MatchRecord[]>
  /**
   * Compare-and-set update of a match record: `update` gets the current record and returns the
   * new one (or null to leave it). Retried on concurrent writers. Throws UnknownMatchError.
   */
  updateMatch(matchId: string, update: (current: MatchRecord) => MatchRecord | null): Promise<MatchRecord>

  // ---- the event log ----
  /**
   * Store an event durably and give it the match's next seq (1, 2, 3 … without holes, also with
   * several concurrent writers in several processes), then publish its frame live.
   * Resolves only once stored. Throws UnknownMatchError, BusUnavailableError (nothing stored),
   * IdempotencyConflictError (the key was used for a different kind/data).
   * Also folds the event into the match's board (in seq order, catching up any event a failed
   * fold missed), so callers need not call updateMatch for the scoreboard. The fold and the
   * idempotency record are written after the promise resolves (close() waits for them), so
   * `board.seq` may lag `lastSeq` for a moment (NatsBus: up to its boardIntervalMs under load),
   * and for longer when the bus failed between storing and folding: a reader that shows a
   * scoreboard folds the events after `board.seq` from the log.
   */
  appendEvent(matchId: string, event: NewEvent, options?: AppendOptions): Promise<AppendResult>
  /**
   * Events with seq > afterSeq, oldest first, at most `limit`. When afterSeq < firstSeq - 1 the
   * read starts at firstSeq (the caller decides whether that is a reset). Throws UnknownMatchError.
   */
  readEvents(matchId: string, afterSeq: number, limit: number): Promise<LogRead>
  /** The newest seq and epoch, cheaply. */
  logPosition(matchId: string): Promise<{ lastSeq: number; firstSeq: number; epoch: string }>
  /**
   * Live events of one match, in publish order. Delivery is at most once: a subscriber that
   * sees a seq jump must fill the gap with readEvents.
   */
  subscribeEvents(matchId: string, onEvent: (event: LiveEvent) => void): BusSubscription

  // ---- chat ----
  /** Store a chat message durably, then publish it live. */
  appendChat(matchId: string, chat: NewChat): Promise<ChatRecord>
  /** The newest `limit` messages not deleted, oldest first. */
  recentChat(matchId: string, limit: number): Promise<ChatRecord[]>
  /** Remove a message from the log; true if it existed. Does not publish: see publishControl. */
  deleteChat(matchId: string, chatId: string): Promise<boolean>
  subscribeChat(matchId: string, onChat: (chat: LiveChat) => void): BusSubscription

  // ---- moderation and settings ----
  publishControl(message: ControlMessage): Promise<void>
  subscribeControl(onControl: (message: ControlMessage) => void): BusSubscription
  /** Mute until the given time (ms since epoch); a time in the past unmutes. */
  setMute(matchId: string, userId: string, until: number): Promise<void>
  /** The mute end time if the user is muted now, else null. */
  getMute(matchId: string, userId: string): Promise<number | null>
  getSetting<T = unknown>(key: string): Promise<T | null>
  putSetting(key: string, value: unknown): Promise<void>
}

/** Convert a stored record into the public view. */
export type { MatchView }

/**
 * NatsBus: the Bus on NATS. JetStream keeps the durable logs, core NATS carries live fan-out,
 * KV buckets keep match records, idempotency keys, mutes and settings.
 *
 * - Events: stream `<P>_EVENTS`, subject `<p>.log.ev.<matchId>`. The body is the exact `event`
 *   frame (encoded once); headers carry `Tl-Seq` (per-match seq) and `Tl-At` (acceptedAt).
 *   A match's next seq is its subject's last `Tl-Seq` + 1, published with
 *   `expect.lastSubjectSequence` = the stream seq of that last message, so two writers in two
 *   processes can never both store seq N: the loser refetches the last message and retries.
 *   Appends of one match in one process are queued locally, so conflicts only come from other
 *   processes. The stream seq of the last message is the one this process last wrote when it
 *   knows it (see #publishEvent: cached, dropped on any sign of a re-created stream), so an
 *   append is one publish round trip; otherwise the last message is read first.
 * - The board: one KV compare-and-set per match at a time in this process, covering every
 *   event appended meanwhile, from the record and revision this process last wrote (#fold).
 * - Idempotency: `msgID` = match + hash(key) (JetStream drops a repeat inside the duplicate
 *   window and answers with the original's stream seq) plus a KV record key → stored frame kept
 *   24 h, checked first, so a retry after the window or a restart still gets the first event.
 *   The check is skipped for a UUIDv7 key made within the window (it cannot repeat anything
 *   older): one request per post fewer for clients that make such keys (the console does).
 *   The bucket can be bounded in bytes too (`idempotencyMaxBytes`): then its oldest records go.
 * - After the ack the same bytes go to core `<p>.live.ev.<matchId>`; subscribers that see a seq
 *   jump fill it with readEvents.
 * - readEvents finds the first wanted message by interpolation/binary search over stream seqs
 *   with direct gets (`next_by_subj`), so resuming near the end of a long log costs a few
 *   round trips; it then walks forward (direct gets for a few, an ordered consumer for more).
 * - Every call is bounded by `timeoutMs`: when NATS is down it waits for the reconnection only
 *   until then and rejects with BusUnavailableError. The connection reconnects forever; streams
 *   and buckets are re-checked (and re-created if the server lost them) after each reconnect.
 */
import { hash } from 'node:crypto'
import { createRequire } from 'node:module'
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type DirectMsgRequest,
  type StoredMsg,
  type StreamConfig,
} from '@nats-io/jetstream'
import { Kvm, type KV, type KvEntry } from '@nats-io/kv'
import {
  TimeoutError,
  connect,
  headers as natsHeaders,
  nanos,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node'
import {
  EMPTY_BOARD,
  LIMITS,
  applyEvent,
  encodeChatFrame,
  encodeEventFrame,
  keyMadeRecently,
  names,
  type BoardState,
  type EventData,
  type Names,
  type User,
} from '@touchline/protocol'
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

export interface NatsBusOptions {
  servers: string[] | string
  /** Subject/stream/bucket prefix (see protocol `names`); default `tl`. */
  prefix?: string
  /** Upper bound of every call, in ms (default 3000). */
  timeoutMs?: number
  retention?: RetentionOptions
  /** JetStream duplicate window for idempotency keys, in ms (default 2 minutes). */
  duplicateWindowMs?: number
  /**
   * Size bound of the idempotency bucket, in bytes, besides its age (25 h); -1 = age only. When
   * the bucket reaches it, its oldest records are dropped, never a new one refused (see
   * #boundIdempotency). Unset: this bus leaves the bucket's limits as they are (a bucket it
   * creates has none), so that a process that writes no records (a gateway) never undoes what
   * ingest set. The services pass IDEMPOTENCY_MAX_BYTES (packages/config, default 512 MiB). Every
   * process that sets it on one prefix must set the same value (each rewrites it at start).
   */
  idempotencyMaxBytes?: number
  /** Stream and bucket replicas in a JetStream cluster (default 1). */
  replicas?: number
  /** Connection name shown by the server. */
  name?: string
  /** One socket write per event-loop turn instead of one per microtask burst (default true; see coalesceWrites). */
  coalesceWrites?: boolean
  /** Patch nats.js so that a request answered does not build a "cancelled" error (default true; see cheapRequestCleanup). */
  cheapRequestCleanup?: boolean
  /**
   * Board writes of one match start at most once per this many ms (default 100; 0 = one after
   * another as fast as they complete). The first fold after a quiet spell starts at once.
   */
  boardIntervalMs?: number
}

const SEQ = 'Tl-Seq'
const AT = 'Tl-At'
const CHAT_ID = 'Tl-Id'
/** Up to this many events a read walks with direct gets; more use an ordered consumer. */
const DIRECT_WALK_MAX = 12
const MAX_APPEND_ATTEMPTS = 200
/** How often a bus checks that its streams still exist and are the same (epoch). */
const STREAM_CHECK_MS = 5000
/** Matches whose position and record a process keeps (then it starts over). */
const CACHE_MAX = 10_000

type Pos = { streamSeq: number; seq: number }

export async function connectNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const bound = options.idempotencyMaxBytes
  if (bound !== undefined && !(bound === -1 || (Number.isSafeInteger(bound) && bound > 0))) {
    throw new RangeError(`idempotencyMaxBytes must be -1 (age only) or a positive whole number of bytes, got ${bound}`)
  }
  const timeoutMs = options.timeoutMs ?? 3000
  let nc: NatsConnection
  try {
    nc = await connect({
      servers: options.servers,
      name: options.name ?? 'touchline-bus',
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 100,
      pingInterval: 10_000,
      maxPingOut: 2,
      // nats.js otherwise builds two Error objects (stack traces) per request to decorate a
      // possible timeout: 19 % of ingest CPU in a profile of the append path. Our errors carry
      // their own context (BusUnavailableError with the NATS error as cause).
      noAsyncTraces: true,
    })
  } catch (err) {
    throw new BusUnavailableError(`cannot connect to NATS at ${String(options.servers)}: ${(err as Error).message}`, { cause: err })
  }
  if (options.coalesceWrites !== false) coalesceWrites(nc)
  if (options.cheapRequestCleanup !== false) cheapRequestCleanup()
  const bus = new NatsBus(nc, options)
  try {
    await bus.init()
  } catch (err) {
    await nc.close().catch(() => {})
    throw toBusError(err)
  }
  return bus
}

export class NatsBus implements Bus {
  readonly kind = 'nats' as const
  readonly names: Names
  readonly #nc: NatsConnection
  readonly #js: JetStreamClient
  #jsm!: JetStreamManager
  /** For direct gets only, with a shorter timeout (see #get). */
  #jsmDirect!: JetStreamManager
  #kv!: { matches: KV; idem: KV; mutes: KV; settings: KV }
  readonly #timeoutMs: number
  readonly #retention: Required<RetentionOptions>
  readonly #dupWindowMs: number
  readonly #idemMaxBytes: number | undefined
  /** The duplicate window a UUIDv7 key's age is compared with: ours, or the stream's if smaller (see #checkStreams). */
  #freshKeyWindowMs: number
  readonly #replicas: number
  #epoch = ''
  #status: BusStatus = { type: 'connected' }
  readonly #statusListeners = new Set<(s: BusStatus) => void>()
  readonly #known = new Set<string>()
  readonly #locks = new Map<string, Promise<void>>()
  readonly #live = new Map<string, { sub: Subscription; listeners: Set<(m: { data: Uint8Array; headers?: MsgHdrs }) => void> }>()
  #ensuring: Promise<void> | undefined
  #watchdog: NodeJS.Timeout | undefined
  /**
   * Per match, what this process last wrote with a compare-and-set and may use optimistically
   * for the next one (see "Cached positions" in #publishEvent): the log position and the match
   * record with its KV revision. A stale entry costs a refused write and a re-read, never a
   * wrong write, except across a re-created stream, so any sign of one drops them all.
   */
  readonly #positions = new Map<string, Pos>()
  readonly #records = new Map<string, { record: MatchRecord; revision: number }>()
  /** Bumped by every #invalidate; an answer is cached only if no invalidation came between request and answer. */
  #gen = 0
  /** Caching is on only while the stream advisories are known to reach this connection. */
  #cacheOk = false
  /** The highest events-stream seq acknowledged to this process since the last invalidation. */
  #hiStreamSeq = 0
  readonly #folds = new Map<string, FoldQueue>()
  readonly #boardIntervalMs: number
  /** Work an append left running after it resolved (idempotency record, board): close() waits for it. */
  readonly #background = new Set<Promise<unknown>>()
  /** Set by close(): board writes no longer wait for their interval. */
  #closing = false

  /** Use connectNatsBus. */
  constructor(nc: NatsConnection, options: NatsBusOptions) {
    this.#nc = nc
    this.names = names(options.prefix ?? 'tl')
    this.#timeoutMs = options.timeoutMs ?? 3000
    this.#retention = { ...DEFAULT_RETENTION, ...options.retention }
    this.#dupWindowMs = options.duplicateWindowMs ?? 120_000
    this.#idemMaxBytes = options.idempotencyMaxBytes
    this.#freshKeyWindowMs = this.#dupWindowMs
    this.#replicas = options.replicas ?? 1
    this.#boardIntervalMs = Math.max(0, options.boardIntervalMs ?? 100)
    this.#js = jetstream(nc, { timeout: this.#timeoutMs })
    void this.#watchStatus()
  }

  /** Connects the JetStream manager and creates or updates streams and buckets. */
  async init(): Promise<void> {
    this.#jsm = await jetstreamManager(this.#nc, { timeout: this.#timeoutMs })
    this.#jsmDirect = await jetstreamManager(this.#nc, { timeout: Math.max(250, Math.floor(this.#timeoutMs / 3)), checkAPI: false })
    await this.#watchAdvisories()
    await this.#ensure()
    this.#watchdog = setInterval(() => void this.#checkStreams(), STREAM_CHECK_MS)
    this.#watchdog.unref()
  }

  /**
   * The server announces every creation, deletion, restore, update and leader change of a
   * stream on `$JS.EVENT.ADVISORY.STREAM.<action>.<stream>`. Any of them for the events stream
   * or the matches bucket drops the cached positions and records. The subscription is
   * registered (flush) before anything is cached; if it is refused (permissions) or closed,
   * nothing is cached any more and every append reads the last message first, as before.
   */
  async #watchAdvisories(): Promise<void> {
    const off = () => {
      this.#cacheOk = false
      this.#invalidate()
    }
    let failed = false
    for (const stream of [this.names.eventsStream, `KV_${this.names.matchesBucket}`]) {
      const sub = this.#nc.subscribe(`$JS.EVENT.ADVISORY.STREAM.*.${stream}`, {
        callback: (err) => {
          if (err) {
            failed = true
            off()
          } else this.#invalidate()
        },
      })
      void sub.closed.then(off, off)
    }
    await this.#nc.flush()
    this.#cacheOk = !failed && !this.#nc.isClosed()
  }

  /** Forget every cached position and record (a stream may have been re-created). */
  #invalidate(): void {
    this.#gen++
    this.#positions.clear()
    this.#records.clear()
    this.#hiStreamSeq = 0
  }

  /**
   * Every few seconds: is the events stream still the one we know? Another process (or an
   * operator) may have deleted or re-created it while we stayed connected; pick up the new
   * epoch, re-create what is missing.
   */
  async #checkStreams(): Promise<void> {
    if (this.#status.type !== 'connected' || this.#ensuring) return
    try {
      const [events] = await Promise.all([this.#jsm.streams.info(this.names.eventsStream), this.#jsm.streams.info(this.names.chatStream)])
      if (events.created !== this.#epoch) this.#invalidate()
      this.#epoch = events.created
      // Another process may run with a shorter duplicate window: trust the stream's, if smaller.
      const window = Number(events.config.duplicate_window ?? 0) / 1e6
      this.#freshKeyWindowMs = window > 0 ? Math.min(this.#dupWindowMs, window) : 0
    } catch (err) {
      if (isApiError(err, JetStreamApiCodes.StreamNotFound)) void this.#reensure()
    }
  }

  /** The events stream's identity: its creation time. */
  get epoch(): string {
    return this.#epoch
  }

  // ---- status ----

  status(): BusStatus {
    return this.#status
  }

  onStatus(listener: (status: BusStatus) => void): () => void {
    this.#statusListeners.add(listener)
    return () => this.#statusListeners.delete(listener)
  }

  #setStatus(s: BusStatus): void {
    if (this.#status.type === 'closed') return
    if (s.type === this.#status.type && s.type !== 'reconnecting') return
    if (s.type === 'reconnecting' && this.#status.type === 'reconnecting') return
    this.#status = s
    for (const l of [...this.#statusListeners]) {
      try {
        l(s)
      } catch (err) {
        reportListenerError(err)
      }
    }
  }

  async #watchStatus(): Promise<void> {
    void this.#nc.closed().then(() => this.#setStatus({ type: 'closed' }))
    for await (const s of this.#nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect') this.#invalidate()
      if (s.type === 'disconnect' || s.type === 'reconnecting' || s.type === 'staleConnection') {
        this.#setStatus({ type: 'reconnecting', since: Date.now(), error: s.type })
      } else if (s.type === 'reconnect') {
        this.#setStatus({ type: 'connected' })
        // The server may have lost its store (or be a new one): re-check streams and buckets.
        this.#reensure()
      }
    }
  }

  #reensure(): Promise<void> {
    this.#invalidate()
    this.#ensuring ??= this.#ensure().finally(() => {
      this.#ensuring = undefined
      this.#invalidate()
    })
    this.#ensuring.catch(() => {})
    return this.#ensuring
  }

  async close(): Promise<void> {
    if (this.#nc.isClosed()) {
      this.#setStatus({ type: 'closed' })
      return
    }
    clearInterval(this.#watchdog)
    for (const { sub } of this.#live.values()) sub.unsubscribe()
    this.#live.clear()
    // What appends left to do (idempotency records, board writes waiting for their interval)
    // is done now, within the timeout, so that a drained process leaves its records complete.
    this.#closing = true
    for (const [matchId, q] of this.#folds) if (q.state === 'waiting' && q.pending.size > 0) this.#runFold(matchId, q)
    const until = Date.now() + this.#timeoutMs
    while (this.#background.size > 0 && Date.now() < until) await within(Promise.allSettled([...this.#background]), until - Date.now())
    const drained = this.#nc.drain().catch(() => {})
    const timer = new Promise((r) => setTimeout(r, this.#timeoutMs))
    await Promise.race([drained, timer])
    if (!this.#nc.isClosed()) await this.#nc.close().catch(() => {})
    this.#setStatus({ type: 'closed' })
  }

  // ---- set-up ----

  async #ensure(): Promise<void> {
    const n = this.names
    const r = this.#retention
    const events = await this.#ensureStream({
      name: n.eventsStream,
      subjects: [n.eventLogAll],
      max_msgs_per_subject: r.maxEventsPerMatch,
      max_age: r.maxAgeMs > 0 ? nanos(r.maxAgeMs) : 0,
      duplicate_window: nanos(this.#dupWindowMs),
    })
    this.#epoch = events
    await this.#ensureStream({
      name: n.chatStream,
      subjects: [n.chatLogAll],
      max_msgs_per_subject: r.maxChatPerMatch,
      max_age: r.chatMaxAgeMs > 0 ? nanos(r.chatMaxAgeMs) : 0,
      duplicate_window: nanos(Math.min(this.#dupWindowMs, r.chatMaxAgeMs || this.#dupWindowMs)),
    })
    const kvm = new Kvm(this.#js)
    const base = { history: 1, storage: StorageType.File, replicas: this.#replicas, timeout: this.#timeoutMs }
    const [matches, idem, mutes, settings] = await Promise.all([
      createBucket(kvm, n.matchesBucket, base),
      this.#openIdempotency(kvm, base),
      createBucket(kvm, n.mutesBucket, { ...base, ttl: LIMITS.muteMaxSeconds * 1000 + 3600_000 }),
      createBucket(kvm, n.settingsBucket, base),
    ])
    this.#kv = { matches, idem, mutes, settings }
  }

  /**
   * The idempotency bucket: records kept 25 h and, with idempotencyMaxBytes, at most that many
   * bytes of them. A new bucket is created with the bound (nats.js `Kvm.create` leaves an existing
   * one as it is), then #boundIdempotency makes the discard policy `old`.
   */
  async #openIdempotency(kvm: Kvm, base: Parameters<Kvm['create']>[1]): Promise<KV> {
    const bound = this.#idemMaxBytes
    const bucket = this.names.idempotencyBucket
    try {
      const kv = await createBucket(kvm, bucket, {
        ...base,
        ttl: IDEMPOTENCY_TTL_MS + 3600_000,
        ...(bound && bound > 0 ? { max_bytes: bound } : {}),
      })
      if (bound !== undefined) await this.#boundIdempotency(bound)
      return kv
    } catch (err) {
      // nats-server sets a stream's max_bytes aside from the store's max_file_store when the
      // stream is created or updated, and refuses when the streams' bounds together exceed it.
      if (bound !== undefined && isApiError(err, STORAGE_RESOURCES_EXCEEDED)) throw new IdempotencyBoundError(bucket, bound, err)
      throw err
    }
  }

  /**
   * Makes the idempotency bucket's stream keep at most `bound` bytes (-1: no bound) by dropping its
   * OLDEST records: `max_bytes` = bound and `discard: old`. nats.js makes KV streams with
   * `discard: new`, under which a full bucket refuses every new record — silently, as records are
   * published without an ack (#afterAppend) — so the newest posts, the ones a client is most likely
   * to retry, would lose their protection, while an old record is the one least likely to be
   * needed. Only those two fields change (a bucket made by an older version, age-bounded only
   * with discard new, is fixed up here at start); the rest of its configuration is left as it is.
   * nats-server 2.9.10 accepts both changes on an existing stream and trims a stream that is over
   * a lowered bound at once (idempotency-bound.int.test.ts).
   */
  async #boundIdempotency(bound: number): Promise<void> {
    const stream = `KV_${this.names.idempotencyBucket}`
    const { config } = await this.#jsm.streams.info(stream)
    if (config.max_bytes === bound && config.discard === DiscardPolicy.Old) return
    // streams.update reads the current configuration and sends it back with these two changed.
    await this.#jsm.streams.update(stream, { max_bytes: bound, discard: DiscardPolicy.Old })
  }

  /** Create the stream, or update it to these limits; returns its creation time (the epoch). */
  async #ensureStream(cfg: Partial<StreamConfig> & { name: string }): Promise<string> {
    const full: Partial<StreamConfig> & { name: string } = {
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: this.#replicas,
      allow_direct: true,
      max_msg_size: 64 * 1024,
      ...cfg,
    }
    try {
      const info = await this.#jsm.streams.info(full.name)
      const c = info.config
      const changed =
        c.max_msgs_per_subject !== full.max_msgs_per_subject ||
        c.max_age !== full.max_age ||
        c.duplicate_window !== full.duplicate_window ||
        c.allow_direct !== true ||
        c.max_msg_size !== full.max_msg_size ||
        c.subjects?.join() !== full.subjects?.join()
      if (changed) {
        const { name: _name, storage: _storage, ...update } = full
        await this.#jsm.streams.update(full.name, { ...c, ...update })
      }
      return info.created
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err
    }
    try {
      return (await this.#jsm.streams.add(full)).created
    } catch (err) {
      // Another instance created it meanwhile.
      if (lostCreateRace(err)) return (await this.#jsm.streams.info(full.name)).created
      throw err
    }
  }

  /**
   * A direct get. On nats-server 2.9 a direct get on a missing stream gets no answer at all (not
   * "no responders"), so a timeout is checked against the stream's existence and a lost stream
   * is re-created (then the get is retried once) within the caller's time budget.
   */
  async #get(stream: string, query: DirectMsgRequest): Promise<StoredMsg | null> {
    try {
      return await this.#jsmDirect.direct.getMessage(stream, query)
    } catch (err) {
      if (!(err instanceof TimeoutError)) throw err
      try {
        await this.#jsm.streams.info(stream)
      } catch (infoErr) {
        if (!isApiError(infoErr, JetStreamApiCodes.StreamNotFound)) throw err
        await this.#reensure()
        return this.#jsmDirect.direct.getMessage(stream, query)
      }
      throw err
    }
  }

  // ---- bounded calls ----

  /**
   * Run `fn` within timeoutMs, after the connection is up; every failure becomes a bus error.
   * Written with one promise and one timer per call (no async wrapper, Promise.race or extra
   * timeout promise): it runs several times per event post, and each of those objects was
   * garbage the ingest hot path paid for in scavenges.
   */
  #bounded<T>(fn: (deadline: number) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#timeoutMs
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BusUnavailableError(`NATS did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs)
      const ok = (v: T) => {
        clearTimeout(timer)
        resolve(v)
      }
      const fail = (err: unknown) => {
        clearTimeout(timer)
        // A stream or bucket vanished (server store lost, someone deleted it): re-create it so
        // that the next call works.
        if (isMissingStream(err)) void this.#reensure()
        reject(toBusError(err))
      }
      // Connected (the usual case): start at once; otherwise wait for the connection first.
      const connected = this.#whenConnected(deadline)
      const work = connected === undefined ? attempt(fn, deadline) : connected.then(() => fn(deadline))
      work.then(ok, fail)
    })
  }

  /** Undefined when connected now; else a promise for the connection (rejected at `deadline` or on close). */
  #whenConnected(deadline: number): Promise<void> | undefined {
    if (this.#status.type === 'connected' && !this.#nc.isClosed()) return undefined
    if (this.#status.type === 'closed' || this.#nc.isClosed()) return Promise.reject(new BusUnavailableError('bus closed'))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          off()
          reject(new BusUnavailableError('NATS is disconnected'))
        },
        Math.max(0, deadline - Date.now()),
      )
      const off = this.onStatus((s) => {
        if (s.type === 'reconnecting') return
        clearTimeout(timer)
        off()
        if (s.type === 'connected') resolve()
        else reject(new BusUnavailableError('bus closed'))
      })
    })
  }

  // ---- matches ----

  async createMatch(meta: MatchMeta): Promise<MatchRecord> {
    const record: MatchRecord = { meta: { ...meta }, board: EMPTY_BOARD }
    return this.#bounded(async () => {
      const gen = this.#gen
      try {
        const revision = await this.#kv.matches.create(kvToken(meta.id), JSON.stringify(record))
        this.#cacheRecord(gen, meta.id, record, revision)
      } catch (err) {
        if (isApiError(err, JetStreamApiCodes.StreamWrongLastSequence)) throw new MatchExistsError(meta.id)
        throw err
      }
      this.#known.add(meta.id)
      return structuredClone(record)
    })
  }

  async getMatch(matchId: string): Promise<MatchRecord | null> {
    return this.#bounded(async () => (await this.#getRecord(matchId))?.record ?? null)
  }

  async listMatches(): Promise<MatchRecord[]> {
    return this.#bounded(async () => {
      const keys: string[] = []
      for await (const k of await this.#kv.matches.keys()) keys.push(k)
      const entries = await Promise.all(keys.map((k) => this.#kv.matches.get(k)))
      const out: MatchRecord[] = []
      for (const e of entries) if (present(e)) out.push(e.json<MatchRecord>())
      return out
    })
  }

  async updateMatch(matchId: string, update: (current: MatchRecord) => MatchRecord | null): Promise<MatchRecord> {
    return this.#bounded(async (deadline) => {
      for (let attempt = 0; ; attempt++) {
        const cur = await this.#getRecord(matchId)
        if (!cur) throw new UnknownMatchError(matchId)
        let next: MatchRecord | null
        try {
          next = update(structuredClone(cur.record))
        } catch (err) {
          if (err && typeof err === 'object') callerErrors.add(err)
          throw err
        }
        if (!next) return cur.record
        const gen = this.#gen
        try {
          const revision = await this.#kv.matches.update(kvToken(matchId), JSON.stringify(next), cur.revision)
          // The updater may keep `next`: cache and return copies.
          this.#cacheRecord(gen, matchId, structuredClone(next), revision)
          return structuredClone(next)
        } catch (err) {
          if (!isApiError(err, JetStreamApiCodes.StreamWrongLastSequence) || Date.now() > deadline) throw err
          await sleep(Math.min(50, attempt * 2) * Math.random())
        }
      }
    })
  }

  /** Remember a record this process wrote, unless an invalidation came since the write was sent. */
  #cacheRecord(gen: number, matchId: string, record: MatchRecord, revision: number): void {
    if (gen !== this.#gen || !this.#cacheOk) return
    if (this.#records.size >= CACHE_MAX && !this.#records.has(matchId)) this.#records.clear()
    this.#records.set(matchId, { record, revision })
  }

  async #getRecord(matchId: string): Promise<{ record: MatchRecord; revision: number } | null> {
    const e = await this.#kv.matches.get(kvToken(matchId))
    if (!present(e)) return null
    this.#known.add(matchId)
    return { record: e.json<MatchRecord>(), revision: e.revision }
  }

  /** Undefined (nothing to await) for a match this process has seen; else a check of the store. */
  #requireMatch(matchId: string): Promise<void> | undefined {
    if (this.#known.has(matchId)) return undefined
    return this.#getRecord(matchId).then((r) => {
      if (!r) throw new UnknownMatchError(matchId)
    })
  }

  // ---- the event log ----

  async appendEvent(matchId: string, event: NewEvent, options: AppendOptions = {}): Promise<AppendResult> {
    const key = options.idempotencyKey
    const fp = eventFingerprint(event.kind, event.data)
    const idem = key === undefined ? undefined : idemIds(matchId, key)
    let published: Promise<Published> | undefined
    const pre = await this.#bounded(async (deadline): Promise<AppendResult | null> => {
      await this.#requireMatch(matchId)
      // The record is looked up unless the key is a UUIDv7 made within the duplicate window
      // (minus a margin for clock skew): then any earlier post with it is still in JetStream's
      // duplicate check, which the publish below does anyway (protocol's keyMadeRecently).
      if (idem && !keyMadeRecently(key as string, Date.now(), this.#freshKeyWindowMs)) {
        const prior = await this.#kv.idem.get(idem.kvKey)
        if (present(prior)) {
          const rec = prior.json<IdemRecord>()
          // Records written before the fingerprint was digested hold the JSON itself.
          if (rec.fp !== fpDigest(fp) && rec.fp !== fp) {
            throw new IdempotencyConflictError(`idempotency key reused with a different event on ${matchId}`)
          }
          return { event: storedFromFrame(matchId, Buffer.from(rec.frame), rec.acceptedAt), duplicate: true }
        }
      }
      published = this.#withLock(matchId, deadline, () => this.#publishEvent(matchId, event, fp, idem?.msgId, deadline))
      const p = await published
      if (p.duplicate) {
        // A retry inside the duplicate window: the first try stored the event, but the process
        // that made it may have died before its #afterAppend left (its answer lost, or even sent):
        // no live copy, no 24 h record. Do it again: gateways drop a seq they already delivered,
        // the record and the board fold are the same writes, and a retry after the window then
        // still finds the record.
        this.#afterAppend(matchId, p, idem?.kvKey, fp)
        return { event: p.event, duplicate: true }
      }
      return null
    }).catch((err) => {
      // Timed out while the publish was in flight: if it is acknowledged later, finish the job
      // (live fan-out, idempotency record, board) so that the stored event is complete.
      published?.then((p) => this.#afterAppend(matchId, p, idem?.kvKey, fp)).catch(() => {})
      throw err
    })
    if (pre) return pre
    const p = await (published as Promise<Published>)
    this.#afterAppend(matchId, p, idem?.kvKey, fp)
    return { event: p.event, duplicate: false }
  }

  /** Serialize the appends of one match in this process; a stuck holder releases at its deadline. */
  #withLock<T>(matchId: string, deadline: number, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(matchId) ?? RESOLVED
    const run = prev.then(() => {
      if (Date.now() > deadline) throw new BusUnavailableError('timed out waiting for earlier appends')
      return fn()
    })
    // Released when `run` settles or at the deadline, whichever comes first (one timer, no race).
    const released: Promise<void> = new Promise((resolve) => {
      const release = () => {
        clearTimeout(timer)
        if (this.#locks.get(matchId) === released) this.#locks.delete(matchId)
        resolve()
      }
      const timer = setTimeout(release, Math.max(0, deadline - Date.now()))
      run.then(release, release)
    })
    this.#locks.set(matchId, released)
    return run
  }

  /**
   * Cached positions. The next seq of a match is published with `expect.lastSubjectSequence` =
   * the stream seq of the match's last message. That stream seq is taken from what this process
   * itself last wrote (the ack of its previous append of the match, kept in #positions) and the
   * last message is read only when there is no entry or the server refused the expectation
   * (another process wrote meanwhile: the entry is dropped and the read is the old path).
   *
   * The one thing a compare on a stream seq cannot see is a re-created stream (seqs restart
   * at 1): an old position S can equal the position of another writer's message in the new
   * stream, and the same seq would be stored twice (ABA; covered by a test). Re-creation is made
   * visible before the cached S is used, not by the publish itself (nats-server 2.9 has no
   * expectation a new stream cannot meet; `first_seq` needs 2.10):
   * - the server publishes a stream advisory (`$JS.EVENT.ADVISORY.STREAM.<action>.<stream>`:
   *   CREATED, DELETED, RESTORE_…, UPDATED, LEADER_ELECTED …) while it handles the change
   *   (nats-server 2.9 sends it from the stream's own send queue; on 2.9.10 another connection
   *   received DELETED before the deleting client had its answer). This connection subscribes
   *   to them for the events stream and the matches bucket (#watchAdvisories); any of them drops
   *   every entry;
   * - every disconnect/reconnect (a server may come back without its store), every re-creation
   *   by this process, every epoch change the 5 s check sees, and an ack whose stream seq is
   *   lower than an earlier one also drop them;
   * - an ack is cached only if nothing was dropped between sending its request and its answer.
   * What remains is a stream deleted, re-created and written by someone else at exactly stream
   * seq S while the advisories are still on their way to this process (a network transit plus
   * this process's event-loop delay). Reading the last message before each publish, the
   * previous design, had a window of the same kind and size: deletion, re-creation and the
   * foreign write between the server answering the read and receiving the publish. If the
   * advisories cannot be subscribed to (permissions), nothing is cached and every append reads
   * the last message first. Without the advisories the re-creation test stores seq 5 twice.
   */
  async #publishEvent(matchId: string, event: NewEvent, fp: string, msgID: string | undefined, deadline: number): Promise<Published> {
    const subject = this.names.eventLog(matchId)
    for (let attempt = 0; ; attempt++) {
      const gen = this.#gen
      const pos = this.#positions.get(matchId) ?? (await this.#lastPosition(matchId))
      const seq = pos.seq + 1
      const acceptedAt = event.acceptedAt ?? Date.now()
      const at = new Date(acceptedAt).toISOString()
      const frame = encodeEventFrame({ matchId, seq, kind: event.kind, at, data: event.data })
      const h = eventHeaders(seq, acceptedAt)
      // Never start a publish after the caller was told "nothing stored".
      if (Date.now() >= deadline) throw new BusUnavailableError(`NATS did not answer within ${this.#timeoutMs} ms`)
      try {
        const ack = await this.#publishJs(subject, frame, h, msgID, pos.streamSeq, deadline)
        if (ack.duplicate) {
          // Nothing was stored (the msgID check runs before the expectation): the position stays.
          const orig = await this.#get(this.names.eventsStream, { seq: ack.seq })
          if (!orig) throw new BusUnavailableError('duplicate of an event that is no longer in the log')
          const stored = storedFromMsg(matchId, orig)
          if (eventFingerprint(stored.kind, stored.data) !== fp) {
            throw new IdempotencyConflictError(`idempotency key reused with a different event on ${matchId}`)
          }
          return { event: stored, streamSeq: ack.seq, duplicate: true }
        }
        this.#cachePosition(gen, matchId, { streamSeq: ack.seq, seq })
        // The stored truth is `frame`; `data` is the caller's object, not a copy (a structured
        // clone per append was 2-3 % of ingest CPU): see NewEvent.
        return { event: { matchId, seq, kind: event.kind, at, acceptedAt, data: event.data, frame }, streamSeq: ack.seq, duplicate: false }
      } catch (err) {
        this.#positions.delete(matchId)
        const conflict = isApiError(err, JetStreamApiCodes.StreamWrongLastSequence)
        if (conflict && attempt < MAX_APPEND_ATTEMPTS && Date.now() < deadline) {
          if (attempt > 2) await sleep(Math.random() * Math.min(20, attempt))
          continue
        }
        if (isMissingStream(err) && attempt === 0 && Date.now() < deadline) {
          await this.#reensure()
          continue
        }
        throw err
      }
    }
  }

  /** Remember the position this process just wrote, unless the stream may have changed meanwhile. */
  #cachePosition(gen: number, matchId: string, pos: Pos): void {
    // Acks of one connection to one stream come in stream order; a lower seq means a new stream.
    if (pos.streamSeq <= this.#hiStreamSeq) this.#invalidate()
    else this.#hiStreamSeq = pos.streamSeq
    if (gen !== this.#gen || !this.#cacheOk) return
    if (this.#positions.size >= CACHE_MAX && !this.#positions.has(matchId)) this.#positions.clear()
    this.#positions.set(matchId, pos)
  }

  async #publishJs(subject: string, frame: Uint8Array, h: MsgHdrs, msgID: string | undefined, expectLast: number, deadline: number) {
    // The request may outlive `deadline` (then appendEvent has already rejected and only
    // finishes the job if an ack still comes); the lock is released at the deadline anyway.
    const timeout = Math.max(this.#timeoutMs * 3, deadline - Date.now())
    return this.#js.publish(subject, frame, {
      headers: h,
      ...(msgID ? { msgID } : {}),
      expect: { lastSubjectSequence: expectLast },
      timeout,
    })
  }

  /**
   * After the ack: live fan-out at once, then the idempotency record and the board in the
   * background. The caller is answered when the event is durable and on its way to spectators;
   * neither write is needed for that, and waiting for them held every post (and what it had
   * allocated) for two more round trips. A retry meanwhile is still answered right: inside the
   * duplicate window JetStream's msgID check finds the original (#publishEvent), and readers of
   * the board fold what it lacks from the log (ingest's catchUpBoard, the gateway's snapshot).
   * close() waits for what is still running. Never throws.
   */
  #afterAppend(matchId: string, p: Published, idemKey: string | undefined, fp: string): void {
    const { event } = p
    try {
      this.#nc.publish(this.names.eventLive(matchId), event.frame, { headers: eventHeaders(event.seq, event.acceptedAt) })
    } catch {}
    this.#fold(matchId, event)
    if (idemKey) {
      // Best effort, as it always was: the publish's msgID still dedupes a retry within the
      // duplicate window. So the record goes out as a plain publish on the key's KV subject
      // (`$KV.<bucket>.<key>`, which the bucket's stream stores like a put) without asking for
      // an ack: no request, reply, timer or ack to parse per post (a kv.put was ~6 % of ingest
      // CPU at 5,000 posts/s). close() drains the connection, so it still leaves before exit.
      const rec: IdemRecord = { fp: fpDigest(fp), acceptedAt: event.acceptedAt, streamSeq: p.streamSeq, frame: utf8(event.frame) }
      try {
        this.#nc.publish(`$KV.${this.names.idempotencyBucket}.${idemKey}`, JSON.stringify(rec))
      } catch {}
    }
  }

  /** Keep `work` in #background until it settles (it is awaited by close, never by a caller). */
  #track(work: Promise<unknown>): void {
    const p = work.then(noop, noop)
    this.#background.add(p)
    p.then(() => this.#background.delete(p))
  }

  /**
   * Fold `event` into the match's board. One update per match runs at a time in this process
   * and covers every event appended meanwhile, so concurrent appends of a match do not compete
   * for the record's revision; the next update starts from the record and revision this process
   * wrote (#records), so it needs no read unless someone else wrote. Updates of a match start at
   * most once per boardIntervalMs: under load one write covers several events (a match posting
   * 50 events/s is one write per 100 ms, not 50), and the first event after a quiet spell is
   * folded at once.
   */
  #fold(matchId: string, event: StoredEvent): void {
    let q = this.#folds.get(matchId)
    if (!q) {
      q = { pending: new Map(), state: 'idle', lastStart: 0, timer: undefined }
      this.#folds.set(matchId, q)
    }
    q.pending.set(event.seq, event)
    if (q.state === 'idle') this.#runFold(matchId, q)
  }

  /** Fold what is pending now; then wait out the interval before the next fold (or forget the match). */
  #runFold(matchId: string, q: FoldQueue): void {
    clearTimeout(q.timer)
    q.timer = undefined
    q.state = 'running'
    q.lastStart = Date.now()
    const batch = q.pending
    q.pending = new Map()
    const run = this.#foldBatch(matchId, batch)
      .catch(noop)
      .then(() => {
        const next = () => {
          q.timer = undefined
          if (q.pending.size > 0) this.#runFold(matchId, q)
          else if (this.#folds.get(matchId) === q) this.#folds.delete(matchId)
        }
        const wait = q.lastStart + this.#boardIntervalMs - Date.now()
        if (wait <= 0 || this.#closing) return next()
        q.state = 'waiting'
        q.timer = setTimeout(next, wait)
      })
    this.#track(run)
  }

  /** One compare-and-set of the board up to the batch's highest seq, in seq order (catching up missed events). */
  async #foldBatch(matchId: string, batch: Map<number, StoredEvent>): Promise<void> {
    let target = 0
    for (const s of batch.keys()) target = Math.max(target, s)
    const deadline = Date.now() + this.#timeoutMs
    for (let attempt = 0; attempt < 50 && Date.now() < deadline; attempt++) {
      const gen = this.#gen
      const cached = this.#records.get(matchId)
      const cur = cached ?? (await this.#getRecord(matchId))
      if (!cur || cur.record.board.seq >= target) return
      let board: BoardState = cur.record.board
      let lastMissing = 0
      for (let s = board.seq + 1; s < target; s++) if (!batch.has(s)) lastMissing = s
      if (lastMissing > 0) {
        if (cached) {
          // Probably only our copy is behind: read the record before reading the log.
          this.#records.delete(matchId)
          continue
        }
        const missing = await this.#read(matchId, board.seq, lastMissing - board.seq, deadline)
        for (const e of missing.events) if (!batch.has(e.seq) && e.seq < target) batch.set(e.seq, e)
      }
      // Usually one event (one append per match at a time): no copy or sort needed then.
      const ordered = batch.size === 1 ? batch.values() : [...batch.values()].sort((a, b) => a.seq - b.seq)
      for (const e of ordered) if (e.seq > board.seq) board = applyEvent(board, e)
      const next: MatchRecord = { ...cur.record, board }
      try {
        const revision = await this.#kv.matches.update(kvToken(matchId), JSON.stringify(next), cur.revision)
        this.#cacheRecord(gen, matchId, next, revision)
        return
      } catch (err) {
        this.#records.delete(matchId)
        if (!isApiError(err, JetStreamApiCodes.StreamWrongLastSequence)) throw err
        if (!cached) await sleep(Math.random() * Math.min(20, attempt * 2))
      }
    }
  }

  /** The match's last stored message (stream seq + Tl-Seq); for an empty subject, the board's seq. */
  async #lastPosition(matchId: string): Promise<Pos> {
    const last = await this.#get(this.names.eventsStream, { last_by_subj: this.names.eventLog(matchId) })
    if (last) return { streamSeq: last.seq, seq: seqOf(last) }
    // Nothing in the log: a new match, or every event aged out (seqs must not restart then).
    const rec = await this.#getRecord(matchId)
    return { streamSeq: 0, seq: rec?.record.board.seq ?? 0 }
  }

  async readEvents(matchId: string, afterSeq: number, limit: number): Promise<LogRead> {
    return this.#bounded(async (deadline) => {
      await this.#requireMatch(matchId)
      return this.#read(matchId, afterSeq, limit, deadline)
    })
  }

  async logPosition(matchId: string): Promise<{ lastSeq: number; firstSeq: number; epoch: string }> {
    return this.#bounded(async () => {
      await this.#requireMatch(matchId)
      const { firstSeq, lastSeq } = await this.#ends(matchId)
      return { firstSeq, lastSeq, epoch: this.#epoch }
    })
  }

  async #ends(matchId: string): Promise<{ first: StoredMsg | null; last: StoredMsg | null; firstSeq: number; lastSeq: number }> {
    const subj = this.names.eventLog(matchId)
    const stream = this.names.eventsStream
    const [first, last] = await Promise.all([this.#get(stream, { seq: 0, next_by_subj: subj }), this.#get(stream, { last_by_subj: subj })])
    if (first && last) return { first, last, firstSeq: seqOf(first), lastSeq: seqOf(last) }
    const rec = await this.#getRecord(matchId)
    const lastSeq = rec?.record.board.seq ?? 0
    return { first: null, last: null, firstSeq: lastSeq > 0 ? lastSeq + 1 : 0, lastSeq }
  }

  async #read(matchId: string, afterSeq: number, limit: number, deadline: number): Promise<LogRead> {
    for (let round = 0; ; round++) {
      const { first, last, firstSeq, lastSeq } = await this.#ends(matchId)
      const base = { firstSeq, lastSeq, epoch: this.#epoch }
      const target = Math.max(afterSeq + 1, firstSeq)
      if (!first || !last || limit <= 0 || target > lastSeq) return { events: [], ...base }
      const n = Math.min(limit, lastSeq - target + 1)
      try {
        const start = await this.#locate(matchId, target, first, last)
        const events = await this.#walk(matchId, start, n, deadline)
        return { events, ...base }
      } catch (err) {
        // Retention removed messages under our feet: look again once.
        if (err instanceof LogMovedError && round === 0) continue
        throw err
      }
    }
  }

  /**
   * Find the message with Tl-Seq = target between two known messages. The seqs of one match
   * have no holes and grow with stream seqs, so the target's stream seq is bounded on both
   * sides; probes alternate interpolation (exact for a log with one match) and bisection.
   */
  async #locate(matchId: string, target: number, first: StoredMsg, last: StoredMsg): Promise<StoredMsg> {
    if (seqOf(first) === target) return first
    if (seqOf(last) === target) return last
    const subj = this.names.eventLog(matchId)
    let lo = { s: first.seq, t: seqOf(first) }
    let hi = { s: last.seq, t: seqOf(last) }
    let a = lo.s + (target - lo.t)
    let b = hi.s - (hi.t - target)
    for (let i = 0; i < 128; i++) {
      if (a > b) break
      let g = i % 2 === 0 ? lo.s + Math.round(((target - lo.t) * (hi.s - lo.s)) / (hi.t - lo.t)) : Math.floor((a + b) / 2)
      g = Math.min(b, Math.max(a, g))
      const m = await this.#get(this.names.eventsStream, { seq: g, next_by_subj: subj })
      if (!m) break
      const t = seqOf(m)
      if (t === target) return m
      if (t < target) {
        lo = { s: m.seq, t }
        a = Math.max(a, m.seq + (target - t))
      } else {
        hi = { s: m.seq, t }
        b = Math.min(b, g - 1, m.seq - (t - target))
      }
    }
    throw new LogMovedError()
  }

  /** `n` consecutive events starting at `start`. */
  async #walk(matchId: string, start: StoredMsg, n: number, deadline: number): Promise<StoredEvent[]> {
    const subj = this.names.eventLog(matchId)
    const out: StoredEvent[] = [storedFromMsg(matchId, start)]
    if (n <= DIRECT_WALK_MAX) {
      let cur = start
      while (out.length < n) {
        const m = await this.#get(this.names.eventsStream, { seq: cur.seq + 1, next_by_subj: subj })
        if (!m) break
        out.push(storedFromMsg(matchId, m))
        cur = m
      }
    } else {
      const c = await this.#js.consumers.get(this.names.eventsStream, {
        filter_subjects: subj,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: start.seq + 1,
      })
      const iter = await c.fetch({ max_messages: n - 1, expires: Math.max(1000, deadline - Date.now()) })
      for await (const m of iter) {
        out.push(storedFromMsg(matchId, { data: m.data, header: m.headers, seq: m.seq }))
        if (out.length >= n || m.info.pending === 0) break
      }
      iter.stop()
      void c.delete().catch(() => {})
    }
    for (let i = 1; i < out.length; i++) {
      if ((out[i] as StoredEvent).seq !== (out[i - 1] as StoredEvent).seq + 1) throw new LogMovedError()
    }
    return out
  }

  subscribeEvents(matchId: string, onEvent: (event: LiveEvent) => void): BusSubscription {
    return this.#subscribeLive(this.names.eventLive(matchId), (m) => {
      const seqHdr = m.headers?.get(SEQ)
      const atHdr = m.headers?.get(AT)
      if (seqHdr && atHdr) onEvent({ matchId, seq: Number(seqHdr), acceptedAt: Number(atHdr), frame: m.data })
      else {
        const f = JSON.parse(Buffer.from(m.data).toString('utf8')) as { seq: number; at: string }
        onEvent({ matchId, seq: f.seq, acceptedAt: Date.parse(f.at), frame: m.data })
      }
    })
  }

  /** One core subscription per subject, shared by every local listener. */
  #subscribeLive(subject: string, listener: (m: { data: Uint8Array; headers?: MsgHdrs }) => void): BusSubscription {
    if (this.#nc.isClosed()) return { unsubscribe: noop }
    let entry = this.#live.get(subject)
    if (!entry) {
      const listeners = new Set<(m: { data: Uint8Array; headers?: MsgHdrs }) => void>()
      const sub = this.#nc.subscribe(subject, {
        callback: (err, msg) => {
          if (err) return
          const m = { data: msg.data, headers: msg.headers }
          for (const l of [...listeners]) {
            try {
              l(m)
            } catch (e) {
              reportListenerError(e)
            }
          }
        },
      })
      entry = { sub, listeners }
      this.#live.set(subject, entry)
    }
    const wrapped = (m: { data: Uint8Array; headers?: MsgHdrs }) => listener(m)
    entry.listeners.add(wrapped)
    const e = entry
    return {
      unsubscribe: () => {
        e.listeners.delete(wrapped)
        if (e.listeners.size === 0 && this.#live.get(subject) === e) {
          this.#live.delete(subject)
          e.sub.unsubscribe()
        }
      },
    }
  }

  // ---- chat ----

  async appendChat(matchId: string, chat: NewChat): Promise<ChatRecord> {
    return this.#bounded(async () => {
      await this.#requireMatch(matchId)
      const at = new Date(chat.acceptedAt ?? Date.now()).toISOString()
      const user: User = { id: chat.user.id, name: chat.user.name }
      const body: ChatBody = { user, text: chat.text, at }
      let ack: Awaited<ReturnType<JetStreamClient['publish']>>
      try {
        ack = await this.#js.publish(this.names.chatLog(matchId), JSON.stringify(body))
      } catch (err) {
        if (!isMissingStream(err)) throw err
        await this.#reensure()
        ack = await this.#js.publish(this.names.chatLog(matchId), JSON.stringify(body))
      }
      const id = String(ack.seq)
      const frame = encodeChatFrame({ matchId, id, user, text: chat.text, at })
      try {
        const h = natsHeaders()
        h.set(CHAT_ID, id)
        this.#nc.publish(this.names.chatLive(matchId), frame, { headers: h })
      } catch {}
      return { matchId, id, user, text: chat.text, at, frame }
    })
  }

  async recentChat(matchId: string, limit: number): Promise<ChatRecord[]> {
    return this.#bounded(async (deadline) => {
      await this.#requireMatch(matchId)
      if (limit <= 0) return []
      const stream = this.names.chatStream
      const subj = this.names.chatLog(matchId)
      const last = await this.#get(stream, { last_by_subj: subj })
      if (!last) return []
      // The chat log is bounded per match (maxChatPerMatch), so reading it whole is bounded too.
      const c = await this.#js.consumers.get(stream, { filter_subjects: subj, deliver_policy: DeliverPolicy.All })
      const iter = await c.fetch({ max_messages: this.#retention.maxChatPerMatch + 16, expires: Math.max(1000, deadline - Date.now()) })
      const out: ChatRecord[] = []
      for await (const m of iter) {
        out.push(chatFromBody(matchId, String(m.seq), m.data))
        if (out.length > limit) out.shift()
        if (m.seq >= last.seq || m.info.pending === 0) break
      }
      iter.stop()
      void c.delete().catch(() => {})
      return out
    })
  }

  async deleteChat(matchId: string, chatId: string): Promise<boolean> {
    return this.#bounded(async () => {
      await this.#requireMatch(matchId)
      if (!/^[1-9][0-9]{0,15}$/.test(chatId)) return false
      const seq = Number(chatId)
      const m = await this.#get(this.names.chatStream, { seq })
      if (!m || m.subject !== this.names.chatLog(matchId)) return false
      try {
        return await this.#jsm.streams.deleteMessage(this.names.chatStream, seq, false)
      } catch (err) {
        if (isApiError(err, JetStreamApiCodes.NoMessageFound)) return false
        throw err
      }
    })
  }

  subscribeChat(matchId: string, onChat: (chat: LiveChat) => void): BusSubscription {
    return this.#subscribeLive(this.names.chatLive(matchId), (m) => {
      const id = m.headers?.get(CHAT_ID) || (JSON.parse(Buffer.from(m.data).toString('utf8')) as { id: string }).id
      onChat({ matchId, id, frame: m.data })
    })
  }

  // ---- moderation and settings ----

  async publishControl(message: ControlMessage): Promise<void> {
    return this.#bounded(async () => {
      this.#nc.publish(this.names.control, JSON.stringify(message))
      await this.#nc.flush()
    })
  }

  subscribeControl(onControl: (message: ControlMessage) => void): BusSubscription {
    return this.#subscribeLive(this.names.control, (m) => {
      onControl(JSON.parse(Buffer.from(m.data).toString('utf8')) as ControlMessage)
    })
  }

  async setMute(matchId: string, userId: string, until: number): Promise<void> {
    return this.#bounded(async () => {
      const key = `${kvToken(matchId)}.${kvToken(userId)}`
      if (until <= Date.now()) await this.#kv.mutes.delete(key)
      else await this.#kv.mutes.put(key, String(until))
    })
  }

  async getMute(matchId: string, userId: string): Promise<number | null> {
    return this.#bounded(async () => {
      const e = await this.#kv.mutes.get(`${kvToken(matchId)}.${kvToken(userId)}`)
      if (!present(e)) return null
      const until = Number(e.string())
      return Number.isFinite(until) && until > Date.now() ? until : null
    })
  }

  async getSetting<T = unknown>(key: string): Promise<T | null> {
    return this.#bounded(async () => {
      const e = await this.#kv.settings.get(kvToken(key))
      if (!present(e)) return null
      return e.json<T>()
    })
  }

  async putSetting(key: string, value: unknown): Promise<void> {
    return this.#bounded(async () => {
      await this.#kv.settings.put(kvToken(key), JSON.stringify(value ?? null))
    })
  }
}

// ---- helpers ----

let requestCleanupPatched: boolean | undefined

/**
 * nats-core 3.4 (`lib/request.js`, RequestOne): when the answer to a request arrives,
 * `resolver` resolves the request's promise and then calls `cancel()`, which always builds
 * `new RequestError("cancelled")` to reject the promise that is already resolved (a no-op).
 * With V8's async stack traces that Error walks the awaiting chain: 9 % of ingest CPU, ~40 µs
 * per append (4 requests) in a bus-only measurement. This wraps RequestOne so that the
 * clean-up after an answer skips that Error; every other call (timeouts, publish failures,
 * explicit errors) goes to the original. Process-wide, once; skipped (false) if the class or
 * the code it expects is not there (another nats-core version) — `nats.int.test.ts` pins it.
 */
export function cheapRequestCleanup(): boolean {
  if (requestCleanupPatched !== undefined) return requestCleanupPatched
  requestCleanupPatched = false
  try {
    const req = createRequire(createRequire(import.meta.url).resolve('@nats-io/transport-node'))
    const RequestOne = (req('@nats-io/nats-core/internal') as { RequestOne?: { prototype: Record<string, unknown> } }).RequestOne
    const proto = RequestOne?.prototype
    const resolver = proto?.resolver
    const cancel = proto?.cancel
    if (!proto || typeof resolver !== 'function' || typeof cancel !== 'function') return false
    if (!/this\.deferred\.resolve\(msg\)[\s\S]*this\.cancel\(\)/.test(String(resolver))) return false
    if (!/new [\w.]*RequestError\("cancelled"\)/.test(String(cancel))) return false
    const answered = Symbol('answered')
    type Req = { [answered]?: boolean; timer?: { cancel(): void }; mux: { cancel(r: unknown): void } }
    proto.resolver = function (this: Req, ...args: unknown[]) {
      this[answered] = true
      return resolver.apply(this, args)
    }
    proto.cancel = function (this: Req, ...args: unknown[]) {
      if (args[0] !== undefined || !this[answered]) return cancel.apply(this, args)
      // What the original does besides the no-op reject.
      this.timer?.cancel()
      this.mux.cancel(this)
    }
    requestCleanupPatched = true
  } catch {}
  return requestCleanupPatched
}

/**
 * nats.js writes its outbound buffer from a microtask queued by the first command after the
 * previous write: every HTTP request handled in its own event-loop callback, and every await
 * depth of a request chain, ends in its own `write(2)` on the NATS socket (17 % of ingest CPU
 * in a profile of the append path, plus a wake-up of nats-server per write). This defers that
 * flush to `setImmediate`, i.e. to the end of the current event-loop turn, so all commands of
 * the turn leave in one write. Uses nats-core's ProtocolHandler internals (checked on 3.4):
 * if they are not there, it does nothing.
 */
export function coalesceWrites(nc: NatsConnection): boolean {
  const proto = (nc as unknown as { protocol?: { flushPending?: unknown } }).protocol
  if (!proto || typeof proto.flushPending !== 'function') return false
  const flushNow = (proto.flushPending as () => void).bind(proto)
  let scheduled = false
  proto.flushPending = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(() => {
      scheduled = false
      flushNow()
    })
  }
  return true
}

interface Published {
  event: StoredEvent
  streamSeq: number
  duplicate: boolean
}

interface FoldQueue {
  /** Events stored by this process, not yet covered by a board update, by seq. */
  pending: Map<number, StoredEvent>
  /** idle: nothing scheduled; running: one update in flight; waiting: the interval since the last one has not passed. */
  state: 'idle' | 'running' | 'waiting'
  /** Date.now() when the last update of this match started. */
  lastStart: number
  timer: NodeJS.Timeout | undefined
}

interface IdemRecord {
  /**
   * fpDigest of the event's fingerprint (records from before it was digested: the fingerprint
   * itself, i.e. the event's kind and data as JSON, which made every record twice the event).
   */
  fp: string
  acceptedAt: number
  streamSeq: number
  /** The stored frame, so the first result survives the log's retention. */
  frame: string
}

interface ChatBody {
  user: User
  text: string
  at: string
}

/** A KV entry that holds a value (not a delete or purge marker). */
function present(e: KvEntry | null): e is KvEntry {
  return e !== null && e.operation === 'PUT' && e.value.length > 0
}

class LogMovedError extends Error {
  override name = 'LogMovedError'
}

const noop = () => {}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

const RESOLVED: Promise<void> = Promise.resolve()

/** `p`, or undefined after `ms`, whichever comes first; the timer does not outlive it. */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms, undefined)
    p.then(
      (v) => {
        clearTimeout(timer)
        resolve(v)
      },
      (err) => {
        clearTimeout(timer)
        reject(err)
      },
    )
  })
}

/**
 * A message's Tl-Seq and Tl-At headers. `append`, not `set`: on a fresh object the key is not
 * there yet, and `set` first searches for it and deletes it (two arrays per call in nats.js).
 */
function eventHeaders(seq: number, acceptedAt: number): MsgHdrs {
  const h = natsHeaders()
  h.append(SEQ, String(seq))
  h.append(AT, String(acceptedAt))
  return h
}

/** `fn(arg)`, with a synchronous throw turned into a rejection. */
function attempt<A, T>(fn: (arg: A) => Promise<T>, arg: A): Promise<T> {
  try {
    return fn(arg)
  } catch (err) {
    return Promise.reject(err)
  }
}

/** What an idempotency record keeps of a fingerprint: 43 characters instead of the event's JSON. */
function fpDigest(fp: string): string {
  return hash('sha256', fp, 'base64url')
}

/** The bytes as UTF-8 text, without copying them first. */
function utf8(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
}

function seqOf(m: { header?: MsgHdrs; data: Uint8Array }): number {
  const h = m.header?.get(SEQ)
  if (h) return Number(h)
  return (JSON.parse(Buffer.from(m.data).toString('utf8')) as { seq: number }).seq
}

function storedFromMsg(matchId: string, m: { data: Uint8Array; header?: MsgHdrs; seq: number }): StoredEvent {
  const at = m.header?.get(AT)
  return storedFromFrame(matchId, m.data, at ? Number(at) : undefined)
}

function storedFromFrame(matchId: string, frame: Uint8Array, acceptedAt?: number): StoredEvent {
  const f = JSON.parse(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('utf8')) as {
    seq: number
    kind: string
    at: string
    data: EventData
  }
  return { matchId, seq: f.seq, kind: f.kind, at: f.at, acceptedAt: acceptedAt ?? Date.parse(f.at), data: f.data, frame }
}

function chatFromBody(matchId: string, id: string, data: Uint8Array): ChatRecord {
  const b = JSON.parse(Buffer.from(data).toString('utf8')) as ChatBody
  return {
    matchId,
    id,
    user: b.user,
    text: b.text,
    at: b.at,
    frame: encodeChatFrame({ matchId, id, user: b.user, text: b.text, at: b.at }),
  }
}

const KV_SAFE = /^[A-Za-z0-9_-][A-Za-z0-9_=-]{0,127}$/

/** A KV key token: safe strings as they are, anything else as `=` + base64url. */
function kvToken(s: string): string {
  return KV_SAFE.test(s) ? s : `=${Buffer.from(s, 'utf8').toString('base64url')}`
}

function idemIds(matchId: string, key: string): { kvKey: string; msgId: string } {
  const h = hash('sha256', key, 'base64url')
  return { kvKey: `${kvToken(matchId)}.${h}`, msgId: `${matchId}:${h}` }
}

/** JetStream API error: a stream of that name exists with another configuration. */
const STREAM_NAME_IN_USE = 10058
/**
 * JetStream API error: the subjects overlap with an existing stream. nats-server answers a create
 * that loses the race this way too (seen on 2.9 when the winner's stream is being set up at that
 * moment), not only with STREAM_NAME_IN_USE.
 */
const SUBJECTS_OVERLAP = 10065

/** Another process created the stream (or bucket) between this one's lookup and its create. */
function lostCreateRace(err: unknown): boolean {
  return isApiError(err, STREAM_NAME_IN_USE) || isApiError(err, SUBJECTS_OVERLAP)
}

/**
 * `Kvm.create`, safe against another process creating the same bucket at the same moment.
 * nats.js looks the bucket's stream up and adds it when it is missing; when two processes both
 * find it missing, the second add fails with "stream name already in use with a different
 * configuration" (or "subjects overlap with an existing stream") whenever their options differ:
 * they do between ingest (which sets the idempotency bucket's max_bytes) and a gateway (which
 * leaves it alone) started together by the stack runner or compose. The bucket then exists, so a second open finds and binds it; what
 * this process wanted changed on it (the idempotency bound) is applied after the open, as for a
 * bucket made earlier.
 */
async function createBucket(kvm: Kvm, name: string, opts: Parameters<Kvm['create']>[1]): Promise<KV> {
  try {
    return await kvm.create(name, opts)
  } catch (err) {
    // Opened again, the bucket is found and bound; a real overlap with another stream fails again.
    if (!lostCreateRace(err)) throw err
    return kvm.create(name, opts)
  }
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code
}

function isMissingStream(err: unknown): boolean {
  if (isApiError(err, JetStreamApiCodes.StreamNotFound)) return true
  const name = (err as Error)?.constructor?.name
  return name === 'JetStreamNotEnabled' || name === 'NoRespondersError' || /no responders/i.test(String((err as Error)?.message))
}

/** nats-server's JSStorageResourcesExceededErr ("insufficient storage resources available"). */
const STORAGE_RESOURCES_EXCEEDED = 10047

/**
 * nats-server refused the idempotency bucket's size bound: the streams' max_bytes together would
 * exceed the JetStream store (`max_file_store`). A configuration problem, not an outage.
 */
export class IdempotencyBoundError extends Error {
  override name = 'IdempotencyBoundError'
  readonly maxBytes: number
  constructor(bucket: string, maxBytes: number, cause: unknown) {
    super(
      `nats-server refused to bound the idempotency bucket ${bucket} to ${maxBytes} bytes: it sets every stream's max_bytes aside from its JetStream store (max_file_store), and not that much is left (${(cause as Error).message})`,
      { cause },
    )
    this.maxBytes = maxBytes
  }
}

const DOMAIN_ERRORS = [BusUnavailableError, UnknownMatchError, MatchExistsError, IdempotencyConflictError, IdempotencyBoundError]

/** Errors thrown by a caller's callback (updateMatch's updater): passed on unchanged. */
const callerErrors = new WeakSet<object>()

function toBusError(err: unknown): Error {
  if (DOMAIN_ERRORS.some((E) => err instanceof E)) return err as Error
  if (err && typeof err === 'object' && callerErrors.has(err)) return err as Error
  return new BusUnavailableError(`NATS: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

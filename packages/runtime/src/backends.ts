/**
 * The one place that picks the implementations (Centrifugo's engine.go, STYLE.md §4): NATS_URL set →
 * `NatsBus`, else `MemoryBus`; REDIS_URL set → Redis presence (and the Redis chat rate limiter when
 * the service asks for one), else the in-memory ones. Nothing below a service's main knows which.
 *
 * - NATS unreachable at start rejects with an error naming NATS_URL (mains pass it to
 *   `failStartup`: one line, exit 78). Nothing is left open. The same for an
 *   IDEMPOTENCY_MAX_BYTES that nats-server cannot set aside in its store, naming that variable.
 * - Redis unreachable at start (within the connect timeout): with REDIS_AT_START=require (the
 *   default) it rejects with an error naming REDIS_URL, like NATS — a wrong URL shows at once;
 *   with REDIS_AT_START=degrade the stores come back `degraded`, keep reconnecting, and a warning
 *   says so (Redis is not on the delivery path: a gateway can serve events without it).
 * - A service says in `warn` what the in-memory or degraded choice means for it; a note it leaves
 *   out is a warning it does not log (the embedded mode is meant to run in memory).
 */
import { type Bus, connectNatsBus, IdempotencyBoundError, MemoryBus } from '@touchline/bus'
import { connectRedisPresence, MemoryPresence, type PresenceStore } from '@touchline/presence'
import { connectRedisRateLimiter, MemoryRateLimiter, type RateLimiter } from '@touchline/ratelimit'
import type { Logger } from 'pino'

/** The variables that choose the implementations (`commonSpec` plus each service's NATS_TIMEOUT_MS). */
export interface BackendConfig {
  NATS_URL?: string[] | undefined
  NATS_PREFIX: string
  NATS_TIMEOUT_MS: number
  REDIS_URL?: string[] | undefined
  REDIS_PREFIX: string
  /** Default 'require'. */
  REDIS_AT_START?: 'require' | 'degrade'
  /**
   * Size bound of the idempotency bucket (ingest and embedded: `apiSpec`). Unset (a gateway) leaves
   * the bucket's bound as it is, so a gateway never undoes what ingest set.
   */
  IDEMPOTENCY_MAX_BYTES?: number | undefined
}

export interface BackendOptions {
  /** NATS connection name, as the server lists it (`touchline-gateway-<node>`). */
  natsName: string
  /** Build a chat rate limiter too (Redis with REDIS_URL, else memory). */
  rateLimiter?: boolean
  /** Presence heartbeat TTL and interval; unset = the stores' defaults. */
  presenceTtlMs?: number
  presenceHeartbeatMs?: number
  /** How long to wait for Redis at start before going on degraded; unset = the stores' default (5 s). */
  redisConnectTimeoutMs?: number
  /** What each fallback means for this service, in a few words; no note, no warning. */
  warn?: {
    /** NATS_URL unset, e.g. "only events posted in this process are seen". */
    memoryBus?: string
    /** REDIS_URL unset, e.g. "this node only". */
    memoryRedis?: string
    /** REDIS_URL set but not answering yet, e.g. "presence is degraded until it is". */
    redisDown?: string
  }
}

export interface Backends {
  bus: Bus
  presence: PresenceStore
  rateLimiter?: RateLimiter
  /** Close all of them; never rejects (each failure is already the store's own business). */
  close(): Promise<void>
}

export function connectBackends(
  cfg: BackendConfig,
  log: Logger,
  options: BackendOptions & { rateLimiter: true },
): Promise<Backends & { rateLimiter: RateLimiter }>
export function connectBackends(cfg: BackendConfig, log: Logger, options: BackendOptions): Promise<Backends>
export async function connectBackends(cfg: BackendConfig, log: Logger, options: BackendOptions): Promise<Backends> {
  const bus = await connectBus(cfg, log, options)
  const [presence, rateLimiter] = await connectRedisSide(cfg, log, options)
  return {
    bus,
    presence,
    ...(rateLimiter ? { rateLimiter } : {}),
    async close() {
      await Promise.allSettled([bus.close(), presence.close(), rateLimiter?.close()])
    },
  }
}

async function connectBus(cfg: BackendConfig, log: Logger, options: BackendOptions): Promise<Bus> {
  if (!cfg.NATS_URL) {
    if (options.warn?.memoryBus) log.warn(`NATS_URL is unset: using the in-memory bus (${options.warn.memoryBus})`)
    return new MemoryBus()
  }
  const bound = cfg.IDEMPOTENCY_MAX_BYTES
  try {
    return await connectNatsBus({
      servers: cfg.NATS_URL,
      prefix: cfg.NATS_PREFIX,
      timeoutMs: cfg.NATS_TIMEOUT_MS,
      name: options.natsName,
      ...(bound === undefined ? {} : { idempotencyMaxBytes: bound }),
    })
  } catch (err) {
    // NATS answered but would not set the bound aside: a configuration problem, not an outage.
    if (err instanceof IdempotencyBoundError) {
      throw new Error(
        `IDEMPOTENCY_MAX_BYTES (${bound}) does not fit the JetStream store of NATS_URL (${cfg.NATS_URL.join(',')}): lower it, or raise the server's max_file_store; ${(err as Error).message}`,
      )
    }
    throw new Error(`NATS_URL (${cfg.NATS_URL.join(',')}) is not reachable: ${(err as Error).message}`)
  }
}

async function connectRedisSide(
  cfg: BackendConfig,
  log: Logger,
  options: BackendOptions,
): Promise<[PresenceStore, RateLimiter | undefined]> {
  const { presenceTtlMs: ttlMs, presenceHeartbeatMs: heartbeatMs, redisConnectTimeoutMs: connectTimeoutMs } = options
  const url = cfg.REDIS_URL?.[0]
  if (!url) {
    if (options.warn?.memoryRedis) {
      const what = options.rateLimiter ? 'presence and chat rate limits' : 'presence'
      log.warn(`REDIS_URL is unset: using in-memory ${what} (${options.warn.memoryRedis})`)
    }
    return [new MemoryPresence({ ttlMs }), options.rateLimiter ? new MemoryRateLimiter() : undefined]
  }
  // Both connect at once: with Redis away, start-up waits one connect timeout, not two.
  const [presence, rateLimiter] = await Promise.all([
    connectRedisPresence({ url, prefix: `${cfg.REDIS_PREFIX}:presence`, ttlMs, heartbeatMs, connectTimeoutMs }),
    options.rateLimiter ? connectRedisRateLimiter({ url, prefix: `${cfg.REDIS_PREFIX}:rl`, connectTimeoutMs }) : undefined,
  ])
  if (presence.status().type !== 'connected') {
    if ((cfg.REDIS_AT_START ?? 'require') === 'require') {
      await Promise.allSettled([presence.close(), rateLimiter?.close()])
      throw new Error(`REDIS_URL (${url}) is not reachable (set REDIS_AT_START=degrade to start without it)`)
    }
    if (options.warn?.redisDown) log.warn({ redis: url }, `Redis is not reachable yet: ${options.warn.redisDown}`)
  }
  return [presence, rateLimiter]
}

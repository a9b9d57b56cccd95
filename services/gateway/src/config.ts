/**
 * The gateway's environment variables (read only through @touchline/config) and the settings
 * object that `gatewayPlugin` takes. Every limit has a default that is safe for production; tests
 * and operators override them through the environment (main.ts) or `GatewayDeps.settings`.
 */
import { hostname } from 'node:os'
import { apiSpec, baseSpec, bool, ConfigError, type ConfigOf, int, loadConfig, optionalStr, type Problem } from '@touchline/config'
import { LIMITS } from '@touchline/protocol'

export interface GatewaySettings {
  /** WebSocket ping interval, also sent in `welcome.heartbeatMs`. */
  heartbeatMs: number
  /**
   * ws `maxPayload`: a larger client frame closes the socket with 1009. Frames above
   * LIMITS.wsMaxClientFrameBytes (4 KiB) but within this are read and answered with `too_large`,
   * so a 100 KB chat text gets a clean error and the connection stays usable.
   */
  maxPayloadBytes: number
  /** Open sockets per node; one more is accepted and closed with 1013 (overloaded). */
  maxConnections: number
  maxSubscriptionsPerConnection: number
  /** Hard send-buffer cap per socket: an event that does not fit closes the socket with 1013. */
  sendBufferMaxBytes: number
  /** Chat and online frames are dropped while a socket's send buffer is above this. */
  chatShedBytes: number
  /** A socket closed as too slow is terminated after this. */
  slowCloseGraceMs: number
  /** Bad frames within `badFrameWindowMs` before close 1008. */
  badFrameLimit: number
  badFrameWindowMs: number
  /** Inbound frames per connection: burst and sustained rate; excess frames count as bad frames. */
  inboundBurst: number
  inboundPerSec: number
  snapshotEvents: number
  snapshotChat: number
  /** Events per log read when replaying or filling a gap. */
  replayPageSize: number
  /** Events a subscription may hold while its replay runs; more closes it with 1013. */
  replayMaxHeld: number
  /** Per-connection chat bucket. */
  chatConnBurst: number
  chatConnPerMin: number
  /** Per-user chat bucket (shared across gateways with the Redis rate limiter). */
  chatUserBurst: number
  chatUserPerMin: number
  presenceHeartbeatMs: number
  presenceFlushMs: number
  presenceSweepMs: number
  onlineIntervalMs: number
  /**
   * A watched match with no live event for this long has its log position read, and events whose
   * live copies never came are delivered from the log (Hub#checkQuiet); 0 = off.
   */
  liveGapCheckMs: number
  /**
   * Chat and `online` frames of one match arriving within this many ms of the first are written to
   * each socket together, in one write (0: each frame on its own). Events are never held back.
   */
  chatCoalesceMs: number
  /**
   * A socket's second and later frames within one event-loop turn are corked and leave in one
   * writev on the next turn (the first goes out at once). Off: every frame is its own write — the
   * "each frame on its own" reference of the chat-heavy benchmark, not a production setting.
   */
  cork: boolean
  /** Drain: sockets are closed with 1012 spread over this many ms. */
  drainSpreadMs: number
  /** Drain: sockets still open after spread + this are terminated. */
  drainGraceMs: number
}

export const defaultGatewaySettings: Readonly<GatewaySettings> = Object.freeze({
  heartbeatMs: 15_000,
  maxPayloadBytes: LIMITS.wsMaxPayloadBytes,
  maxConnections: 50_000,
  maxSubscriptionsPerConnection: 20,
  sendBufferMaxBytes: 1024 * 1024,
  chatShedBytes: 256 * 1024,
  slowCloseGraceMs: 1000,
  badFrameLimit: 20,
  badFrameWindowMs: 10_000,
  inboundBurst: 60,
  inboundPerSec: 30,
  snapshotEvents: 50,
  snapshotChat: 50,
  replayPageSize: 200,
  replayMaxHeld: 10_000,
  chatConnBurst: 5,
  chatConnPerMin: 30,
  chatUserBurst: 8,
  chatUserPerMin: 40,
  presenceHeartbeatMs: 2000,
  presenceFlushMs: 150,
  presenceSweepMs: 10_000,
  onlineIntervalMs: 1000,
  liveGapCheckMs: 2000,
  chatCoalesceMs: 5,
  cork: true,
  drainSpreadMs: 1000,
  drainGraceMs: 2000,
})

const ms = (d: number, describe: string, min = 1) => int({ default: d, min, max: 3_600_000, describe })
const n = (d: number, describe: string, min = 1, max = 1_000_000_000) => int({ default: d, min, max, describe })

// `baseSpec`, not `commonSpec`: the gateway has no API keys and no per-address limits, so
// TOUCHLINE_API_KEYS(_FILE) and TRUST_PROXY are not its variables.
export const gatewaySpec = {
  ...baseSpec,
  PORT: int({ default: 8082, min: 0, max: 65535, describe: 'port to listen on' }),
  NODE_ID: optionalStr({ pattern: /^[A-Za-z0-9_.:-]{1,64}$/, describe: 'gateway node id; default <hostname>-<pid>' }),
  NODE_URL: optionalStr({ pattern: /^https?:\/\/\S+$/, describe: 'where this node is reachable; default http://HOST:PORT' }),
  NATS_TIMEOUT_MS: ms(2000, 'upper bound of one bus call (log reads, chat appends)', 100),
  PRESENCE_TTL_MS: ms(6000, 'a node silent for this long drops out of online counts (Redis presence)', 1000),
  WS_HEARTBEAT_MS: ms(
    defaultGatewaySettings.heartbeatMs,
    'WebSocket ping interval; a peer missing a pong is sent close 1001 and terminated',
    100,
  ),
  WS_MAX_PAYLOAD_BYTES: n(
    defaultGatewaySettings.maxPayloadBytes,
    'largest client frame; larger ones close with 1009',
    4096,
    16 * 1024 * 1024,
  ),
  WS_MAX_CONNECTIONS: n(defaultGatewaySettings.maxConnections, 'open sockets per node; more are closed with 1013'),
  WS_MAX_SUBSCRIPTIONS: n(defaultGatewaySettings.maxSubscriptionsPerConnection, 'subscriptions per connection', 1, 10_000),
  WS_SEND_BUFFER_MAX_BYTES: n(
    defaultGatewaySettings.sendBufferMaxBytes,
    'send buffer per socket; over it the socket is closed with 1013',
    16 * 1024,
  ),
  WS_CHAT_SHED_BYTES: n(defaultGatewaySettings.chatShedBytes, 'send buffer above which chat and online frames are dropped', 1024),
  WS_SLOW_CLOSE_GRACE_MS: ms(defaultGatewaySettings.slowCloseGraceMs, 'a slow socket is terminated this long after its 1013 close'),
  WS_BAD_FRAME_LIMIT: n(defaultGatewaySettings.badFrameLimit, 'bad frames per window before close 1008'),
  WS_BAD_FRAME_WINDOW_MS: ms(defaultGatewaySettings.badFrameWindowMs, 'window for WS_BAD_FRAME_LIMIT'),
  WS_INBOUND_BURST: n(defaultGatewaySettings.inboundBurst, 'client frames per connection in a burst'),
  WS_INBOUND_PER_SEC: n(defaultGatewaySettings.inboundPerSec, 'client frames per connection per second, sustained'),
  SNAPSHOT_EVENTS: n(defaultGatewaySettings.snapshotEvents, 'recent events in a snapshot', 0, 1000),
  SNAPSHOT_CHAT: n(defaultGatewaySettings.snapshotChat, 'recent chat messages in a snapshot', 0, 1000),
  REPLAY_PAGE_SIZE: n(defaultGatewaySettings.replayPageSize, 'events per log read when replaying', 1, 1000),
  REPLAY_MAX_HELD: n(defaultGatewaySettings.replayMaxHeld, 'live events a replaying subscription may hold'),
  CHAT_CONN_BURST: n(defaultGatewaySettings.chatConnBurst, 'chat messages per connection in a burst'),
  CHAT_CONN_PER_MIN: n(defaultGatewaySettings.chatConnPerMin, 'chat messages per connection per minute'),
  CHAT_USER_BURST: n(defaultGatewaySettings.chatUserBurst, 'chat messages per viewer in a burst (all gateways)'),
  CHAT_USER_PER_MIN: n(defaultGatewaySettings.chatUserPerMin, 'chat messages per viewer per minute (all gateways)'),
  PRESENCE_HEARTBEAT_MS: ms(defaultGatewaySettings.presenceHeartbeatMs, 'presence heartbeat interval'),
  PRESENCE_FLUSH_MS: ms(defaultGatewaySettings.presenceFlushMs, 'how often subscription deltas are written to presence'),
  PRESENCE_SWEEP_MS: ms(defaultGatewaySettings.presenceSweepMs, 'how often dead nodes are swept'),
  ONLINE_INTERVAL_MS: ms(defaultGatewaySettings.onlineIntervalMs, 'how often online counts are read and pushed'),
  LIVE_GAP_CHECK_MS: ms(
    defaultGatewaySettings.liveGapCheckMs,
    'a watched match with no live event for this long has its log position read, and events whose live copy was lost (ingest died before sending it) are delivered from the log (0 = off)',
    0,
  ),
  CHAT_COALESCE_MS: n(
    defaultGatewaySettings.chatCoalesceMs,
    'chat and online frames of a match arriving within this window go to each socket in one write (0 = each on its own); events are never delayed',
    0,
    100,
  ),
  WS_CORK: bool({
    default: defaultGatewaySettings.cork,
    describe: 'frames for one socket in the same event-loop turn leave in one write (false = one write per frame, for comparison only)',
  }),
  DRAIN_SPREAD_MS: ms(defaultGatewaySettings.drainSpreadMs, 'SIGTERM: 1012 closes are spread over this', 0),
  DRAIN_GRACE_MS: ms(defaultGatewaySettings.drainGraceMs, 'SIGTERM: sockets still open after the spread plus this are terminated', 0),
} as const

export type GatewayConfig = ConfigOf<typeof gatewaySpec>

/**
 * Rules that involve several gateway variables. The embedded mode runs them too, except the
 * shared-secret rule (it generates a secret for its single process).
 */
export function gatewayConfigProblems(cfg: GatewayConfig, options: { requireSharedSecret: boolean }): Problem[] {
  const problems: Problem[] = []
  if (options.requireSharedSecret && cfg.NATS_URL && !cfg.TOUCHLINE_TOKEN_SECRET) {
    problems.push({
      variable: 'TOUCHLINE_TOKEN_SECRET',
      problem: 'is required when NATS_URL is set (the same secret as ingest, to verify viewer tokens for chat)',
    })
  }
  if (cfg.TOUCHLINE_TOKEN_SECRET && cfg.TOUCHLINE_TOKEN_SECRET.length < 16) {
    problems.push({
      variable: 'TOUCHLINE_TOKEN_SECRET',
      problem: `must have at least 16 characters, got ${cfg.TOUCHLINE_TOKEN_SECRET.length}`,
    })
  }
  if (cfg.WS_CHAT_SHED_BYTES > cfg.WS_SEND_BUFFER_MAX_BYTES) {
    problems.push({
      variable: 'WS_CHAT_SHED_BYTES',
      problem: `(${cfg.WS_CHAT_SHED_BYTES}) must not exceed WS_SEND_BUFFER_MAX_BYTES (${cfg.WS_SEND_BUFFER_MAX_BYTES}); lower it or raise WS_SEND_BUFFER_MAX_BYTES`,
    })
  }
  // SHUTDOWN_GRACE_MS bounds the whole drain: a spread and grace as long would always be cut off,
  // the process exiting 1 with sockets that were never sent their 1012.
  if (cfg.DRAIN_SPREAD_MS + cfg.DRAIN_GRACE_MS >= cfg.SHUTDOWN_GRACE_MS) {
    problems.push({
      variable: 'SHUTDOWN_GRACE_MS',
      problem: `(${cfg.SHUTDOWN_GRACE_MS}) must be more than DRAIN_SPREAD_MS + DRAIN_GRACE_MS (${cfg.DRAIN_SPREAD_MS} + ${cfg.DRAIN_GRACE_MS}), which the drain takes`,
    })
  }
  // Two heartbeats may be lost before a live node counts as dead; with a heartbeat near the TTL
  // the node would expire between heartbeats and its online counts would flap.
  if (cfg.PRESENCE_HEARTBEAT_MS * 2 > cfg.PRESENCE_TTL_MS) {
    problems.push({
      variable: 'PRESENCE_HEARTBEAT_MS',
      problem: `(${cfg.PRESENCE_HEARTBEAT_MS}) must be at most half of PRESENCE_TTL_MS (${cfg.PRESENCE_TTL_MS}); a third is recommended`,
    })
  }
  return problems
}

/** Load and cross-check the gateway's variables; throws ConfigError naming each bad variable. */
export function loadGatewayConfig(env: Record<string, string | undefined> = process.env): GatewayConfig {
  // The API's variables are often set beside a gateway's (one environment for every service):
  // not a typo, so no warning for them.
  const cfg = loadConfig(gatewaySpec, env, { alsoKnown: Object.keys(apiSpec) })
  const problems = gatewayConfigProblems(cfg, { requireSharedSecret: true })
  if (problems.length > 0) throw new ConfigError(problems)
  return cfg
}

export function settingsFromConfig(c: GatewayConfig): GatewaySettings {
  return {
    heartbeatMs: c.WS_HEARTBEAT_MS,
    maxPayloadBytes: c.WS_MAX_PAYLOAD_BYTES,
    maxConnections: c.WS_MAX_CONNECTIONS,
    maxSubscriptionsPerConnection: c.WS_MAX_SUBSCRIPTIONS,
    sendBufferMaxBytes: c.WS_SEND_BUFFER_MAX_BYTES,
    chatShedBytes: Math.min(c.WS_CHAT_SHED_BYTES, c.WS_SEND_BUFFER_MAX_BYTES),
    slowCloseGraceMs: c.WS_SLOW_CLOSE_GRACE_MS,
    badFrameLimit: c.WS_BAD_FRAME_LIMIT,
    badFrameWindowMs: c.WS_BAD_FRAME_WINDOW_MS,
    inboundBurst: c.WS_INBOUND_BURST,
    inboundPerSec: c.WS_INBOUND_PER_SEC,
    snapshotEvents: c.SNAPSHOT_EVENTS,
    snapshotChat: c.SNAPSHOT_CHAT,
    replayPageSize: c.REPLAY_PAGE_SIZE,
    replayMaxHeld: c.REPLAY_MAX_HELD,
    chatConnBurst: c.CHAT_CONN_BURST,
    chatConnPerMin: c.CHAT_CONN_PER_MIN,
    chatUserBurst: c.CHAT_USER_BURST,
    chatUserPerMin: c.CHAT_USER_PER_MIN,
    presenceHeartbeatMs: c.PRESENCE_HEARTBEAT_MS,
    presenceFlushMs: c.PRESENCE_FLUSH_MS,
    presenceSweepMs: c.PRESENCE_SWEEP_MS,
    onlineIntervalMs: c.ONLINE_INTERVAL_MS,
    liveGapCheckMs: c.LIVE_GAP_CHECK_MS,
    chatCoalesceMs: c.CHAT_COALESCE_MS,
    cork: c.WS_CORK,
    drainSpreadMs: c.DRAIN_SPREAD_MS,
    drainGraceMs: c.DRAIN_GRACE_MS,
  }
}

export function defaultNodeId(): string {
  return `${hostname()
    .replace(/[^A-Za-z0-9_.-]/g, '-')
    .slice(0, 48)}-${process.pid}`
}

/**
 * Standalone gateway: `node services/gateway/src/main.ts`.
 *
 * - Config from the environment (config.ts, `gatewaySpec`); NATS_URL set → NatsBus, else the
 *   in-memory bus; REDIS_URL set → Redis presence and the shared Redis chat rate limiter, else
 *   in-memory ones.
 * - Bad config, or NATS unreachable at start: one line on stderr naming the variable, exit 78.
 *   Redis unreachable at start is not fatal: events flow, presence reports `degraded` and resyncs
 *   when Redis answers.
 * - SIGTERM / SIGINT: drain — /readyz 503 at once, every socket closed with 1012 spread over
 *   DRAIN_SPREAD_MS, presence removed, then the bus, presence and limiter are closed and the
 *   process exits (SHUTDOWN_GRACE_MS at the latest).
 * - SIGHUP: reload the limits from the environment, LOG_LEVEL and the banned-words list, without
 *   dropping a socket (WS_MAX_PAYLOAD_BYTES needs a restart).
 */
import { hostname } from 'node:os'
import { type Bus, connectNatsBus, MemoryBus } from '@touchline/bus'
import { failStartup } from '@touchline/config'
import { connectRedisPresence, MemoryPresence, type PresenceStore } from '@touchline/presence'
import { connectRedisRateLimiter, MemoryRateLimiter, type RateLimiter } from '@touchline/ratelimit'
import { randomSecret } from '@touchline/tokens'
import pino from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { buildGatewayApp } from './app.ts'
import { defaultNodeId, type GatewayConfig, loadGatewayConfig, settingsFromConfig } from './config.ts'
import { Gateway, type GatewayDeps } from './gateway.ts'

function advertisedUrl(cfg: GatewayConfig): string | undefined {
  if (cfg.NODE_URL) return cfg.NODE_URL
  if (cfg.PORT === 0) return undefined
  const host = cfg.HOST === '0.0.0.0' || cfg.HOST === '::' ? hostname() : cfg.HOST.includes(':') ? `[${cfg.HOST}]` : cfg.HOST
  return `http://${host}:${cfg.PORT}`
}

async function main(): Promise<void> {
  let cfg: GatewayConfig
  try {
    cfg = loadGatewayConfig()
  } catch (err) {
    failStartup('gateway', err)
  }
  const nodeId = cfg.NODE_ID ?? defaultNodeId()
  const log = pino({ level: cfg.LOG_LEVEL, base: { service: 'gateway', node: nodeId, pid: process.pid } })

  let bus: Bus
  if (cfg.NATS_URL) {
    try {
      bus = await connectNatsBus({
        servers: cfg.NATS_URL,
        prefix: cfg.NATS_PREFIX,
        timeoutMs: cfg.NATS_TIMEOUT_MS,
        name: `touchline-gateway-${nodeId}`,
      })
    } catch (err) {
      failStartup('gateway', new Error(`NATS_URL (${cfg.NATS_URL.join(',')}) is not reachable: ${(err as Error).message}`))
    }
  } else {
    log.warn('NATS_URL is unset: using the in-memory bus (only events posted in this process are seen)')
    bus = new MemoryBus()
  }

  let presence: PresenceStore
  let rateLimiter: RateLimiter
  if (cfg.REDIS_URL) {
    const url = cfg.REDIS_URL[0] as string
    ;[presence, rateLimiter] = await Promise.all([
      // Redis is not on the delivery path: start within a second even when it is away.
      connectRedisPresence({
        url,
        prefix: `${cfg.REDIS_PREFIX}:presence`,
        ttlMs: cfg.PRESENCE_TTL_MS,
        heartbeatMs: cfg.PRESENCE_HEARTBEAT_MS,
        connectTimeoutMs: 1000,
      }),
      connectRedisRateLimiter({ url, prefix: `${cfg.REDIS_PREFIX}:rl`, connectTimeoutMs: 1000 }),
    ])
    if (presence.status().type !== 'connected') log.warn({ redis: url }, 'Redis is not reachable yet: presence is degraded until it is')
  } else {
    log.warn('REDIS_URL is unset: in-memory presence and chat rate limits (this node only)')
    presence = new MemoryPresence({ ttlMs: cfg.PRESENCE_TTL_MS })
    rateLimiter = new MemoryRateLimiter()
  }

  let tokenSecret = cfg.TOUCHLINE_TOKEN_SECRET
  if (!tokenSecret) {
    tokenSecret = randomSecret()
    log.warn('TOUCHLINE_TOKEN_SECRET is unset: generated one; viewer tokens from ingest will not verify here (no chat)')
  }

  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const nodeUrl = advertisedUrl(cfg)
  const deps: GatewayDeps = {
    bus,
    presence,
    rateLimiter,
    nodeId,
    ...(nodeUrl ? { nodeUrl } : {}),
    tokenSecret,
    registry,
    settings: settingsFromConfig(cfg),
  }
  const closeDeps = () => Promise.allSettled([bus.close(), presence.close(), rateLimiter.close()])
  const gateway = new Gateway(deps, log)
  const app = await buildGatewayApp(deps, { logger: log, gateway })
  app.addHook('onClose', async () => {
    await closeDeps()
  })

  try {
    await app.listen({ port: cfg.PORT, host: cfg.HOST })
  } catch (err) {
    await gateway.stop()
    await closeDeps()
    failStartup('gateway', new Error(`cannot listen on HOST ${cfg.HOST} PORT ${cfg.PORT}: ${(err as Error).message}`))
  }
  log.info({ nodeId, nodeUrl, bus: bus.kind, presence: presence.kind }, 'gateway listening')

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal, connections: gateway.connections.size }, 'draining')
    const force = setTimeout(() => {
      log.error({ graceMs: cfg.SHUTDOWN_GRACE_MS }, 'drain took too long: exiting')
      process.exit(1)
    }, cfg.SHUTDOWN_GRACE_MS)
    force.unref()
    // drain() first (readyz 503, 1012 to every socket, presence leave), then close the server.
    gateway
      .drain()
      .then(() => app.close())
      .then(
        () => {
          log.info('stopped')
          setTimeout(() => process.exit(0), 500).unref()
        },
        (err: unknown) => {
          log.error({ err }, 'error while closing')
          process.exitCode = 1
          setTimeout(() => process.exit(1), 500).unref()
        },
      )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('SIGHUP', () => {
    let next: GatewayConfig
    try {
      next = loadGatewayConfig()
    } catch (err) {
      log.error({ err: (err as Error).message }, 'SIGHUP: configuration not reloaded, keeping the current one')
      return
    }
    log.level = next.LOG_LEVEL
    gateway.reload(settingsFromConfig(next)).then(
      () => log.info('configuration reloaded (limits, log level, banned words)'),
      (err: unknown) => log.error({ err }, 'SIGHUP: reload failed'),
    )
  })
}

await main()

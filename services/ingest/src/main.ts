/**
 * Standalone ingest: `node services/ingest/src/main.ts`. Loads config, builds the bus (NATS when
 * NATS_URL is set, else in-memory with a warning) and presence (Redis when REDIS_URL is set, else
 * in-memory), listens, and shuts down gracefully.
 *
 * - Bad config, or NATS unreachable at start: one line on stderr naming the variable, exit 78.
 * - SIGTERM / SIGINT: close the app (new requests get 503 at once via return503OnClosing, /readyz
 *   turns 503, requests in flight finish), then close the bus (flushes) and presence; the process
 *   exits when its event loop is empty, or after SHUTDOWN_GRACE_MS at the latest.
 * - SIGHUP: re-read TOUCHLINE_API_KEYS_FILE (key rotation) and LOG_LEVEL without dropping a connection.
 */
import { type Bus, connectNatsBus, MemoryBus } from '@touchline/bus'
import { failStartup, resolveApiKeys } from '@touchline/config'
import { connectRedisPresence, MemoryPresence, type PresenceStore } from '@touchline/presence'
import { randomSecret } from '@touchline/tokens'
import pino from 'pino'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { buildIngestApp } from './app.ts'
import { keyRing } from './auth.ts'
import { type IngestConfig, loadIngestConfig, trustProxyOf } from './config.ts'

async function main(): Promise<void> {
  let cfg: IngestConfig
  try {
    cfg = loadIngestConfig()
  } catch (err) {
    failStartup('ingest', err)
  }
  const log = pino({ level: cfg.LOG_LEVEL, base: { service: 'ingest', pid: process.pid } })

  let bus: Bus
  if (cfg.NATS_URL) {
    try {
      bus = await connectNatsBus({
        servers: cfg.NATS_URL,
        prefix: cfg.NATS_PREFIX,
        timeoutMs: cfg.NATS_TIMEOUT_MS,
        name: `touchline-ingest-${process.pid}`,
      })
    } catch (err) {
      failStartup('ingest', new Error(`NATS_URL (${cfg.NATS_URL.join(',')}) is not reachable: ${(err as Error).message}`))
    }
  } else {
    log.warn('NATS_URL is unset: using the in-memory bus (events live only in this process; run one replica only)')
    bus = new MemoryBus()
  }

  let presence: PresenceStore
  if (cfg.REDIS_URL) {
    presence = await connectRedisPresence({ url: cfg.REDIS_URL[0] as string, prefix: `${cfg.REDIS_PREFIX}:presence` })
    if (presence.status().type !== 'connected')
      log.warn({ redis: cfg.REDIS_URL[0] }, 'Redis is not reachable yet: online counts answer 503 until it is')
  } else {
    log.warn('REDIS_URL is unset: using in-memory presence (online counts only see gateways in this process)')
    presence = new MemoryPresence()
  }

  let tokenSecret = cfg.TOUCHLINE_TOKEN_SECRET
  if (!tokenSecret) {
    tokenSecret = randomSecret()
    log.warn('TOUCHLINE_TOKEN_SECRET is unset: generated one for this process (gateways elsewhere cannot verify its tokens)')
  }

  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const ring = keyRing(resolveApiKeys(cfg))
  const app = buildIngestApp(
    {
      bus,
      presence,
      apiKeys: [],
      keyRing: ring,
      tokenSecret,
      registry,
      viewerTokenTtlSec: cfg.VIEWER_TOKEN_TTL_SEC,
      viewerTokenRateLimit: { max: cfg.VIEWER_TOKENS_PER_MINUTE, windowMs: 60_000 },
      nodeId: `ingest-${process.pid}`,
    },
    { logger: log, trustProxy: trustProxyOf(cfg.TRUST_PROXY) },
  )
  // main.ts made the bus and presence, so main.ts closes them, after the app has drained.
  app.addHook('onClose', async () => {
    await Promise.allSettled([bus.close(), presence.close()])
  })

  try {
    await app.listen({ port: cfg.PORT, host: cfg.HOST })
  } catch (err) {
    await Promise.allSettled([bus.close(), presence.close()])
    failStartup('ingest', new Error(`cannot listen on HOST ${cfg.HOST} PORT ${cfg.PORT}: ${(err as Error).message}`))
  }

  let stopping = false
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'draining')
    const force = setTimeout(() => {
      log.error({ graceMs: cfg.SHUTDOWN_GRACE_MS }, 'drain took too long: exiting')
      process.exit(1)
    }, cfg.SHUTDOWN_GRACE_MS)
    force.unref()
    app.close().then(
      () => {
        log.info('stopped')
        // Exit once the loop is empty; if a stray handle keeps it alive, go anyway shortly after.
        setTimeout(() => process.exit(0), 1000).unref()
      },
      (err: unknown) => {
        log.error({ err }, 'error while closing')
        process.exitCode = 1
      },
    )
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  process.on('SIGHUP', () => {
    try {
      const next = loadIngestConfig()
      ring.replace(resolveApiKeys(next))
      log.level = next.LOG_LEVEL
      log.info({ keys: ring.size }, 'configuration reloaded (API keys file, log level)')
    } catch (err) {
      log.error({ err: (err as Error).message }, 'SIGHUP: configuration not reloaded, keeping the current one')
    }
  })
}

await main()

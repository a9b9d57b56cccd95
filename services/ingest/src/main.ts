/**
 * Standalone ingest: `node services/ingest/src/main.ts`. Loads config, builds the bus (NATS when
 * NATS_URL is set, else in-memory with a warning) and presence (Redis when REDIS_URL is set, else
 * in-memory), listens, and shuts down gracefully.
 *
 * - Bad config, or NATS unreachable at start: one line on stderr naming the variable, exit 78.
 * - SIGTERM / SIGINT: close the app (a request that still arrives gets 503 `unavailable` with
 *   Connection: close, /readyz turns 503 draining, requests in flight finish: app.ts), then close the
 *   bus (flushes) and presence; the process exits when its event loop is empty, or after
 *   SHUTDOWN_GRACE_MS at the latest.
 * - SIGHUP: re-read TOUCHLINE_API_KEYS_FILE (key rotation) without dropping a connection; a file
 *   that cannot be read or parsed, or holds no key, is logged and the current keys are kept.
 *   Nothing else: a running process's environment cannot change, so TOUCHLINE_API_KEYS or
 *   LOG_LEVEL take a restart.
 */
import { failStartup, resolveApiKeys } from '@touchline/config'
import { configOrExit, connectBackends, createRegistry, handleSignals, tokenSecretOf } from '@touchline/runtime'
import pino from 'pino'
import { buildIngestApp } from './app.ts'
import { keyRing, reloadApiKeysFile } from './auth.ts'
import { loadIngestConfig, trustProxyOf } from './config.ts'

async function main(): Promise<void> {
  const cfg = configOrExit('ingest', loadIngestConfig)
  const log = pino({ level: cfg.LOG_LEVEL, base: { service: 'ingest', pid: process.pid } })

  const backends = await connectBackends(cfg, log, {
    natsName: `touchline-ingest-${process.pid}`,
    warn: {
      memoryBus: 'events live only in this process; run one replica only',
      memoryRedis: 'online counts only see gateways in this process',
      redisDown: 'online counts answer 503 until it is',
    },
  }).catch((err: unknown) => failStartup('ingest', err))
  const { bus, presence } = backends
  const tokenSecret = tokenSecretOf(cfg.TOUCHLINE_TOKEN_SECRET, log, 'gateways elsewhere cannot verify its tokens')

  const ring = keyRing(resolveApiKeys(cfg))
  const app = buildIngestApp(
    {
      bus,
      presence,
      apiKeys: [],
      keyRing: ring,
      tokenSecret,
      registry: createRegistry(),
      viewerTokenTtlSec: cfg.VIEWER_TOKEN_TTL_SEC,
      viewerTokenRateLimit: { max: cfg.VIEWER_TOKENS_PER_MINUTE, windowMs: 60_000 },
      nodeId: `ingest-${process.pid}`,
    },
    { logger: log, trustProxy: trustProxyOf(cfg.TRUST_PROXY) },
  )
  // main.ts made the bus and presence, so main.ts closes them, after the app has drained.
  app.addHook('onClose', () => backends.close())

  try {
    await app.listen({ port: cfg.PORT, host: cfg.HOST })
  } catch (err) {
    await backends.close()
    failStartup('ingest', new Error(`cannot listen on HOST ${cfg.HOST} PORT ${cfg.PORT}: ${(err as Error).message}`))
  }

  handleSignals({
    log,
    graceMs: cfg.SHUTDOWN_GRACE_MS,
    // Exit once the loop is empty; if a stray handle keeps it alive, go anyway shortly after.
    exitAfterMs: 1000,
    drain: () => app.close(),
    reload: () => reloadApiKeysFile(cfg, ring, log),
  })
}

await main()

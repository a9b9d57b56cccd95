/**
 * Standalone gateway: `node services/gateway/src/main.ts`.
 *
 * - Config from the environment (config.ts, `gatewaySpec`); NATS_URL set → NatsBus, else the
 *   in-memory bus; REDIS_URL set → Redis presence and the shared Redis chat rate limiter, else
 *   in-memory ones.
 * - Bad config, NATS unreachable at start, or Redis not answering within 1 s at start with
 *   REDIS_AT_START=require (the default, so a wrong REDIS_URL shows at once): one line on stderr
 *   naming the variable, exit 78. With REDIS_AT_START=degrade a missing Redis is not fatal: events
 *   flow, presence reports `degraded` and resyncs when Redis answers.
 * - SIGTERM / SIGINT: drain — /readyz 503 at once, every socket closed with 1012 spread over
 *   DRAIN_SPREAD_MS, presence removed, then the bus, presence and limiter are closed and the
 *   process exits (SHUTDOWN_GRACE_MS at the latest).
 * - SIGHUP: re-read the banned-words list (from the bus) without dropping a socket. Nothing else:
 *   the gateway reads no file, and a running process's environment cannot change, so a new limit
 *   or LOG_LEVEL takes a (rolling) restart.
 */
import { hostname } from 'node:os'
import { failStartup } from '@touchline/config'
import { configOrExit, connectBackends, createRegistry, handleSignals, tokenSecretOf } from '@touchline/runtime'
import pino from 'pino'
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
  const cfg = configOrExit('gateway', loadGatewayConfig)
  const nodeId = cfg.NODE_ID ?? defaultNodeId()
  const log = pino({ level: cfg.LOG_LEVEL, base: { service: 'gateway', node: nodeId, pid: process.pid } })

  const backends = await connectBackends(cfg, log, {
    natsName: `touchline-gateway-${nodeId}`,
    rateLimiter: true,
    presenceTtlMs: cfg.PRESENCE_TTL_MS,
    presenceHeartbeatMs: cfg.PRESENCE_HEARTBEAT_MS,
    // Redis is not on the delivery path: know within a second whether it answers (if not: exit 78,
    // or with REDIS_AT_START=degrade start without it).
    redisConnectTimeoutMs: 1000,
    warn: {
      memoryBus: 'only events posted in this process are seen',
      memoryRedis: 'this node only',
      redisDown: 'presence is degraded until it is',
    },
  }).catch((err: unknown) => failStartup('gateway', err))
  const { bus, presence, rateLimiter } = backends
  const tokenSecret = tokenSecretOf(cfg.TOUCHLINE_TOKEN_SECRET, log, 'viewer tokens from ingest will not verify here: no chat')

  const nodeUrl = advertisedUrl(cfg)
  const deps: GatewayDeps = {
    bus,
    presence,
    rateLimiter,
    nodeId,
    ...(nodeUrl ? { nodeUrl } : {}),
    tokenSecret,
    registry: createRegistry(),
    settings: settingsFromConfig(cfg),
  }
  const gateway = new Gateway(deps, log)
  const app = await buildGatewayApp(deps, { logger: log, gateway })
  app.addHook('onClose', () => backends.close())

  try {
    await app.listen({ port: cfg.PORT, host: cfg.HOST })
  } catch (err) {
    await gateway.stop()
    await backends.close()
    failStartup('gateway', new Error(`cannot listen on HOST ${cfg.HOST} PORT ${cfg.PORT}: ${(err as Error).message}`))
  }
  log.info({ nodeId, nodeUrl, bus: bus.kind, presence: presence.kind }, 'gateway listening')

  handleSignals({
    log,
    graceMs: cfg.SHUTDOWN_GRACE_MS,
    drainingInfo: () => ({ connections: gateway.connections.size }),
    // drain() first (readyz 503, 1012 to every socket, presence leave), then close the server.
    drain: () => gateway.drain().then(() => app.close()),
    // The gateway logs the outcome: "banned words loaded" (info, with the count), or a warning that
    // keeps the previous list when the bus cannot be read.
    reload: () => {
      log.info('SIGHUP: reloading the banned-words list (limits and LOG_LEVEL are read at start only)')
      return gateway.reloadBannedWords()
    },
  })
}

await main()

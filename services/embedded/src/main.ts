/**
 * `pnpm start`: the whole of touchline in one process.
 *
 * - NATS_URL / REDIS_URL unset → in-memory bus, presence and chat rate limiter; set → the same
 *   code on NATS (JetStream) and Redis, so several embedded processes can share one deployment.
 * - The pages are built with Vite on first start (or when their sources changed) and served at /;
 *   the WebSocket is at /ws, the API under /api, health and metrics at the root.
 * - TOUCHLINE_API_KEYS is honoured; when unset an admin and a commentator key are generated and
 *   printed in the start-up banner with the URLs. A token secret is generated when unset.
 * - Bad configuration: one line on stderr naming the variable, exit 78.
 * - SIGTERM / SIGINT: drain (readyz 503, sockets closed with 1012, presence removed), close, exit.
 *   SIGHUP: re-read the API keys of TOUCHLINE_API_KEYS_FILE and the banned-words list without
 *   dropping a socket. Nothing else: a running process's environment cannot change, so limits,
 *   TOUCHLINE_API_KEYS and LOG_LEVEL take a restart.
 */
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { type ApiKey, failStartup, resolveApiKeys } from '@touchline/config'
import { defaultNodeId, settingsFromConfig } from '@touchline/gateway'
import { keyRing, reloadApiKeysFile } from '@touchline/ingest'
import { configOrExit, connectBackends, createRegistry, handleSignals, tokenSecretOf } from '@touchline/runtime'
import { ensureWebBuilt } from '@touchline/web'
import pino from 'pino'
import { buildEmbeddedApp } from './app.ts'
import { type EmbeddedConfig, loadEmbeddedConfig } from './config.ts'
import { DEMO_MATCH_ID, seedDemo } from './demo.ts'

function generatedKeys(): ApiKey[] {
  return [
    { role: 'admin', key: `adm_${randomBytes(18).toString('base64url')}` },
    { role: 'commentator', key: `com_${randomBytes(18).toString('base64url')}` },
  ]
}

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

function banner(cfg: EmbeddedConfig, port: number, keys: ApiKey[], generated: boolean, mode: string, demo: boolean): string {
  const base = `http://${displayHost(cfg.HOST)}:${port}`
  const line = '─'.repeat(72)
  const rows = [
    line,
    `  touchline is running (${mode})`,
    '',
    `  Spectator page      ${base}/${demo ? `?match=${DEMO_MATCH_ID}` : ''}`,
    `  Commentator console ${base}/console.html`,
    `  Status page         ${base}/status.html`,
    `  API docs            ${base}/api/docs`,
    `  WebSocket           ws://${displayHost(cfg.HOST)}:${port}/ws`,
    `  Health, metrics     ${base}/readyz  ${base}/metrics`,
    '',
  ]
  if (generated) {
    rows.push('  API keys (generated for this run; set TOUCHLINE_API_KEYS to choose your own):')
    for (const k of keys) rows.push(`    ${k.role.padEnd(12)} ${k.key}`)
  } else {
    rows.push(`  API keys: ${keys.length} from TOUCHLINE_API_KEYS (${keys.map((k) => k.role).join(', ')})`)
  }
  rows.push(line)
  return `${rows.join('\n')}\n`
}

async function main(): Promise<void> {
  const cfg = configOrExit('touchline', loadEmbeddedConfig)
  const nodeId = cfg.NODE_ID ?? defaultNodeId()
  const log = pino({ level: cfg.LOG_LEVEL, base: { service: 'embedded', node: nodeId, pid: process.pid } })

  // The pages first: a fresh clone has no dist/ yet.
  let webRoot: string | null
  try {
    webRoot = await ensureWebBuilt({ log: (m) => log.info(m) })
  } catch (err) {
    log.error({ err }, 'the pages could not be built: serving the API and WebSocket only')
    webRoot = null
  }

  // In memory is this mode's point: no warning for it. Redis away at start is worth one.
  const backends = await connectBackends(cfg, log, {
    natsName: `touchline-embedded-${nodeId}`,
    rateLimiter: true,
    presenceTtlMs: cfg.PRESENCE_TTL_MS,
    presenceHeartbeatMs: cfg.PRESENCE_HEARTBEAT_MS,
    warn: { redisDown: 'presence is degraded until it is' },
  }).catch((err: unknown) => failStartup('touchline', err))
  const { bus, presence, rateLimiter } = backends
  // Alone, this process verifies its own tokens; beside others on NATS, theirs would not verify.
  const tokenSecret = tokenSecretOf(
    cfg.TOUCHLINE_TOKEN_SECRET,
    log,
    cfg.NATS_URL ? 'chat tokens from other processes will not verify here' : undefined,
  )

  let configured: ApiKey[]
  try {
    configured = resolveApiKeys(cfg)
  } catch (err) {
    return failStartup('touchline', err)
  }
  const generated = configured.length === 0
  const keys = generated ? generatedKeys() : configured
  const ring = keyRing(keys)

  const nodeUrl =
    cfg.NODE_URL ??
    (cfg.PORT === 0 ? undefined : `http://${cfg.HOST === '0.0.0.0' || cfg.HOST === '::' ? hostname() : displayHost(cfg.HOST)}:${cfg.PORT}`)

  let built: Awaited<ReturnType<typeof buildEmbeddedApp>>
  try {
    built = await buildEmbeddedApp({
      bus,
      presence,
      rateLimiter,
      registry: createRegistry(),
      tokenSecret,
      keyRing: ring,
      nodeId,
      ...(nodeUrl ? { nodeUrl } : {}),
      gatewaySettings: settingsFromConfig(cfg),
      viewerTokenTtlSec: cfg.VIEWER_TOKEN_TTL_SEC,
      viewerTokenRateLimit: { max: cfg.VIEWER_TOKENS_PER_MINUTE, windowMs: 60_000 },
      webRoot,
      logger: log,
      trustProxy: cfg.TRUST_PROXY ? cfg.TRUST_PROXY.split(',').map((s) => s.trim()) : false,
    })
  } catch (err) {
    await backends.close()
    failStartup('touchline', err)
  }
  const { app, gateway } = built
  app.addHook('onClose', () => backends.close())

  try {
    await app.listen({ port: cfg.PORT, host: cfg.HOST })
  } catch (err) {
    await gateway.stop().catch(() => {})
    await backends.close()
    failStartup('touchline', new Error(`cannot listen on HOST ${cfg.HOST} PORT ${cfg.PORT}: ${(err as Error).message}`))
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : cfg.PORT

  let demo = false
  if (cfg.EMBEDDED_DEMO) {
    const admin = keys.find((k) => k.role === 'admin')
    if (!admin) log.warn('EMBEDDED_DEMO needs an admin key: no demo match')
    else {
      try {
        await seedDemo(app, admin.key)
        demo = true
      } catch (err) {
        log.error({ err }, 'could not seed the demo match')
      }
    }
  }

  const mode = cfg.NATS_URL || cfg.REDIS_URL ? `bus ${bus.kind}, presence ${presence.kind}` : 'embedded: in-memory bus and presence'
  process.stdout.write(banner(cfg, port, keys, generated, mode, demo))
  log.info({ port, nodeId, bus: bus.kind, presence: presence.kind, pages: webRoot !== null }, 'touchline listening')

  handleSignals({
    log,
    graceMs: cfg.SHUTDOWN_GRACE_MS,
    drainingInfo: () => ({ connections: gateway.connections.size }),
    drain: () => gateway.drain().then(() => app.close()),
    reload: () => {
      reloadApiKeysFile(cfg, ring, log)
      // The gateway logs the outcome: "banned words loaded" (info), or a warning keeping the old list.
      log.info('SIGHUP: reloading the banned-words list')
      return gateway.reloadBannedWords()
    },
  })
}

await main()

/**
 * One fastify app with everything: the gateway plugin at the root (/ws, /healthz, /readyz,
 * /metrics), the ingest plugin under /api, and the built pages at / (@fastify/static). Both
 * plugins are encapsulated, so neither sees the other's decorators, hooks or error handlers; they
 * share one prom-client Registry, the bus and the presence store.
 */
import fastifyStatic from '@fastify/static'
import type { Bus } from '@touchline/bus'
import { Gateway, type GatewayDeps, type GatewaySettings, gatewayPlugin } from '@touchline/gateway'
import { type IngestDeps, ingestPlugin, type KeyRing } from '@touchline/ingest'
import type { PresenceStore } from '@touchline/presence'
import type { RateLimiter } from '@touchline/ratelimit'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync, LogController } from 'fastify'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import { LIMITS } from '@touchline/protocol'

export interface EmbeddedDeps {
  bus: Bus
  presence: PresenceStore
  rateLimiter: RateLimiter
  registry: Registry
  tokenSecret: string
  keyRing: KeyRing
  nodeId: string
  nodeUrl?: string
  gatewaySettings?: Partial<GatewaySettings>
  viewerTokenTtlSec?: number
  viewerTokenRateLimit?: { max: number; windowMs: number }
  /** Directory of the built pages; null serves no pages. */
  webRoot: string | null
  logger?: Logger | false
  trustProxy?: string[] | false
}

export interface EmbeddedApp {
  app: FastifyInstance
  gateway: Gateway
}

/**
 * Headers of the pages: HTML is revalidated on every load (a new build shows at once), hashed
 * assets are cached for good. The CSP allows scripts and styles from this origin only: even a
 * rendering bug could not run injected script. Pictures may come from any http(s) host.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https: http: data:",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ')

export async function buildEmbeddedApp(deps: EmbeddedDeps): Promise<EmbeddedApp> {
  const logger = deps.logger ?? false
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy ?? false,
    bodyLimit: LIMITS.apiBodyMaxBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance

  const gatewayDeps: GatewayDeps = {
    bus: deps.bus,
    presence: deps.presence,
    rateLimiter: deps.rateLimiter,
    nodeId: deps.nodeId,
    ...(deps.nodeUrl ? { nodeUrl: deps.nodeUrl } : {}),
    tokenSecret: deps.tokenSecret,
    registry: deps.registry,
    ...(deps.gatewaySettings ? { settings: deps.gatewaySettings } : {}),
  }
  const gateway = new Gateway(gatewayDeps, (logger || silentLogger()) as Logger)
  await app.register(gatewayPlugin, { ...gatewayDeps, gateway })

  const ingestDeps: IngestDeps = {
    bus: deps.bus,
    presence: deps.presence,
    apiKeys: [],
    keyRing: deps.keyRing,
    tokenSecret: deps.tokenSecret,
    registry: deps.registry,
    // The gateway serves /metrics from the same registry at the root.
    metricsRoute: false,
    nodeId: deps.nodeId,
    ...(deps.viewerTokenTtlSec ? { viewerTokenTtlSec: deps.viewerTokenTtlSec } : {}),
    ...(deps.viewerTokenRateLimit ? { viewerTokenRateLimit: deps.viewerTokenRateLimit } : {}),
  }
  await app.register(ingestPlugin as unknown as FastifyPluginAsync<IngestDeps>, { prefix: '/api', ...ingestDeps })

  if (deps.webRoot) {
    await app.register(fastifyStatic, {
      root: deps.webRoot,
      prefix: '/',
      index: ['index.html'],
      // One route per built file (dist/ is complete before the app starts), not a catch-all: an
      // unknown /api/... path then reaches ingest's JSON 404, anything else fastify's 404.
      wildcard: false,
      dotfiles: 'ignore',
      cacheControl: false,
      setHeaders(reply, path) {
        const hashed = /[\\/]assets[\\/]/.test(path)
        reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache')
        reply.header('x-content-type-options', 'nosniff')
        reply.header('referrer-policy', 'no-referrer')
        if (path.endsWith('.html')) reply.header('content-security-policy', CSP)
      },
    })
  }
  return { app, gateway }
}

function silentLogger(): Logger {
  const noop = () => {}
  const log = {
    level: 'silent',
    fatal: noop,
    error: noop,
    warn: noop,
    info: noop,
    debug: noop,
    trace: noop,
    silent: noop,
    child: () => log,
  }
  return log as unknown as Logger
}

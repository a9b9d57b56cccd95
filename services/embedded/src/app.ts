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
import { answerUnavailableWhileClosing, apiHttpErrors, notFoundBody } from '@touchline/runtime'
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

/** The gateway's health routes: they answer for themselves while closing (readyz `draining`). */
const ROOT_HEALTH = new Set(['/healthz', '/readyz', '/metrics'])
const API = '/api'

/** Whether a URL is the ingest plugin's (its routes, and its 404 for any other `/api…` path). */
function underApi(url: string): boolean {
  return url.startsWith(API) && (url.length === API.length || url[API.length] === '/' || url[API.length] === '?')
}

export async function buildEmbeddedApp(deps: EmbeddedDeps): Promise<EmbeddedApp> {
  const logger = deps.logger ?? false
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy ?? false,
    bodyLimit: LIMITS.apiBodyMaxBytes,
    // Off: the closing guard below answers the API's 503, with a `code`, while the app closes.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // A malformed URL and a request Node's parser refuses answer with the API's body.
    ...apiHttpErrors,
  }) as unknown as FastifyInstance

  // While closing, a request that still arrives (on a connection that was busy when the close
  // began, or pipelined behind one) gets the API's 503 `unavailable` with `Connection: close`: the
  // pages, unknown paths, and the upgrades the gateway hands to fastify (/ws while draining), which
  // the gateway ends once the answer is written. Added before the plugins, so it runs first on
  // their routes too (before @fastify/websocket takes an upgrade); the root's preClose runs before
  // theirs (the gateway's drain among them). Under /api ingest answers for itself with the same
  // hook from its own preClose on (its 503, its health routes draining).
  answerUnavailableWhileClosing(app, {
    answersItself: (request) => ROOT_HEALTH.has(request.routeOptions.url ?? '') || underApi(request.url),
    message: 'this touchline process is shutting down: nothing was done, retry',
  })
  // A page or path that does not exist: the API's `not_found` (under /api ingest has its own).
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type('application/json; charset=utf-8').send(notFoundBody(request.method, request.url))
  })

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
  await app.register(ingestPlugin as unknown as FastifyPluginAsync<IngestDeps>, { prefix: API, ...ingestDeps })

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

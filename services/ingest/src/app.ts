/**
 * The ingest API as a fastify plugin, and an app around it.
 *
 * `ingestPlugin` registers every route (see docs/protocol.md, "Commentator and read API") with its
 * own validator (TypeBox, strict: unknown fields are refused, nothing is silently removed), error
 * handler, 404 handler, body limit, JSON-only content type, metrics hooks and OpenAPI page. It is
 * encapsulated (not wrapped with fastify-plugin): nothing it adds leaks to the parent, so the
 * embedded mode can register it under `/api` next to the gateway in one process.
 *
 * Layout inside the plugin:
 *   health    /healthz /readyz /metrics               public
 *   reads     GET matches, match, events, online, nodes  public (the pages read them)
 *   viewers   POST /v1/viewers/token                   public, rate-limited per address
 *   writes    everything else                          API key (auth hook only in this child)
 */
import { readFileSync } from 'node:fs'
import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { LIMITS } from '@touchline/protocol'
import { apiHttpErrors, closingGuard } from '@touchline/runtime'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import { keyRing } from './auth.ts'
import type { IngestContext, IngestDeps } from './context.ts'
import { registerDocs } from './docs.ts'
import { apiError, errorHandler } from './errors.ts'
import { ingestMetrics } from './metrics.ts'
import { healthRoutes } from './routes/health.ts'
import { readRoutes } from './routes/reads.ts'
import { viewerRoutes } from './routes/viewers.ts'
import { writeRoutes } from './routes/writes.ts'
import { ingestValidatorCompiler } from './validator.ts'

export type { IngestDeps } from './context.ts'

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

export const ingestPlugin: FastifyPluginAsyncTypebox<IngestDeps> = async (app, deps) => {
  if (deps.tokenSecret.length < 16) throw new Error('ingest: tokenSecret must have at least 16 characters')
  let closing = false
  const ctx: IngestContext = {
    deps: {
      bus: deps.bus,
      presence: deps.presence,
      apiKeys: deps.apiKeys,
      tokenSecret: deps.tokenSecret,
      registry: deps.registry,
      viewerTokenTtlSec: deps.viewerTokenTtlSec ?? 4 * 3600,
      viewerTokenRateLimit: deps.viewerTokenRateLimit ?? { max: 20, windowMs: 60_000 },
      docs: deps.docs ?? true,
      metricsRoute: deps.metricsRoute ?? true,
      nodeId: deps.nodeId,
    },
    keys: deps.keyRing ?? keyRing(deps.apiKeys),
    metrics: ingestMetrics(deps.registry),
    isClosing: () => closing,
  }
  const mount = app.prefix
  if (ctx.keys.size === 0) app.log.warn('ingest has no API keys: every write will answer 401')

  app.setValidatorCompiler(ingestValidatorCompiler)
  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((request) => {
    throw apiError('not_found', `no route ${request.method} ${request.url.split('?', 1)[0]}`)
  })
  // JSON only: anything else (text/plain included) is 415 unsupported_media_type.
  app.removeContentTypeParser('text/plain')
  app.addHook('onRoute', (route) => {
    route.bodyLimit ??= LIMITS.apiBodyMaxBytes
  })
  app.addHook('preClose', async () => {
    closing = true
  })
  // While closing, every route but the health routes (draining) answers the API's 503 (runtime's closingGuard).
  const health = new Set(['/healthz', '/readyz', '/metrics'].map((p) => `${mount}${p}`))
  app.addHook(
    'onRequest',
    closingGuard({
      isClosing: () => closing,
      answersItself: (request) => health.has(request.routeOptions.url ?? ''),
      message: 'this ingest replica is shutting down: nothing was done, retry',
    }),
  )

  const { requests, requestSeconds } = ctx.metrics
  app.addHook('onResponse', async (request, reply) => {
    const url = request.routeOptions.url
    const route = url === undefined ? 'unmatched' : mount && url.startsWith(mount) ? url.slice(mount.length) || '/' : url
    if (route.includes('/docs/')) return
    const labels = { method: request.method, route, status: String(reply.statusCode) }
    requests.inc(labels)
    requestSeconds.observe(labels, reply.elapsedTime / 1000)
  })

  if (ctx.deps.docs) await registerDocs(app as unknown as FastifyInstance, VERSION)
  await app.register(healthRoutes, ctx)
  await app.register(readRoutes, ctx)
  await app.register(viewerRoutes, ctx)
  await app.register(writeRoutes, ctx)
}

export interface BuildOptions {
  /** A pino logger, or fastify logger options; default off (tests). */
  logger?: FastifyBaseLogger | FastifyServerOptions['logger']
  /** Addresses whose X-Forwarded-For is trusted (TRUST_PROXY); default none. */
  trustProxy?: string | string[] | boolean
}

/**
 * Per-request log lines at debug, not info: at thousands of posts a second two info lines per
 * request would cost more than the request (nginx keeps the access log). Failures are logged by
 * the error handler (5xx with their stack).
 */
class QuietRequests extends LogController {
  override incomingRequest(request: Parameters<LogController['incomingRequest']>[0]): void {
    request.log.debug({ req: request }, 'incoming request')
  }
  override requestCompleted(...[error, _request, reply]: Parameters<LogController['requestCompleted']>): void {
    if (error) reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    else reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}

/** An un-started app with `ingestPlugin` at the root. `listen` is main.ts's job; tests use `inject`. */
export function buildIngestApp(deps: IngestDeps, opts: BuildOptions = {}) {
  const logger = opts.logger ?? false
  const isInstance = typeof logger === 'object' && logger !== null && typeof (logger as FastifyBaseLogger).child === 'function'
  const app = Fastify({
    ...(isInstance ? { loggerInstance: logger as FastifyBaseLogger } : { logger: logger as FastifyServerOptions['logger'] }),
    trustProxy: opts.trustProxy ?? false,
    bodyLimit: LIMITS.apiBodyMaxBytes,
    // Off: the plugin's own onRequest hook answers 503 with a `code` while closing (closingGuard).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    logController: new QuietRequests(),
    // A malformed URL and a request Node's parser refuses answer with the API's body too.
    ...apiHttpErrors,
  }).withTypeProvider<TypeBoxTypeProvider>()
  app.register(ingestPlugin, deps)
  return app
}

/**
 * buildMonitorApp(deps): the monitor as a fastify app that has not started listening. The engine
 * starts with the app (`onReady`). When closing starts (`preClose`, the listener still open) it
 * stops planning checks and delivers pending alerts within the bound; then the listener closes and
 * the engine closes its connections (`onClose`).
 *
 *   GET /status   targets, their state and the alert counters (JSON; CORS open for GET)
 *   GET /healthz  the process is alive
 *   GET /readyz   200 while checks are scheduled (body says `degraded` with the reasons when an
 *                 alert channel, the state store or discovery has a problem); 503 `draining`
 *                 while stopping (pending alerts being delivered)
 *   GET /metrics  Prometheus
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify'
import type { Logger } from 'pino'
import { channelsFrom } from './alerts/index.ts'
import type { Channel } from './alerts/dispatcher.ts'
import type { MonitorConfig } from './config.ts'
import { MonitorMetrics } from './metrics.ts'
import { Monitor, type PresenceSource } from './monitor.ts'
import { MemoryStateStore, type StateStore } from './state.ts'
import type { Check, TargetSpec } from './types.ts'
import { version as packageVersion } from './version.ts'

declare module 'fastify' {
  interface FastifyInstance {
    monitor: Monitor
    monitorMetrics: MonitorMetrics
  }
}

export interface MonitorAppDeps {
  config: MonitorConfig
  logger: Logger
  /** Where states and last alerts are kept; default in memory. */
  state?: StateStore
  /** Live gateway nodes (discovery); needs `config.discovery`. */
  presence?: PresenceSource
  /** Default: from config (log, webhook, e-mail). */
  channels?: Channel[]
  emailVerify?: () => Promise<void>
  version?: string
  checkFor?: (spec: TargetSpec) => Check
  now?: () => number
}

export function buildMonitorApp(deps: MonitorAppDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // While pending alerts are flushed (preClose) the routes keep answering: /readyz 503
    // `draining`, /status as usual — not fastify's blanket 503.
    return503OnClosing: false,
  })
  const built = deps.channels ? { channels: deps.channels, emailVerify: deps.emailVerify } : channelsFrom(deps.config, deps.logger)
  let monitor: Monitor | undefined
  const metrics = new MonitorMetrics({
    pending: () => Object.fromEntries(Object.entries(monitor?.status().alerts.channels ?? {}).map(([k, v]) => [k, v.pending])),
  })
  monitor = new Monitor({
    config: deps.config,
    logger: deps.logger,
    state: deps.state ?? new MemoryStateStore(),
    channels: built.channels,
    ...(built.emailVerify ? { emailVerify: built.emailVerify } : {}),
    metrics,
    version: deps.version ?? packageVersion,
    ...(deps.presence ? { presence: deps.presence } : {}),
    ...(deps.checkFor ? { checkFor: deps.checkFor } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  })
  const m = monitor
  app.decorate('monitor', m)
  app.decorate('monitorMetrics', metrics)

  app.addHook('onReady', async () => {
    await m.start()
  })
  app.addHook('preClose', async () => {
    await m.drain()
  })
  app.addHook('onClose', async () => {
    await m.close()
  })

  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, OPTIONS',
    'access-control-allow-headers': 'content-type',
  }

  app.get('/status', async (_req, reply) => {
    reply.headers({ ...cors, 'cache-control': 'no-store' })
    return m.status()
  })
  app.options('/status', async (_req, reply) => {
    reply.headers({ ...cors, 'access-control-max-age': '600' }).code(204)
    return reply.send()
  })
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const h = m.health()
    if (!h.running) return reply.code(503).send({ status: 'draining' })
    const degraded = Object.keys(h.problems).length > 0
    return { status: degraded ? 'degraded' : 'ok', ...(degraded ? { checks: h.problems } : {}) }
  })
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType)
    return metrics.registry.metrics()
  })
  return app
}

/**
 * Liveness, readiness and metrics. /healthz is 200 while the process runs; /readyz is 200 only
 * when the bus is connected and the app is not closing (a load balancer stops sending posts to a
 * replica that could not store them); /metrics is the Prometheus text of the shared registry.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { HealthReply } from '@touchline/protocol'
import type { IngestContext } from '../context.ts'

export const healthRoutes: FastifyPluginAsyncTypebox<IngestContext> = async (app, ctx) => {
  const { bus, presence, registry, nodeId } = ctx.deps
  const checks = (): Record<string, string> => ({ bus: bus.status().type, presence: presence.status().type })
  const node = nodeId ? { node: nodeId } : {}

  app.get(
    '/healthz',
    { schema: { tags: ['health'], summary: 'Liveness: 200 while the process runs', response: { 200: HealthReply } } },
    async () => ({ status: ctx.isClosing() ? ('draining' as const) : ('ok' as const), checks: checks(), ...node }),
  )

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: 200 when the bus (NATS) is connected, 503 otherwise or while draining',
        response: { 200: HealthReply, 503: HealthReply },
      },
    },
    async (_req, reply) => {
      if (ctx.isClosing()) return reply.code(503).send({ status: 'draining', checks: checks(), ...node })
      const ok = bus.status().type === 'connected'
      // Presence down only degrades the online counts; posting still works, so still ready.
      const status = ok ? (presence.status().type === 'connected' ? 'ok' : 'degraded') : 'unavailable'
      return reply.code(ok ? 200 : 503).send({ status, checks: checks(), ...node })
    },
  )

  if (ctx.deps.metricsRoute) {
    app.get('/metrics', { schema: { tags: ['health'], summary: 'Prometheus metrics', produces: ['text/plain'] } }, async (_req, reply) => {
      const text = await registry.metrics()
      return reply.type(registry.contentType).send(text)
    })
  }
}

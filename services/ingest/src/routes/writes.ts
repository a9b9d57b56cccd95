/**
 * Everything that needs an API key. The `onRequest` auth hook is added here, inside this
 * encapsulated plugin, so the public reads and the viewer-token route (siblings) never run it.
 * A route's least role is its `config.role` (default commentator).
 */
import { randomBytes } from 'node:crypto'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { matchView } from '@touchline/bus'
import { authHook } from '../auth.ts'
import type { IngestContext } from '../context.ts'
import { eventRoutes } from './events.ts'
import { moderationRoutes } from './moderation.ts'
import { CreateMatchBody, MatchReply } from '@touchline/protocol'
import { errorReplies } from '../context.ts'

export const writeRoutes: FastifyPluginAsyncTypebox<IngestContext> = async (app, ctx) => {
  app.decorateRequest('apiRole', null)
  app.addHook('onRequest', authHook(ctx.keys))

  app.post(
    '/v1/matches',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['matches'],
        summary: 'Create a match (admin)',
        security: [{ apiKey: [] }],
        body: CreateMatchBody,
        response: { 201: MatchReply, ...errorReplies(400, 401, 403, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const b = request.body
      const id = b.id ?? `m-${randomBytes(6).toString('base64url')}`
      const record = await ctx.deps.bus.createMatch({
        id,
        title: b.title.trim(),
        home: b.home.trim(),
        away: b.away.trim(),
        startsAt: new Date(b.startsAt).toISOString(),
        createdAt: new Date().toISOString(),
      })
      return reply.code(201).header('location', `v1/matches/${id}`).send(matchView(record, 0))
    },
  )

  await app.register(eventRoutes, ctx)
  await app.register(moderationRoutes, ctx)
}

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
import { CreateMatchBody, MatchReply, cleanText, hasVisible } from '@touchline/protocol'
import { errorReplies } from '../context.ts'
import { apiError, type Details } from '../errors.ts'

const STORED_TIME_RULE = 'must be a date-time of the years 0000-9999 (in UTC), not a leap second'

/**
 * A start time as it is stored: UTC, RFC 3339 with milliseconds, or undefined. The date-time
 * format admits what a Date cannot hold (a leap second, 23:59:60) and years that toISOString
 * writes with six digits and a sign (an offset can push 9999-12-31 into 10000): neither could be
 * stored as a string that sorts as a time (the match list is sorted by it).
 */
export function storedTime(raw: string): string | undefined {
  const ms = Date.parse(raw)
  if (Number.isNaN(ms)) return undefined
  const iso = new Date(ms).toISOString()
  return /^\d{4}-/.test(iso) ? iso : undefined
}

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
      const details: Details = []
      const shown = (field: 'title' | 'home' | 'away') => {
        const text = cleanText(b[field])
        if (!hasVisible(text)) details.push({ path: `body/${field}`, message: 'must have a visible character' })
        return text
      }
      const title = shown('title')
      const home = shown('home')
      const away = shown('away')
      const startsAt = storedTime(b.startsAt)
      if (startsAt === undefined) details.push({ path: 'body/startsAt', message: STORED_TIME_RULE })
      const first = details[0]
      if (first || startsAt === undefined) {
        throw apiError('bad_request', first ? `${first.path} ${first.message}` : `body/startsAt ${STORED_TIME_RULE}`, details)
      }
      const record = await ctx.deps.bus.createMatch({ id, title, home, away, startsAt, createdAt: new Date().toISOString() })
      // Relative to the request's own URL (/v1/matches, or /api/v1/matches in the embedded mode,
      // or whatever prefix a proxy adds): the new match's URL whatever the mount point.
      return reply.code(201).header('location', `matches/${id}`).send(matchView(record, 0))
    },
  )

  await app.register(eventRoutes, ctx)
  await app.register(moderationRoutes, ctx)
}

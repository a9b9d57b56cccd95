/**
 * POST /v1/viewers/token: public (no API key), rate-limited per client address. The limiter is
 * registered inside this plugin only, so no other route inherits it. The client address is
 * `request.ip`, which honours X-Forwarded-For only from the addresses in TRUST_PROXY (fastify's
 * `trustProxy`); anyone else's header is ignored. Counters are per process: with N replicas
 * behind a balancer an address gets at most N × max per window.
 */
import rateLimit from '@fastify/rate-limit'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ViewerTokenBody, ViewerTokenReply, cleanText, hasVisible } from '@touchline/protocol'
import { issueViewerToken } from '@touchline/tokens'
import { errorReplies, type IngestContext } from '../context.ts'
import { apiError } from '../errors.ts'

export const viewerRoutes: FastifyPluginAsyncTypebox<IngestContext> = async (app, ctx) => {
  const { max, windowMs } = ctx.deps.viewerTokenRateLimit
  await app.register(rateLimit, {
    global: true,
    max,
    timeWindow: windowMs,
    errorResponseBuilder: (_request, context) =>
      apiError('rate_limited', `too many viewer tokens from this address: retry in ${context.after}`),
  })

  app.post(
    '/v1/viewers/token',
    {
      schema: {
        tags: ['viewers'],
        summary: 'A short-lived signed viewer token for chat (public, rate-limited per client address)',
        body: ViewerTokenBody,
        response: { 200: ViewerTokenReply, ...errorReplies(400, 413, 415, 429) },
      },
    },
    async (request) => {
      // Protocol's text rules: controls and bidi overrides removed, something visible left.
      const name = cleanText(request.body.name)
      if (!hasVisible(name))
        throw apiError('bad_request', 'name must have a visible character', [{ path: 'body/name', message: 'is blank' }])
      const { token, claims } = issueViewerToken(name, ctx.deps.tokenSecret, ctx.deps.viewerTokenTtlSec)
      return { token, user: { id: claims.sub, name: claims.name }, expiresAt: new Date(claims.exp * 1000).toISOString() }
    },
  )
}

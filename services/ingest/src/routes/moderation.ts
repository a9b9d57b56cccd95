/**
 * Chat moderation and settings (admin). Each change is stored on the bus first, then announced on
 * the control subject so that every gateway applies it within a second; a gateway that missed the
 * announcement (restarting) reads the stored state (mutes, settings) when it needs it.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { UnknownMatchError } from '@touchline/bus'
import { BannedWordsBody, BannedWordsReply, ChatParams, MatchParams, MuteBody, MuteReply } from '@touchline/protocol'
import { errorReplies, type IngestContext } from '../context.ts'
import { apiError } from '../errors.ts'

export const BANNED_WORDS_KEY = 'bannedWords'

/** Lowercased, trimmed, deduplicated, sorted: what gateways match against. */
export function normalizeWords(words: readonly string[]): string[] {
  return [...new Set(words.map((w) => w.trim().toLowerCase()).filter((w) => w.length > 0))].sort()
}

export const moderationRoutes: FastifyPluginAsyncTypebox<IngestContext> = async (app, ctx) => {
  const { bus } = ctx.deps

  async function requireMatch(matchId: string): Promise<void> {
    if (!(await bus.getMatch(matchId))) throw new UnknownMatchError(matchId)
  }

  app.delete(
    '/v1/matches/:matchId/chat/:chatId',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['moderation'],
        summary: 'Remove a chat message; every spectator gets chat_deleted (admin)',
        security: [{ apiKey: [] }],
        params: ChatParams,
        response: { 204: { type: 'null', description: 'deleted' }, ...errorReplies(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      const { matchId, chatId } = request.params
      await requireMatch(matchId)
      if (!(await bus.deleteChat(matchId, chatId))) throw apiError('not_found', `no chat message ${chatId} in match ${matchId}`)
      await bus.publishControl({ type: 'chat_deleted', matchId, id: chatId })
      return reply.code(204).send(null)
    },
  )

  app.post(
    '/v1/matches/:matchId/mutes',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['moderation'],
        summary: 'Mute a user in this match for a number of seconds (admin)',
        security: [{ apiKey: [] }],
        params: MatchParams,
        body: MuteBody,
        response: { 200: MuteReply, ...errorReplies(400, 401, 403, 404, 413, 415, 503) },
      },
    },
    async (request) => {
      const { matchId } = request.params
      const { userId, seconds } = request.body
      await requireMatch(matchId)
      const until = Date.now() + seconds * 1000
      await bus.setMute(matchId, userId, until)
      await bus.publishControl({ type: 'mute', matchId, userId, until })
      return { matchId, userId, until: new Date(until).toISOString() }
    },
  )

  app.get(
    '/v1/chat/banned-words',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['moderation'],
        summary: 'The banned-words list (admin)',
        security: [{ apiKey: [] }],
        response: { 200: BannedWordsReply, ...errorReplies(401, 403, 503) },
      },
    },
    async () => ({ words: (await bus.getSetting<string[]>(BANNED_WORDS_KEY)) ?? [] }),
  )

  app.put(
    '/v1/chat/banned-words',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['moderation'],
        summary: 'Replace the banned-words list; gateways mask them in new chat at once (admin)',
        security: [{ apiKey: [] }],
        body: BannedWordsBody,
        response: { 200: BannedWordsReply, ...errorReplies(400, 401, 403, 413, 415, 503) },
      },
    },
    async (request) => {
      const words = normalizeWords(request.body.words)
      await bus.putSetting(BANNED_WORDS_KEY, words)
      await bus.publishControl({ type: 'settings_changed', key: BANNED_WORDS_KEY })
      return { words }
    },
  )
}

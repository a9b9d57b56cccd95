/**
 * Public reads for the spectator and console pages (no API key): matches, one match with its
 * scoreboard, the durable event log, online counts, live gateway nodes. Registered outside the
 * write-routes plugin, so the API-key hook never runs for them.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { matchView, UnknownMatchError } from '@touchline/bus'
import { EventsQuery, EventsReply, LIMITS, MatchListReply, MatchParams, MatchReply, NodesReply, OnlineReply } from '@touchline/protocol'
import { catchUpBoard } from '../board.ts'
import { errorReplies, type IngestContext } from '../context.ts'

const DEFAULT_PAGE = 100
const COMMA = Buffer.from(',')

export const readRoutes: FastifyPluginAsyncTypebox<IngestContext> = async (app, ctx) => {
  const { bus, presence } = ctx.deps

  app.get(
    '/v1/matches',
    {
      schema: {
        tags: ['matches'],
        summary: 'List matches, each with its scoreboard and last seq',
        response: { 200: MatchListReply, ...errorReplies(503) },
      },
    },
    async () => {
      const records = await bus.listMatches()
      records.sort((a, b) => a.meta.startsAt.localeCompare(b.meta.startsAt) || a.meta.id.localeCompare(b.meta.id))
      // The stored board's seq stands in for the log position here (one read per match would
      // make the list O(matches) round trips); GET /v1/matches/:matchId is exact.
      return { matches: records.map((r) => matchView(r, r.board.seq)) }
    },
  )

  app.get(
    '/v1/matches/:matchId',
    {
      schema: {
        tags: ['matches'],
        summary: 'One match: metadata, scoreboard (corrections and retractions applied) and last seq',
        params: MatchParams,
        response: { 200: MatchReply, ...errorReplies(400, 404, 503) },
      },
    },
    async (request) => {
      const { matchId } = request.params
      const [record, pos] = await Promise.all([bus.getMatch(matchId), bus.logPosition(matchId)])
      if (!record) throw new UnknownMatchError(matchId)
      // The stored board may lag the log: briefly after every post (the bus writes it after
      // answering, coalesced under load), or for good when a replica failed before folding.
      // Fold the missing seqs so the scoreboard is never stale; write back only the second kind.
      const { record: current, repaired } = await catchUpBoard(bus, record, pos.lastSeq, (err) =>
        request.log.warn({ err, matchId }, 'could not persist the caught-up scoreboard'),
      )
      if (repaired) ctx.metrics.boardLagFolds.inc()
      return matchView(current, pos.lastSeq)
    },
  )

  app.get(
    '/v1/matches/:matchId/events',
    {
      schema: {
        tags: ['events'],
        summary: 'The durable event log after seq `since`, at most `limit` events, in seq order',
        params: MatchParams,
        querystring: EventsQuery,
        response: { 200: EventsReply, ...errorReplies(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const { matchId } = request.params
      const since = request.query.since ?? 0
      const limit = Math.min(request.query.limit ?? DEFAULT_PAGE, LIMITS.eventsPageMax)
      const read = await bus.readEvents(matchId, since, limit)
      // Serialize once: the stored frames are the exact event frames, concatenated as they are.
      const head = JSON.stringify({ matchId, firstSeq: read.firstSeq, lastSeq: read.lastSeq, epoch: read.epoch })
      const parts: Buffer[] = [Buffer.from(`${head.slice(0, -1)},"events":[`)]
      read.events.forEach((e, i) => {
        if (i > 0) parts.push(COMMA)
        parts.push(Buffer.from(e.frame.buffer, e.frame.byteOffset, e.frame.byteLength))
      })
      parts.push(Buffer.from(']}'))
      // Typed as the reply schema: the bytes are exactly an EventsReply.
      return reply.type('application/json; charset=utf-8').send(Buffer.concat(parts) as unknown as EventsReply)
    },
  )

  app.get(
    '/v1/matches/:matchId/online',
    {
      schema: {
        tags: ['presence'],
        summary: 'Spectators watching the match, in total and per live gateway node',
        params: MatchParams,
        response: { 200: OnlineReply, ...errorReplies(400, 404, 503) },
      },
    },
    async (request) => {
      const { matchId } = request.params
      const [record, counts] = await Promise.all([bus.getMatch(matchId), presence.counts(matchId)])
      if (!record) throw new UnknownMatchError(matchId)
      return { matchId, total: counts.total, nodes: counts.nodes }
    },
  )

  app.get(
    '/v1/nodes',
    {
      schema: {
        tags: ['presence'],
        summary: 'Live gateway nodes (heartbeat younger than the presence TTL)',
        response: { 200: NodesReply, ...errorReplies(503) },
      },
    },
    async () => {
      const nodes = await presence.liveNodes()
      nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId))
      return {
        nodes: nodes.map((n) => ({
          nodeId: n.nodeId,
          ...(n.url ? { url: n.url } : {}),
          startedAt: new Date(n.startedAt).toISOString(),
          lastSeen: new Date(n.lastSeen).toISOString(),
          connections: n.connections,
        })),
      }
    },
  )
}

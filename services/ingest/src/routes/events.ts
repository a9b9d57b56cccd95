/**
 * POST /v1/matches/:matchId/events — the commentators' write path.
 *
 * 1. The body is validated by protocol's PostEventBody; then the rules a schema cannot say:
 *    `data` under LIMITS.eventDataMaxBytes and without the named fields' keys; `refSeq` required
 *    for `correction`/`retraction` (and only there), naming a seq already stored.
 * 2. `bus.appendEvent` stores it durably with the match's next seq (no hole, no duplicate, across
 *    replicas), keyed by the `Idempotency-Key` header, and folds it into the stored scoreboard;
 *    it resolves only once stored, or throws BusUnavailableError within the bus timeout with
 *    nothing stored (→ 503).
 * 3. 201 `{ matchId, seq, kind, at, duplicate }`. A retry with the same key answers the first
 *    event again with `duplicate: true` (header `Idempotent-Replayed: true`), also after a restart.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { EventData } from '@touchline/protocol'
import { IdempotencyHeaders, KNOWN_EVENT_KINDS, LIMITS, MatchParams, PostEventBody, PostEventReply, charLength } from '@touchline/protocol'
import { errorReplies, type IngestContext } from '../context.ts'
import { apiError } from '../errors.ts'

/** Body fields that become data keys; `data` may not carry them itself. */
const NAMED = ['text', 'imageUrl', 'minute', 'score', 'refSeq'] as const
const NEEDS_REF = new Set(['correction', 'retraction'])
/** Metric label: known kinds by name, anything else as `other` (kinds are client-chosen). */
const KIND_LABEL = new Set<string>(KNOWN_EVENT_KINDS)

/**
 * `data`'s size as JSON. A body under the 16 KiB limit can still nest thousands of levels deep
 * (`[[[[…]]]]`), deeper than JSON.stringify's recursion can go: that is over any sensible size
 * too (Infinity), not a 500.
 */
function dataBytes(data: Record<string, unknown>): number {
  try {
    return Buffer.byteLength(JSON.stringify(data))
  } catch (err) {
    if (err instanceof RangeError) return Number.POSITIVE_INFINITY
    throw err
  }
}

/** Build the stored event data from a validated body, or throw bad_request. */
export function eventData(body: PostEventBody): EventData {
  const extra = body.data ?? {}
  const details: Array<{ path: string; message: string }> = []
  for (const k of NAMED) if (Object.hasOwn(extra, k)) details.push({ path: `body/data/${k}`, message: `use the body field ${k} instead` })
  // Characters, not UTF-16 units: as every limit, and as the scoreboard cuts a text period.
  if (Object.hasOwn(extra, 'period') && !(typeof extra.period === 'string' && charLength(extra.period) <= 40)) {
    details.push({ path: 'body/data/period', message: 'must be a string of at most 40 characters' })
  }
  if (body.data && dataBytes(body.data) > LIMITS.eventDataMaxBytes) {
    details.push({ path: 'body/data', message: `must be at most ${LIMITS.eventDataMaxBytes} bytes as JSON` })
  }
  if (NEEDS_REF.has(body.kind) && body.refSeq === undefined) {
    details.push({ path: 'body/refSeq', message: `is required for ${body.kind}` })
  }
  if (!NEEDS_REF.has(body.kind) && body.refSeq !== undefined) {
    details.push({ path: 'body/refSeq', message: 'is only for correction and retraction' })
  }
  const first = details[0]
  if (first) throw apiError('bad_request', `${first.path} ${first.message}`, details)
  const data: EventData = { ...extra }
  if (body.text !== undefined) data.text = body.text
  if (body.imageUrl !== undefined) data.imageUrl = body.imageUrl
  if (body.minute !== undefined) data.minute = body.minute
  if (body.score !== undefined) data.score = { home: body.score.home, away: body.score.away }
  if (body.refSeq !== undefined) data.refSeq = body.refSeq
  return data
}

export const eventRoutes: FastifyPluginAsyncTypebox<IngestContext> = async (app, ctx) => {
  const { bus } = ctx.deps
  const { eventsStored, appendSeconds } = ctx.metrics

  app.post(
    '/v1/matches/:matchId/events',
    {
      config: { role: 'commentator' },
      schema: {
        tags: ['events'],
        summary: 'Post an event; 201 once it is durable, with its seq',
        description:
          'Send an `Idempotency-Key` header: a retry with the same key returns the first answer (`duplicate: true`) and stores nothing new, also after a restart of ingest (kept 24 h). 503 means nothing was stored: retry with the same key.',
        security: [{ apiKey: [] }],
        params: MatchParams,
        headers: IdempotencyHeaders,
        body: PostEventBody,
        response: { 201: PostEventReply, ...errorReplies(400, 401, 403, 404, 409, 413, 415, 503) },
      },
    },
    async (request, reply) => {
      const { matchId } = request.params
      const body = request.body
      const data = eventData(body)
      if (body.refSeq !== undefined) {
        // Seqs only grow, so a refSeq valid now stays valid when the append lands.
        const { lastSeq } = await bus.logPosition(matchId)
        if (body.refSeq > lastSeq) {
          throw apiError('bad_request', `body/refSeq ${body.refSeq} names no stored event (last seq is ${lastSeq})`, [
            { path: 'body/refSeq', message: `must be at most ${lastSeq}` },
          ])
        }
      }
      const key = request.headers['idempotency-key']
      const started = performance.now()
      let result: Awaited<ReturnType<typeof bus.appendEvent>>
      try {
        result = await bus.appendEvent(matchId, { kind: body.kind, data }, key === undefined ? {} : { idempotencyKey: key })
      } catch (err) {
        appendSeconds.observe({ result: 'error' }, (performance.now() - started) / 1000)
        throw err
      }
      appendSeconds.observe({ result: 'ok' }, (performance.now() - started) / 1000)
      const { event, duplicate } = result
      eventsStored.inc({ kind: KIND_LABEL.has(event.kind) ? event.kind : 'other', result: duplicate ? 'duplicate' : 'stored' })
      if (duplicate) reply.header('idempotent-replayed', 'true')
      return reply.code(201).send({ matchId, seq: event.seq, kind: event.kind, at: event.at, duplicate })
    },
  )
}

/**
 * HTTP API bodies, params, queries and replies (docs/protocol.md, "Commentator and read API").
 * Routes in services/ingest use these schemas as they are; none is declared inline there.
 */
import Type, { type Static } from 'typebox'
import { IsoTime, MatchId, MatchView, Score, Seq, User, EventData } from './common.ts'
import { EventFrame } from './frames.ts'
import { API_ERRORS, type ApiErrorCode } from './codes.ts'
import { LIMITS } from './limits.ts'

export const ApiError = Type.Object({
  code: Type.Enum(Object.keys(API_ERRORS) as ApiErrorCode[]),
  message: Type.String(),
  /** Field-level details for `bad_request`. */
  details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
})
export type ApiError = Static<typeof ApiError>

export const MatchParams = Type.Object({ matchId: MatchId })
export type MatchParams = Static<typeof MatchParams>

export const ChatParams = Type.Object({ matchId: MatchId, chatId: Type.String({ pattern: '^[0-9]{1,16}$' }) })
export type ChatParams = Static<typeof ChatParams>

export const CreateMatchBody = Type.Object(
  {
    id: Type.Optional(MatchId),
    title: Type.String({ minLength: 1, maxLength: LIMITS.titleMaxLength }),
    home: Type.String({ minLength: 1, maxLength: LIMITS.teamMaxLength }),
    away: Type.String({ minLength: 1, maxLength: LIMITS.teamMaxLength }),
    startsAt: IsoTime,
  },
  { additionalProperties: false },
)
export type CreateMatchBody = Static<typeof CreateMatchBody>

export const MatchReply = MatchView
export const MatchListReply = Type.Object({ matches: Type.Array(MatchView) })
export type MatchListReply = Static<typeof MatchListReply>

export const PostEventBody = Type.Object(
  {
    kind: Type.String({ pattern: LIMITS.eventKindPattern }),
    text: Type.Optional(Type.String({ maxLength: LIMITS.eventTextMaxLength })),
    imageUrl: Type.Optional(Type.String({ maxLength: LIMITS.urlMaxLength, pattern: '^https?://' })),
    minute: Type.Optional(Type.Integer({ minimum: 0, maximum: 200 })),
    score: Type.Optional(Score),
    /** For `correction` and `retraction`: the seq of the event amended or withdrawn. */
    refSeq: Type.Optional(Type.Integer({ minimum: 1 })),
    // The key rule as propertyNames: a Record's key schema compiles to patternProperties "^.*$"
    // and would not check the length.
    data: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { maxProperties: 32, propertyNames: { minLength: 1, maxLength: 64 } })),
  },
  { additionalProperties: false },
)
export type PostEventBody = Static<typeof PostEventBody>

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.idempotencyKeyMaxLength })),
})

export const PostEventReply = Type.Object({
  matchId: MatchId,
  seq: Seq,
  kind: Type.String(),
  at: IsoTime,
  /** True when this answer repeats the first one for the same Idempotency-Key. */
  duplicate: Type.Boolean(),
})
export type PostEventReply = Static<typeof PostEventReply>

export const EventsQuery = Type.Object(
  {
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.eventsPageMax })),
  },
  { additionalProperties: false },
)
export type EventsQuery = Static<typeof EventsQuery>

export const EventsReply = Type.Object({
  matchId: MatchId,
  events: Type.Array(EventFrame),
  /** Oldest seq still in the log (retention may have dropped older ones); 0 when empty. */
  firstSeq: Seq,
  lastSeq: Seq,
  epoch: Type.String(),
})
export type EventsReply = Static<typeof EventsReply>

export const OnlineReply = Type.Object({
  matchId: MatchId,
  total: Type.Integer({ minimum: 0 }),
  nodes: Type.Record(Type.String(), Type.Integer({ minimum: 0 })),
})
export type OnlineReply = Static<typeof OnlineReply>

export const MuteBody = Type.Object(
  {
    userId: Type.String({ minLength: 1, maxLength: 64 }),
    seconds: Type.Integer({ minimum: 1, maximum: LIMITS.muteMaxSeconds }),
  },
  { additionalProperties: false },
)
export type MuteBody = Static<typeof MuteBody>

export const MuteReply = Type.Object({ matchId: MatchId, userId: Type.String(), until: IsoTime })
export type MuteReply = Static<typeof MuteReply>

export const BannedWordsBody = Type.Object(
  { words: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 1000 }) },
  { additionalProperties: false },
)
export type BannedWordsBody = Static<typeof BannedWordsBody>

export const ViewerTokenBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: LIMITS.viewerNameMaxLength }) },
  { additionalProperties: false },
)
export type ViewerTokenBody = Static<typeof ViewerTokenBody>

export const ViewerTokenReply = Type.Object({ token: Type.String(), user: User, expiresAt: IsoTime })
export type ViewerTokenReply = Static<typeof ViewerTokenReply>

export const HealthReply = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('unavailable'), Type.Literal('draining')]),
  checks: Type.Optional(Type.Record(Type.String(), Type.String())),
  node: Type.Optional(Type.String()),
})
export type HealthReply = Static<typeof HealthReply>

export { EventData }

export const NodeView = Type.Object({
  nodeId: Type.String(),
  url: Type.Optional(Type.String()),
  startedAt: IsoTime,
  lastSeen: IsoTime,
  connections: Type.Integer({ minimum: 0 }),
})
export type NodeView = Static<typeof NodeView>

/** `GET /v1/nodes`: live gateway nodes from presence (for the ops page and the monitor). */
export const NodesReply = Type.Object({ nodes: Type.Array(NodeView) })
export type NodesReply = Static<typeof NodesReply>

export const BannedWordsReply = Type.Object({ words: Type.Array(Type.String()) })
export type BannedWordsReply = Static<typeof BannedWordsReply>

import Type, { type Static } from 'typebox'
import { LIMITS } from './limits.ts'

export const MatchId = Type.String({ pattern: LIMITS.matchIdPattern, description: 'match id: letters, digits, _ and -' })
export const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'per-match event sequence number' })
export const IsoTime = Type.String({ format: 'date-time', description: 'ISO 8601 time' })

export const Score = Type.Object(
  { home: Type.Integer({ minimum: 0, maximum: 999 }), away: Type.Integer({ minimum: 0, maximum: 999 }) },
  { additionalProperties: false },
)
export type Score = Static<typeof Score>

export const User = Type.Object({
  id: Type.String({ maxLength: 64 }),
  name: Type.String({ maxLength: LIMITS.viewerNameMaxLength }),
})
export type User = Static<typeof User>

/** The scoreboard as clients see it (derived from the log by `scoreboard.ts`). */
export const ScoreboardView = Type.Object({
  home: Type.Integer(),
  away: Type.Integer(),
  period: Type.Union([Type.String(), Type.Null()]),
  minute: Type.Union([Type.Integer(), Type.Null()]),
})
export type ScoreboardView = Static<typeof ScoreboardView>

/** A match with its scoreboard and the seq of its last event. */
export const MatchView = Type.Object({
  id: MatchId,
  title: Type.String(),
  home: Type.String(),
  away: Type.String(),
  startsAt: IsoTime,
  createdAt: IsoTime,
  scoreboard: ScoreboardView,
  seq: Seq,
})
export type MatchView = Static<typeof MatchView>

/**
 * What an event carries besides its kind. `text`, `imageUrl`, `minute`, `score` and `refSeq`
 * come from the named body fields; anything else comes from the body's free-form `data`.
 */
export const EventData = Type.Object(
  {
    text: Type.Optional(Type.String()),
    imageUrl: Type.Optional(Type.String()),
    minute: Type.Optional(Type.Integer()),
    score: Type.Optional(Score),
    refSeq: Type.Optional(Seq),
    period: Type.Optional(Type.String({ maxLength: 40 })),
  },
  { additionalProperties: true },
)
export type EventData = Static<typeof EventData> & { [extra: string]: unknown }

export const KNOWN_EVENT_KINDS = ['commentary', 'goal', 'score', 'card', 'substitution', 'period', 'correction', 'retraction'] as const

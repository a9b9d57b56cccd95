/**
 * Every WebSocket frame of the public contract (docs/protocol.md). Server frames are produced
 * through `encode.ts`; client frames are validated with the compiled `parseClientFrame`.
 */
import Type, { type Static } from 'typebox'
import { Compile } from 'typebox/compile'
import { IsoTime, MatchId, MatchView, Seq, User, EventData } from './common.ts'
import { WS_ERROR_CODES } from './codes.ts'
import { LIMITS } from './limits.ts'
import { sliceChars } from './text.ts'

// ---- server → client ----------------------------------------------------------------------

export const WelcomeFrame = Type.Object({
  type: Type.Literal('welcome'),
  node: Type.String(),
  connId: Type.String(),
  heartbeatMs: Type.Integer(),
  /** Protocol version; bumps only on a breaking change. */
  v: Type.Literal(1),
  /** Set when the connection carried a valid viewer token. */
  user: Type.Optional(User),
})
export type WelcomeFrame = Static<typeof WelcomeFrame>

export const EventFrame = Type.Object({
  type: Type.Literal('event'),
  matchId: MatchId,
  seq: Seq,
  kind: Type.String(),
  at: IsoTime,
  data: EventData,
})
export type EventFrame = Static<typeof EventFrame>

export const ChatFrame = Type.Object({
  type: Type.Literal('chat'),
  matchId: MatchId,
  id: Type.String(),
  user: User,
  text: Type.String(),
  at: IsoTime,
})
export type ChatFrame = Static<typeof ChatFrame>

export const SnapshotFrame = Type.Object({
  type: Type.Literal('snapshot'),
  matchId: MatchId,
  match: MatchView,
  seq: Seq,
  /** Identity of the match's log; a `since` from another epoch cannot be resumed. */
  epoch: Type.String(),
  events: Type.Array(EventFrame),
  chat: Type.Array(ChatFrame),
  /** True when the client asked to resume but its `since` could not be replayed. */
  reset: Type.Optional(Type.Boolean()),
})
export type SnapshotFrame = Static<typeof SnapshotFrame>

export const ChatDeletedFrame = Type.Object({ type: Type.Literal('chat_deleted'), matchId: MatchId, id: Type.String() })
export type ChatDeletedFrame = Static<typeof ChatDeletedFrame>

export const OnlineFrame = Type.Object({ type: Type.Literal('online'), matchId: MatchId, count: Type.Integer({ minimum: 0 }) })
export type OnlineFrame = Static<typeof OnlineFrame>

export const SubscribedFrame = Type.Object({
  type: Type.Literal('subscribed'),
  matchId: MatchId,
  seq: Seq,
  epoch: Type.String(),
})
export type SubscribedFrame = Static<typeof SubscribedFrame>

export const UnsubscribedFrame = Type.Object({ type: Type.Literal('unsubscribed'), matchId: MatchId })
export type UnsubscribedFrame = Static<typeof UnsubscribedFrame>

export const ChatAckFrame = Type.Object({ type: Type.Literal('chat_ack'), clientMsgId: Type.String(), id: Type.String() })
export type ChatAckFrame = Static<typeof ChatAckFrame>

export const AuthOkFrame = Type.Object({ type: Type.Literal('auth_ok'), user: User })
export type AuthOkFrame = Static<typeof AuthOkFrame>

export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.Enum(WS_ERROR_CODES),
  message: Type.String(),
  ref: Type.Optional(Type.String()),
  matchId: Type.Optional(MatchId),
  /** For `rate_limited` and `muted`: milliseconds until a retry can succeed. */
  retryAfterMs: Type.Optional(Type.Integer({ minimum: 0 })),
})
export type ErrorFrame = Static<typeof ErrorFrame>

export const PongFrame = Type.Object({ type: Type.Literal('pong') })
export type PongFrame = Static<typeof PongFrame>

export const ServerFrame = Type.Union([
  WelcomeFrame,
  SnapshotFrame,
  EventFrame,
  ChatFrame,
  ChatDeletedFrame,
  OnlineFrame,
  SubscribedFrame,
  UnsubscribedFrame,
  ChatAckFrame,
  AuthOkFrame,
  ErrorFrame,
  PongFrame,
])
export type ServerFrame = Static<typeof ServerFrame>

// ---- client → server ----------------------------------------------------------------------

export const SubscribeFrame = Type.Object(
  {
    type: Type.Literal('subscribe'),
    matchId: MatchId,
    since: Type.Optional(Seq),
    /** The `epoch` the client's `since` belongs to; a mismatch answers a reset snapshot. */
    epoch: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: false },
)
export type SubscribeFrame = Static<typeof SubscribeFrame>

export const UnsubscribeFrame = Type.Object({ type: Type.Literal('unsubscribe'), matchId: MatchId }, { additionalProperties: false })
export type UnsubscribeFrame = Static<typeof UnsubscribeFrame>

/**
 * `text` is deliberately not length-limited here: an over-long text answers `too_large`
 * (not `bad_request`) so that clients can tell the two apart.
 */
export const ChatSendFrame = Type.Object(
  {
    type: Type.Literal('chat'),
    matchId: MatchId,
    text: Type.String(),
    clientMsgId: Type.String({ minLength: 1, maxLength: LIMITS.clientMsgIdMaxLength }),
  },
  { additionalProperties: false },
)
export type ChatSendFrame = Static<typeof ChatSendFrame>

export const PingFrame = Type.Object({ type: Type.Literal('ping') }, { additionalProperties: false })
export type PingFrame = Static<typeof PingFrame>

/** Identify the viewer after connecting (same as the `token` query parameter). */
export const AuthFrame = Type.Object(
  { type: Type.Literal('auth'), token: Type.String({ maxLength: 1024 }) },
  { additionalProperties: false },
)
export type AuthFrame = Static<typeof AuthFrame>

export const ClientFrame = Type.Union([SubscribeFrame, UnsubscribeFrame, ChatSendFrame, PingFrame, AuthFrame])
export type ClientFrame = Static<typeof ClientFrame>
export type ClientFrameType = ClientFrame['type']

const clientValidators = {
  subscribe: Compile(SubscribeFrame),
  unsubscribe: Compile(UnsubscribeFrame),
  chat: Compile(ChatSendFrame),
  ping: Compile(PingFrame),
  auth: Compile(AuthFrame),
} as const

export type ParseResult = { ok: true; frame: ClientFrame } | { ok: false; message: string; ref?: string; matchId?: string }

const MATCH_ID = new RegExp(LIMITS.matchIdPattern)

/**
 * What a refused frame's `error` names (docs/protocol.md: every refused chat `error` carries `ref`
 * and `matchId`), read from whatever object was sent: its `clientMsgId` (cut to the limit, in
 * characters, so a valid one comes back whole) and its `matchId` when that is a valid match id.
 */
export function frameRefs(obj: Record<string, unknown>): { ref?: string; matchId?: string } {
  const out: { ref?: string; matchId?: string } = {}
  if (typeof obj.clientMsgId === 'string') out.ref = sliceChars(obj.clientMsgId, LIMITS.clientMsgIdMaxLength)
  if (typeof obj.matchId === 'string' && MATCH_ID.test(obj.matchId)) out.matchId = obj.matchId
  return out
}

/**
 * Parse and validate one text frame from a client. Never throws: anything wrong comes back
 * as `{ ok: false, message }` for an `error` frame with code `bad_request`.
 */
export function parseClientFrame(text: string): ParseResult {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, message: 'frame is not valid JSON' }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, message: 'frame must be a JSON object' }
  }
  const obj = value as Record<string, unknown>
  const { ref, matchId } = frameRefs(obj)
  const refs = { ...(ref ? { ref } : {}), ...(matchId ? { matchId } : {}) }
  const type = obj.type
  if (typeof type !== 'string' || !Object.hasOwn(clientValidators, type)) {
    return { ok: false, message: `unknown frame type ${JSON.stringify(type)?.slice(0, 40)}`, ...refs }
  }
  const validator = clientValidators[type as ClientFrameType]
  if (!validator.Check(obj)) {
    const first = validator.Errors(obj)[0]
    const where = first?.instancePath ? `${first.instancePath} ` : ''
    return { ok: false, message: `invalid ${type} frame: ${where}${first?.message ?? 'does not match schema'}`, ...refs }
  }
  return { ok: true, frame: obj as ClientFrame }
}

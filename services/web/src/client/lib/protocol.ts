/**
 * What the pages take from @touchline/protocol. Types come from the package (erased at build).
 * The few runtime values (the scoreboard reducer, close codes, limits) come from the package's
 * subpath exports: the package index also pulls in the TypeBox schemas, which would add ~150 kB
 * to every page for nothing.
 */
export type {
  ChatFrame,
  ClientFrame,
  EventData,
  EventFrame,
  EventsReply,
  MatchListReply,
  MatchView,
  NodesReply,
  NodeView,
  OnlineReply,
  PostEventBody,
  PostEventReply,
  Score,
  ScoreboardView,
  ServerFrame,
  SnapshotFrame,
  User,
  ViewerTokenReply,
  BoardState,
} from '@touchline/protocol'
export { applyEvent, viewOf, EMPTY_BOARD } from '@touchline/protocol/scoreboard'
export { CLOSE, type CloseCode } from '@touchline/protocol/codes'
export { LIMITS } from '@touchline/protocol/limits'
export { newIdempotencyKey } from '@touchline/protocol/idempotency'
// The text rules have no subpath of their own; from the index they cost ~0.5 kB, not the schemas:
// the package is `sideEffects: false`, so the bundler keeps only text.ts (checked on the built pages).
export { charLength, cleanText, hasVisible, sliceChars } from '@touchline/protocol'

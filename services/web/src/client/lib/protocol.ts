/**
 * What the pages take from @touchline/protocol. Types come from the package (erased at build).
 * The few runtime values (the scoreboard reducer, close codes, limits) are imported from their
 * own files: the package index also pulls in the TypeBox schemas, which would add ~150 kB to
 * every page for nothing.
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
export { applyEvent, viewOf, EMPTY_BOARD } from '../../../../../packages/protocol/src/scoreboard.ts'
export { CLOSE, type CloseCode } from '../../../../../packages/protocol/src/codes.ts'
export { LIMITS } from '../../../../../packages/protocol/src/limits.ts'

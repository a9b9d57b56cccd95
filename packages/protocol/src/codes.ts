/**
 * Every error code and close code of the public contract, in one place. Services import these
 * rather than writing string literals, and a test checks that docs/protocol.md lists exactly
 * these codes.
 */

/** `code` values of the WebSocket `error` frame. */
export const WS_ERROR_CODES = [
  'bad_request', // the frame is not valid JSON or does not match any client frame schema
  'unknown_match', // the match does not exist
  'rate_limited', // too many chat messages; retry later
  'muted', // a moderator muted this user for the match
  'unauthorized', // chat needs a valid viewer token
  'too_large', // a field is over its limit (the frame itself was accepted)
  'too_many_subscriptions', // per-connection subscription limit reached
  'not_subscribed', // chat or unsubscribe for a match the connection does not watch
  'unavailable', // a dependency is down; nothing was stored, retry
  'internal', // an unexpected failure on the server; it has been logged
] as const
export type WsErrorCode = (typeof WS_ERROR_CODES)[number]

/** `code` values of HTTP API errors, with their status. */
export const API_ERRORS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  unknown_match: 404,
  not_found: 404,
  match_exists: 409,
  idempotency_conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const
export type ApiErrorCode = keyof typeof API_ERRORS

export interface CloseCode {
  readonly code: number
  /** Sent in the close frame; must stay under 123 bytes. */
  readonly reason: string
  /** Whether a client should reconnect (with `since`) after this close. */
  readonly reconnect: boolean
}

/**
 * WebSocket close codes. 1000–1003 and 1008/1009 mean "do not retry the same thing";
 * 1012/1013 mean "reconnect after a short random delay and resume with `since`". 1001 goes to a
 * peer that missed a pong, just before the gateway terminates its socket: only a peer that is
 * alive but slow receives it, and it reconnects like after 1013.
 */
export const CLOSE = {
  normal: { code: 1000, reason: 'bye', reconnect: false },
  policy: { code: 1008, reason: 'policy violation: too many bad frames', reconnect: false },
  tooLarge: { code: 1009, reason: 'frame too large', reconnect: false },
  restart: { code: 1012, reason: 'service restart: reconnect and resume with since', reconnect: true },
  slowConsumer: { code: 1013, reason: 'too slow: reconnect and resume with since', reconnect: true },
  overloaded: { code: 1013, reason: 'node at connection limit: try again later', reconnect: true },
  heartbeat: { code: 1001, reason: 'heartbeat timeout', reconnect: true },
} as const satisfies Record<string, CloseCode>

/** Every close code a client can get: CLOSE's, and 1002/1007, which the WebSocket library sends itself. */
export const CLOSE_CODES = [1000, 1001, 1002, 1007, 1008, 1009, 1012, 1013] as const

/**
 * Size limits shared by every service and client. They are part of the contract: a client can
 * check them before sending, and the docs table in docs/protocol.md lists the same values.
 */
export const LIMITS = {
  /** Match ids are used in NATS subjects and Redis keys, so only subject-safe characters. */
  matchIdPattern: '^[A-Za-z0-9_-]{1,64}$',
  matchIdMaxLength: 64,
  titleMaxLength: 200,
  teamMaxLength: 100,
  eventKindPattern: '^[a-z][a-z0-9_]{0,31}$',
  eventTextMaxLength: 4000,
  urlMaxLength: 2048,
  /** Free-form `data` of an event, as JSON text. */
  eventDataMaxBytes: 4096,
  /** The whole HTTP body of any API request. */
  apiBodyMaxBytes: 16 * 1024,
  idempotencyKeyMaxLength: 200,
  chatTextMaxLength: 500,
  viewerNameMaxLength: 40,
  clientMsgIdMaxLength: 64,
  /**
   * Largest client frame the gateway acts on. Frames up to `wsMaxPayloadBytes` are read and, when
   * over this, answered with `too_large` (the connection stays usable); larger ones close it with 1009.
   */
  wsMaxClientFrameBytes: 4096,
  /** Largest WebSocket frame a client may send at all; larger ones close the socket with 1009. */
  wsMaxPayloadBytes: 128 * 1024,
  eventsPageMax: 1000,
  muteMaxSeconds: 7 * 24 * 3600,
} as const

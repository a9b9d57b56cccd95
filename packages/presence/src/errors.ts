/**
 * The store cannot be reached (Redis down, connection lost, command timed out). The call failed
 * fast instead of waiting; a write that timed out may or may not have been applied.
 */
export class PresenceUnavailableError extends Error {
  override name = 'PresenceUnavailableError'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The store was closed with `close()`. */
export class PresenceClosedError extends Error {
  override name = 'PresenceClosedError'
  constructor() {
    super('presence store is closed')
  }
}

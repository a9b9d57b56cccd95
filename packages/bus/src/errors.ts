/** Typed bus errors, checked with instanceof (as nats.js does). */

/** The bus could not be reached or did not answer in time. Nothing was stored: retry. */
export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError'
}

export class UnknownMatchError extends Error {
  override name = 'UnknownMatchError'
  readonly matchId: string
  constructor(matchId: string) {
    super(`unknown match ${matchId}`)
    this.matchId = matchId
  }
}

export class MatchExistsError extends Error {
  override name = 'MatchExistsError'
  readonly matchId: string
  constructor(matchId: string) {
    super(`match ${matchId} already exists`)
    this.matchId = matchId
  }
}

/** The same idempotency key was used before with a different event. */
export class IdempotencyConflictError extends Error {
  override name = 'IdempotencyConflictError'
}

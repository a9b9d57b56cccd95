/**
 * When to reconnect: exponential backoff with jitter, and what a close code advises
 * (the table in @touchline/protocol codes.ts, shared with the gateway).
 */
import { CLOSE } from './protocol.ts'

export interface BackoffOptions {
  /** Delay before the first retry (upper bound; the jitter takes it down to half). */
  baseMs: number
  /** Largest delay. */
  maxMs: number
  factor?: number
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 15_000, factor: 2 }

/**
 * Delay before retry number `attempt` (0 for the first): the exponential step, capped, with
 * "equal jitter" (a random point in its upper half), so that thousands of pages dropped by the
 * same gateway do not come back in the same millisecond, and none waits much less than the step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.baseMs * (options.factor ?? 2) ** Math.max(0, attempt))
  return Math.round(step / 2 + random() * (step / 2))
}

export interface CloseAdvice {
  reconnect: boolean
  /** For a planned restart (1012): come back soon, after a short random delay. */
  soon: boolean
  /** Why, in words for the page. */
  reason: string
}

const byCode = new Map<number, { reconnect: boolean; reason: string }>()
for (const c of Object.values(CLOSE)) if (!byCode.has(c.code)) byCode.set(c.code, { reconnect: c.reconnect, reason: c.reason })

/**
 * What to do after the socket closed with `code`. Codes from the table follow its advice
 * (1008 and 1009 must not loop); anything else (1006 when a gateway died, 1011, a proxy's close)
 * is a network failure and is retried with backoff.
 */
export function closeAdvice(code: number, reason = ''): CloseAdvice {
  const known = byCode.get(code)
  if (known) {
    return { reconnect: known.reconnect, soon: code === CLOSE.restart.code, reason: reason || known.reason }
  }
  return { reconnect: true, soon: false, reason: reason || (code === 1006 ? 'connection lost' : `closed (${code})`) }
}

/** A short random delay for a planned restart (1012): 100 – 1100 ms. */
export function restartDelay(random: () => number = Math.random): number {
  return Math.round(100 + random() * 1000)
}

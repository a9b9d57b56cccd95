/** TOUCHLINE_TOKEN_SECRET, or one generated for this process. */
import { randomSecret } from '@touchline/tokens'
import type { Logger } from 'pino'

/**
 * The configured secret, else a fresh one. `consequence` says what a generated secret breaks for
 * this service (logged as a warning); leave it out where nothing does (a lone embedded process).
 */
export function tokenSecretOf(configured: string | undefined, log: Logger, consequence?: string): string {
  if (configured) return configured
  if (consequence) log.warn(`TOUCHLINE_TOKEN_SECRET is unset: generated one for this process (${consequence})`)
  return randomSecret()
}

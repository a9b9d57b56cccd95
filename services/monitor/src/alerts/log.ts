/** The log channel: every alert as one pino JSON line (error for down, warn for degraded, info for recovered). */
import type { Logger } from 'pino'
import type { Alert } from '../types.ts'
import type { Channel } from './dispatcher.ts'

export function logChannel(logger: Logger): Channel {
  const log = logger.child({ channel: 'alerts' })
  return {
    name: 'log',
    retries: 0,
    backoffMs: 1,
    timeoutMs: 1000,
    async send(alert: Alert) {
      const level = alert.type === 'recovered' ? 'info' : alert.type === 'degraded' ? 'warn' : 'error'
      log[level]({ alert }, alert.message)
    },
  }
}

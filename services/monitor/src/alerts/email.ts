/**
 * E-mail over SMTP with nodemailer. The subject names the change and the target; the body adds
 * the error, since when, and where the monitor runs. SMTP being unreachable is never fatal: a
 * send fails (and is retried by the dispatcher), and `verify` — run as the `alerts:email` check —
 * puts the channel in a degraded state, alerted through the other channels.
 */
import nodemailer from 'nodemailer'
import { withAbort } from '../checks/util.ts'
import type { EmailConfig } from '../config.ts'
import type { Alert } from '../types.ts'
import type { Channel } from './dispatcher.ts'

export interface EmailChannel extends Channel {
  /** Connect, greet and authenticate (no message sent). */
  verify(): Promise<void>
}

export function emailChannel(config: EmailConfig): EmailChannel {
  const transport = nodemailer.createTransport({
    url: config.smtpUrl,
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    dnsTimeout: config.timeoutMs,
  })
  return {
    name: 'email',
    target: config.smtpUrl,
    retries: config.retries,
    backoffMs: 1000,
    // nodemailer's own timeouts apply to each phase; give the whole send a little more.
    timeoutMs: config.timeoutMs * 3,
    async send(alert: Alert, signal: AbortSignal) {
      // Nothing is handed to SMTP once the attempt is over (timed out, or the monitor stopping).
      signal.throwIfAborted()
      const sending = transport.sendMail({ from: config.from, to: config.to, ...renderEmail(alert) }).then(
        () => undefined,
        (err: Error) => {
          throw new Error(`SMTP: ${err.message}`)
        },
      )
      // withAbort keeps a handler on `sending`: an SMTP failure after the abort is dropped, never
      // an unhandled rejection (which would end the process).
      await withAbort(sending, signal)
    },
    async verify() {
      try {
        await transport.verify()
      } catch (err) {
        throw new Error(`SMTP: ${(err as Error).message}`)
      }
    },
    async close() {
      transport.close()
    },
  }
}

const WORD: Record<Alert['type'], string> = { down: 'DOWN', recovered: 'RECOVERED', degraded: 'DEGRADED', reminder: 'STILL DOWN' }

export function renderEmail(alert: Alert): { subject: string; text: string } {
  const t = alert.target
  const subject = `[touchline] ${WORD[alert.type]}: ${t.name} (${t.target})${alert.error ? ` - ${alert.error}` : ''}`.slice(0, 250)
  const lines = [
    alert.message,
    '',
    `Target:   ${t.name}`,
    `Kind:     ${t.kind}${t.discovered ? ' (discovered from presence)' : ''}`,
    `Address:  ${t.target}`,
    `State:    ${alert.state} (was ${alert.previous})`,
    `Since:    ${alert.since}`,
    `Error:    ${alert.error ?? '-'}`,
    ...(alert.p99Ms !== undefined ? [`Fan-out p99: ${alert.p99Ms} ms`] : []),
    `Alert id: ${alert.id}`,
    `Monitor:  ${alert.monitor.host} (touchline-monitor ${alert.monitor.version}) at ${alert.at}`,
  ]
  return { subject, text: `${lines.join('\n')}\n` }
}

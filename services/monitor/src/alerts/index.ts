/** Channels from configuration: always the log, plus the webhook(s) and e-mail when configured. */
import type { Logger } from 'pino'
import type { MonitorConfig } from '../config.ts'
import type { Channel } from './dispatcher.ts'
import { emailChannel } from './email.ts'
import { logChannel } from './log.ts'
import { webhookChannels } from './webhook.ts'

export type { Channel, Delivery } from './dispatcher.ts'
export { Dispatcher } from './dispatcher.ts'
export { renderEmail } from './email.ts'

export function channelsFrom(config: MonitorConfig, logger: Logger): { channels: Channel[]; emailVerify?: () => Promise<void> } {
  const channels: Channel[] = [logChannel(logger)]
  if (config.webhook) channels.push(...webhookChannels(config.webhook))
  if (!config.email) return { channels }
  const email = emailChannel(config.email)
  channels.push(email)
  return { channels, emailVerify: () => email.verify() }
}

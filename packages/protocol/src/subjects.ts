/**
 * NATS subject, stream and KV bucket names. A prefix lets several deployments (or tests)
 * share one NATS server without seeing each other's data.
 *
 * - `<p>.log.ev.<matchId>`   JetStream (stream `<P>_EVENTS`): the durable event log. Each message
 *                            body is the exact `event` frame spectators receive.
 * - `<p>.live.ev.<matchId>`  core NATS: the same bytes, published after the log acknowledged them.
 * - `<p>.log.chat.<matchId>` JetStream (stream `<P>_CHAT`): the durable chat log.
 * - `<p>.live.chat.<matchId>` core NATS: chat frames for fan-out.
 * - `<p>.ctl`                core NATS: moderation and configuration changes for every gateway.
 */
export interface Names {
  readonly prefix: string
  readonly eventsStream: string
  readonly chatStream: string
  readonly matchesBucket: string
  readonly idempotencyBucket: string
  readonly mutesBucket: string
  readonly settingsBucket: string
  eventLog(matchId: string): string
  eventLive(matchId: string): string
  chatLog(matchId: string): string
  chatLive(matchId: string): string
  readonly eventLogAll: string
  readonly chatLogAll: string
  readonly control: string
}

const PREFIX_RE = /^[a-z][a-z0-9_]{0,30}$/

export function names(prefix = 'tl'): Names {
  if (!PREFIX_RE.test(prefix)) throw new Error(`invalid NATS prefix ${JSON.stringify(prefix)}: use [a-z][a-z0-9_]*`)
  const P = prefix.toUpperCase()
  return {
    prefix,
    eventsStream: `${P}_EVENTS`,
    chatStream: `${P}_CHAT`,
    matchesBucket: `${prefix}_matches`,
    idempotencyBucket: `${prefix}_idempotency`,
    mutesBucket: `${prefix}_mutes`,
    settingsBucket: `${prefix}_settings`,
    eventLog: (m) => `${prefix}.log.ev.${m}`,
    eventLive: (m) => `${prefix}.live.ev.${m}`,
    chatLog: (m) => `${prefix}.log.chat.${m}`,
    chatLive: (m) => `${prefix}.live.chat.${m}`,
    eventLogAll: `${prefix}.log.ev.*`,
    chatLogAll: `${prefix}.log.chat.*`,
    control: `${prefix}.ctl`,
  }
}

/**
 * NATS: connect and make a round trip (PING/PONG via `rtt()`). The connection is kept between
 * checks (no reconnect of its own: a failed check closes it and the next one connects afresh), so
 * a check is one round trip while NATS is healthy and a full connect after it was not.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { Check, Observation } from '../types.ts'
import { errorText, performance, since, withAbort } from './util.ts'

export function natsCheck(url: string, timeoutMs: number): Check {
  let nc: NatsConnection | undefined
  const drop = () => {
    const c = nc
    nc = undefined
    c?.close().catch(() => {})
  }
  return {
    async run(signal): Promise<Observation> {
      const t0 = performance.now()
      try {
        if (!nc || nc.isClosed()) {
          nc = await withAbort(
            connect({ servers: url, timeout: timeoutMs, reconnect: false, name: 'touchline-monitor', pingInterval: 60_000 }),
            signal,
            (late) => late.close().catch(() => {}),
          )
        }
        const rtt = await withAbort(nc.rtt(), signal)
        return { result: 'ok', latencyMs: Math.round(rtt * 100) / 100 }
      } catch (err) {
        drop()
        return { result: 'fail', error: errorText(err), latencyMs: since(t0) }
      }
    },
    async close() {
      drop()
    },
  }
}

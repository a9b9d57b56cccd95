/**
 * Redis: PING answered with PONG. One connection kept between checks, without ioredis' own
 * reconnecting or offline queue: a failed check drops it and the next check connects afresh.
 */
import { Redis } from 'ioredis'
import type { Check, Observation } from '../types.ts'
import { errorText, performance, since, withAbort } from './util.ts'

export function redisCheck(url: string, timeoutMs: number): Check {
  let client: Redis | undefined
  const drop = () => {
    client?.disconnect()
    client = undefined
  }
  return {
    async run(signal): Promise<Observation> {
      const t0 = performance.now()
      try {
        if (client?.status !== 'ready') {
          drop()
          const c = new Redis(url, {
            lazyConnect: true,
            enableOfflineQueue: false,
            maxRetriesPerRequest: 0,
            retryStrategy: () => null,
            connectTimeout: timeoutMs,
            commandTimeout: timeoutMs,
            connectionName: 'touchline-monitor',
          })
          c.on('error', () => {})
          client = c
          await withAbort(c.connect(), signal)
        }
        const t1 = performance.now()
        const pong = await withAbort(client.ping(), signal)
        if (pong !== 'PONG') throw new Error(`unexpected reply to PING: ${JSON.stringify(pong)}`)
        return { result: 'ok', latencyMs: since(t1) }
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

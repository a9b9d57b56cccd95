/**
 * The NATS and Redis that the services of one multi-process e2e file share: testkit servers on
 * free ports in temporary directories (never the default 4222/6379), started side by side.
 */
import { type NatsServer, type RedisServer, startNats, startRedis } from '../../packages/testkit/src/index.ts'

export interface Backends {
  readonly nats: NatsServer
  readonly redis: RedisServer
  /** NATS_URL and REDIS_URL, to spread into a service's environment. */
  env(): { NATS_URL: string; REDIS_URL: string }
  /** Stop both (SIGTERM); one failing to stop does not leave the other running. */
  stop(): Promise<void>
}

export async function startBackends(): Promise<Backends> {
  const [nats, redis] = await Promise.allSettled([startNats(), startRedis()])
  if (nats.status === 'rejected' || redis.status === 'rejected') {
    // The caller never gets a handle on the one that did start: stop it here.
    await Promise.allSettled([nats, redis].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)))
    throw nats.status === 'rejected' ? nats.reason : (redis as PromiseRejectedResult).reason
  }
  const servers = { nats: nats.value, redis: redis.value }
  return {
    ...servers,
    env: () => ({ NATS_URL: servers.nats.url, REDIS_URL: servers.redis.url }),
    stop: async () => {
      await Promise.allSettled([servers.nats.stop(), servers.redis.stop()])
    },
  }
}

import { execSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { startRedis, waitFor } from '@touchline/testkit'
import { peerClients, redisForFile } from '@touchline/testkit/fixtures'
import type { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { presenceContract } from './contract.ts'
import { PresenceUnavailableError } from './errors.ts'
import { connectRedisPresence } from './redis.ts'
import type { PresenceStatus } from './types.ts'

const redis = redisForFile()

async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000)
    cursor = next
    out.push(...keys)
  } while (cursor !== '0')
  return out.sort()
}

presenceContract(async () => {
  // A fresh prefix per test: tests share one server but never each other's keys.
  const prefix = `t-${randomUUID()}`
  const opts = { url: redis.server.url, prefix, ttlMs: 600, commandTimeoutMs: 1000 }
  const store = await connectRedisPresence(opts)
  const peers = peerClients(() => connectRedisPresence(opts))
  return {
    store,
    keys: () => scanKeys(redis.admin, prefix),
    peer: peers.open,
    cleanup: async () => {
      await store.close()
      await peers.closeAll()
      const keys = await scanKeys(redis.admin, prefix)
      if (keys.length > 0) await redis.admin.del(...keys)
    },
  }
})

describe('RedisPresence', () => {
  it('defaults to a 6 s TTL and a 2 s heartbeat', async () => {
    const store = await connectRedisPresence({ url: redis.server.url, prefix: `t-${randomUUID()}` })
    try {
      expect(store.kind).toBe('redis')
      expect(store.ttlMs).toBe(6000)
      expect(store.heartbeatMs).toBe(2000)
    } finally {
      await store.close()
    }
  })

  it('keeps every key under one hash tag, with the TTL on the heartbeat key', async () => {
    const prefix = `t-${randomUUID()}`
    const store = await connectRedisPresence({ url: redis.server.url, prefix, ttlMs: 600, commandTimeoutMs: 1000 })
    try {
      await store.join({ nodeId: 'n1', startedAt: 1 })
      await store.add('n1', 'm1', 2)
      expect(await scanKeys(redis.admin, prefix)).toEqual([`{${prefix}}:node:n1`, `{${prefix}}:nodes`, `{${prefix}}:pc:n1`])
      const pttl = await redis.admin.pttl(`{${prefix}}:node:n1`)
      expect(pttl).toBeGreaterThan(0)
      expect(pttl).toBeLessThanOrEqual(600)
      expect(await redis.admin.hgetall(`{${prefix}}:pc:n1`)).toEqual({ m1: '2' })
      expect(JSON.parse((await redis.admin.get(`{${prefix}}:node:n1`))!)).toMatchObject({ nodeId: 'n1', connections: 0 })
      const slot = (k: string) => redis.admin.call('CLUSTER', 'KEYSLOT', k).catch(() => undefined)
      // CLUSTER KEYSLOT needs cluster mode on some builds; when it answers, all slots are equal.
      const slots = await Promise.all((await scanKeys(redis.admin, prefix)).map(slot))
      if (slots[0] !== undefined) expect(new Set(slots).size).toBe(1)
    } finally {
      await store.close()
    }
  })

  it('Redis restarted (data lost): calls fail fast while down, degraded, then connected, and replaceNode restores counts', async () => {
    await using own = await startRedis()
    const store = await connectRedisPresence({
      url: own.url,
      prefix: 'restart',
      ttlMs: 600,
      commandTimeoutMs: 500,
      reconnectMaxDelayMs: 200,
    })
    const seen: PresenceStatus['type'][] = []
    store.onStatus((s) => seen.push(s.type))
    try {
      expect(store.status()).toEqual({ type: 'connected' })
      await store.join({ nodeId: 'gw1', url: 'http://gw1', startedAt: 1 })
      await store.add('gw1', 'm1', 3)
      await store.add('gw1', 'm2', 1)

      await own.kill()
      await waitFor('degraded status', () => store.status().type === 'degraded' || undefined, 5000, 10)
      // Every kind of call rejects quickly with the typed error while Redis is down.
      for (const call of [() => store.add('gw1', 'm1'), () => store.counts('m1'), () => store.heartbeat('gw1'), () => store.sweep()]) {
        const t0 = Date.now()
        await expect(call()).rejects.toBeInstanceOf(PresenceUnavailableError)
        expect(Date.now() - t0).toBeLessThan(1500)
      }

      await own.start()
      await waitFor('connected status', () => store.status().type === 'connected' || undefined, 10_000, 20)
      expect(seen.slice(0, 2)).toEqual(['degraded', 'connected'])
      // Redis lost everything; the store re-registered the node it knows (url and all) before
      // reporting `connected`, and the gateway rewrites its table.
      expect(await store.liveNodes()).toMatchObject([{ nodeId: 'gw1', url: 'http://gw1' }])
      expect((await store.counts('m1')).total).toBe(0)
      await store.replaceNode(
        'gw1',
        new Map([
          ['m1', 3],
          ['m2', 1],
        ]),
      )
      expect(await store.counts('m1')).toEqual({ total: 3, nodes: { gw1: 3 } })
      expect((await store.totals(['m1', 'm2'])).get('m2')).toBe(1)
    } finally {
      await store.close()
    }
  })

  it('a command in flight when the connection hangs rejects by the command timeout', async () => {
    await using own = await startRedis()
    const store = await connectRedisPresence({ url: own.url, prefix: 'hang', ttlMs: 600, commandTimeoutMs: 300, reconnectMaxDelayMs: 200 })
    // The test's own redis-server (started above by the testkit), found by its port.
    const pid = Number(execSync(`pgrep -f "redis-server 127.0.0.1:${own.port}"`).toString().trim().split('\n')[0])
    expect(pid).toBeGreaterThan(0)
    let stopped = false
    try {
      await store.join({ nodeId: 'n', startedAt: 1 })
      // Freeze the server: the connection stays open but nothing answers.
      process.kill(pid, 'SIGSTOP')
      stopped = true
      const t0 = Date.now()
      await expect(store.counts('m')).rejects.toBeInstanceOf(PresenceUnavailableError)
      expect(Date.now() - t0).toBeLessThan(1500)
      expect(store.status().type).toBe('degraded')
      process.kill(pid, 'SIGCONT')
      stopped = false
      await waitFor('recovery', async () => ((await store.counts('m').catch(() => undefined)) ? true : undefined), 5000, 50)
      expect(store.status().type).toBe('connected')
    } finally {
      if (stopped) process.kill(pid, 'SIGCONT')
      await store.close()
    }
  })

  it('connectRedisPresence returns a degraded store when Redis does not answer, which connects later', async () => {
    await using own = await startRedis()
    await own.kill()
    const store = await connectRedisPresence({ url: own.url, prefix: 'late', connectTimeoutMs: 300, reconnectMaxDelayMs: 200 })
    try {
      expect(store.status().type).toBe('degraded')
      await expect(store.counts('m')).rejects.toBeInstanceOf(PresenceUnavailableError)
      await own.start()
      await waitFor('connected status', () => store.status().type === 'connected' || undefined, 10_000, 20)
      expect(await store.counts('m')).toEqual({ total: 0, nodes: {} })
    } finally {
      await store.close()
    }
  })
})

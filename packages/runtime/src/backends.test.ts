import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { type BackendConfig, connectBackends } from './backends.ts'
import { captureLog } from './testing.ts'

const memory: BackendConfig = { NATS_PREFIX: 'tl', NATS_TIMEOUT_MS: 500, REDIS_PREFIX: 'tl' }

/** A port nothing listens on (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

describe('connectBackends', () => {
  it('without NATS_URL and REDIS_URL builds the in-memory bus, presence and limiter, and says what that means', async () => {
    const { log, lines } = captureLog()
    const b = await connectBackends(memory, log, {
      natsName: 'test',
      rateLimiter: true,
      presenceTtlMs: 4000,
      warn: { memoryBus: 'bus note', memoryRedis: 'redis note', redisDown: 'down note' },
    })
    expect(b.bus.kind).toBe('memory')
    expect(b.presence.kind).toBe('memory')
    expect(b.rateLimiter.kind).toBe('memory')
    expect((b.presence as unknown as { ttlMs: number }).ttlMs).toBe(4000)
    expect(lines.map((l) => l.msg)).toEqual([
      'NATS_URL is unset: using the in-memory bus (bus note)',
      'REDIS_URL is unset: using in-memory presence and chat rate limits (redis note)',
    ])
    await b.close()
    await b.close() // twice is harmless
  })

  it('builds no rate limiter unless asked, and logs no warning it has no note for', async () => {
    const { log, lines } = captureLog()
    const b = await connectBackends(memory, log, { natsName: 'test' })
    expect(b.rateLimiter).toBeUndefined()
    expect(lines).toEqual([])
    const ingestLike = captureLog()
    await connectBackends(memory, ingestLike.log, { natsName: 'test', warn: { memoryRedis: 'counts' } })
    expect(ingestLike.lines.map((l) => l.msg)).toEqual(['REDIS_URL is unset: using in-memory presence (counts)'])
    await b.close()
  })

  it('rejects with an error naming NATS_URL when NATS does not answer', async () => {
    const url = `nats://127.0.0.1:${await closedPort()}`
    const { log } = captureLog()
    await expect(connectBackends({ ...memory, NATS_URL: [url] }, log, { natsName: 'test' })).rejects.toThrow(
      `NATS_URL (${url}) is not reachable`,
    )
  })

  it('with Redis away names REDIS_URL by default (REDIS_AT_START=require)', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`
    const { log } = captureLog()
    await expect(
      connectBackends({ ...memory, REDIS_URL: [url], REDIS_PREFIX: 'rt' }, log, {
        natsName: 'test',
        rateLimiter: true,
        redisConnectTimeoutMs: 200,
      }),
    ).rejects.toThrow(`REDIS_URL (${url}) is not reachable (set REDIS_AT_START=degrade to start without it)`)
  })

  it('with Redis away and REDIS_AT_START=degrade goes on degraded within the connect timeout, and warns', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`
    const { log, lines } = captureLog()
    const started = Date.now()
    const b = await connectBackends({ ...memory, REDIS_URL: [url], REDIS_PREFIX: 'rt', REDIS_AT_START: 'degrade' }, log, {
      natsName: 'test',
      rateLimiter: true,
      redisConnectTimeoutMs: 200,
      warn: { redisDown: 'presence is degraded until it is' },
    })
    try {
      expect(Date.now() - started).toBeLessThan(2000)
      expect(b.bus.kind).toBe('memory')
      expect(b.presence.kind).toBe('redis')
      expect(b.presence.status().type).not.toBe('connected')
      expect(b.rateLimiter.kind).toBe('redis')
      expect(lines).toEqual([expect.objectContaining({ redis: url, msg: 'Redis is not reachable yet: presence is degraded until it is' })])
    } finally {
      await b.close()
    }
  })
})

import { MemoryBus } from '@touchline/bus'
import { MemoryPresence } from '@touchline/presence'
import { MemoryRateLimiter } from '@touchline/ratelimit'
import { encodeFrame } from '@touchline/protocol'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { buildGatewayApp } from './app.ts'
import type { GatewaySettings } from './config.ts'
import { Gateway, type GatewayDeps } from './gateway.ts'
import { TestClient } from './testing.ts'

const NOW = () => new Date().toISOString()
const apps: FastifyInstance[] = []
const clients: TestClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const a of apps.splice(0)) await a.close()
})

async function start(settings: Partial<GatewaySettings> = {}) {
  const bus = new MemoryBus()
  const registry = new Registry()
  const deps: GatewayDeps = {
    bus,
    presence: new MemoryPresence(),
    rateLimiter: new MemoryRateLimiter(),
    nodeId: 'gw-test',
    tokenSecret: 'test-secret-0123456789',
    registry,
    // No online frames during the test: only what it sends reaches the sockets.
    settings: { onlineIntervalMs: 3_600_000, ...settings },
  }
  const gw = new Gateway(deps, pino({ level: 'silent' }))
  const app = await buildGatewayApp(deps, { gateway: gw })
  apps.push(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  await bus.createMatch({ id: 'm1', title: 'Final', home: 'H', away: 'A', startsAt: NOW(), createdAt: NOW() })
  const client = async () => {
    const c = await TestClient.open(`ws://127.0.0.1:${port}/ws?match=m1`)
    clients.push(c)
    await c.nextOf('subscribed')
    return c
  }
  const chat = (text: string) => bus.appendChat('m1', { user: { id: 'u1', name: 'Ann' }, text })
  return { gw, bus, registry, client, chat, http: `http://127.0.0.1:${port}` }
}

describe('gateway write path', () => {
  it('the sockets the gateway accepts on /ws take the direct path (ws internals as expected)', async () => {
    const s = await start()
    await s.client()
    const conns = [...s.gw.connections]
    expect(conns).toHaveLength(1)
    expect(conns[0]?.sender.direct).toBe(true)
  })

  it('coalesces chat of a window into one write per socket; events are not held; socket writes are a metric', async () => {
    const s = await start({ chatCoalesceMs: 1000 })
    const a = await s.client()
    const b = await s.client()
    const writes0 = s.gw.stats.socketWrites
    const frames0 = s.gw.stats.framesSent
    // Both chats are published inside one window (a second: far more than these calls take).
    await Promise.all([s.chat('one'), s.chat('two')])
    await s.bus.appendEvent('m1', { kind: 'commentary', data: { text: 'goal' } })
    // The event overtakes the chat still in its window.
    const ev = await a.nextOf('event')
    expect(a.ofType('chat')).toHaveLength(0)
    expect(ev.seq).toBe(1)
    for (const c of [a, b]) await c.next((f) => f.type === 'chat' && f.text === 'two')
    expect(a.ofType('chat').map((f) => f.text)).toEqual(['one', 'two'])
    // 2 sockets × (1 event + 1 batch of 2 chats) = 4 writes for 6 frames.
    expect(s.gw.stats.framesSent - frames0).toBe(6)
    expect(s.gw.stats.socketWrites - writes0).toBe(4)
    expect(s.gw.stats.chatFannedOut).toBe(4)
    const text = await (await fetch(`${s.http}/metrics`)).text()
    expect(text).toMatch(/^touchline_gateway_socket_writes_total \d+$/m)
  })

  it('a reload to CHAT_COALESCE_MS=0 writes each chat frame on its own', async () => {
    const s = await start({ chatCoalesceMs: 1000 })
    const a = await s.client()
    await s.gw.reload({ chatCoalesceMs: 0 })
    const writes0 = s.gw.stats.socketWrites
    await Promise.all([s.chat('one'), s.chat('two')])
    await a.next((f) => f.type === 'chat' && f.text === 'two')
    expect(s.gw.stats.socketWrites - writes0).toBe(2)
  })

  it('chat_deleted sent while the chat it deletes is in the window arrives after it', async () => {
    const s = await start({ chatCoalesceMs: 1000 })
    const a = await s.client()
    const rec = await s.chat('oops')
    await s.bus.publishControl({ type: 'chat_deleted', matchId: 'm1', id: rec.id })
    await a.nextOf('chat_deleted')
    expect(a.frames.filter((f) => f.type === 'chat' || f.type === 'chat_deleted').map((f) => f.type)).toEqual(['chat', 'chat_deleted'])
  })

  it('WS_CORK=false writes every frame on its own; with the cork the later frames of a turn share one write', async () => {
    const frame = encodeFrame({ type: 'chat_deleted', matchId: 'm1', id: 'x' })
    const writesFor = async (cork: boolean) => {
      const s = await start({ chatCoalesceMs: 0, cork })
      const a = await s.client()
      const writes0 = s.gw.stats.socketWrites
      // Three frames for one socket in the same event-loop turn.
      for (let i = 0; i < 3; i++) s.gw.hub.broadcast('m1', frame, false)
      await expect.poll(() => a.ofType('chat_deleted').length).toBe(3)
      return s.gw.stats.socketWrites - writes0
    }
    // The first frame at once, the other two corked into one writev.
    expect(await writesFor(true)).toBe(2)
    expect(await writesFor(false)).toBe(3)
  })
})

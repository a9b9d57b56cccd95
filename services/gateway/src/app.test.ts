import { MemoryBus } from '@touchline/bus'
import { MemoryPresence } from '@touchline/presence'
import { MemoryRateLimiter } from '@touchline/ratelimit'
import { signViewerToken } from '@touchline/tokens'
import type { FastifyInstance } from 'fastify'
import { Gauge, Registry } from 'prom-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  expectUnavailable,
  gate,
  type LateWhen,
  rawExchange,
  rawJson as json,
  rawRequest,
  rawStatus as status,
  requestWhileClosing as sendWhileClosing,
  UPGRADE_HEADERS,
} from '@touchline/testkit/fixtures'
import { buildGatewayApp } from './app.ts'
import type { GatewaySettings } from './config.ts'
import { Gateway, type GatewayDeps } from './gateway.ts'
import { contiguous, TestClient } from './testing.ts'

const SECRET = 'test-secret-0123456789'
const NOW = () => new Date().toISOString()
const silent = { level: 'silent' } as const

interface Started {
  app: FastifyInstance
  gw: Gateway
  bus: MemoryBus
  presence: MemoryPresence
  url: string
  http: string
  client(query?: string, opts?: ConstructorParameters<typeof TestClient>[1]): Promise<TestClient>
}

const started: Started[] = []
const clients: TestClient[] = []

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const s of started.splice(0)) await s.app.close()
})

async function start(settings: Partial<GatewaySettings> = {}, bus = new MemoryBus()): Promise<Started> {
  const presence = new MemoryPresence()
  const registry = new Registry()
  const deps: GatewayDeps = {
    bus,
    presence,
    rateLimiter: new MemoryRateLimiter(),
    nodeId: 'gw-test',
    tokenSecret: SECRET,
    registry,
    settings: { onlineIntervalMs: 100, presenceFlushMs: 20, drainSpreadMs: 50, drainGraceMs: 200, ...settings },
  }
  const pino = (await import('pino')).default
  const gw = new Gateway(deps, pino(silent))
  const app = await buildGatewayApp(deps, { gateway: gw })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as { port: number }).port
  const s: Started = {
    app,
    gw,
    bus,
    presence,
    url: `ws://127.0.0.1:${port}/ws`,
    http: `http://127.0.0.1:${port}`,
    async client(query = '', opts = {}) {
      const c = await TestClient.open(`${s.url}${query}`, opts)
      clients.push(c)
      return c
    },
  }
  started.push(s)
  return s
}

async function match(bus: MemoryBus, id = 'm1', events = 0) {
  await bus.createMatch({ id, title: 'Final', home: 'H', away: 'A', startsAt: NOW(), createdAt: NOW() })
  for (let i = 0; i < events; i++) await bus.appendEvent(id, { kind: 'commentary', data: { text: `e${i + 1}` } })
}

function token(id: string, name = id): string {
  return signViewerToken({ sub: id, name, exp: Math.floor(Date.now() / 1000) + 3600 }, SECRET)
}

describe('gateway over a real socket', () => {
  it('sends welcome first and handles a subscribe sent in the same tick as open', async () => {
    const s = await start()
    await match(s.bus, 'm1', 3)
    const c = await s.client('', { onOpen: (ws) => ws.send(JSON.stringify({ type: 'subscribe', matchId: 'm1' })) })
    const sub = await c.nextOf('subscribed', 'm1')
    expect(c.frames[0]).toMatchObject({ type: 'welcome', node: 'gw-test', heartbeatMs: 15000, v: 1 })
    expect(c.frames[0]?.user).toBeUndefined()
    expect(c.frames[1]).toMatchObject({ type: 'snapshot', matchId: 'm1', seq: 3, match: { id: 'm1', scoreboard: { home: 0, away: 0 } } })
    expect(sub).toMatchObject({ seq: 3, epoch: c.frames[1]?.epoch })
    await s.bus.appendEvent('m1', { kind: 'goal', data: { score: { home: 1, away: 0 } } })
    await c.waitSeq('m1', 4)
    expect(c.seqsOf('m1')).toEqual([1, 2, 3, 4])
    expect(await c.nextOf('online', 'm1', 2000)).toMatchObject({ count: 1 })
  })

  it('subscribes from the query string, resuming with since', async () => {
    const s = await start()
    await match(s.bus, 'm1', 10)
    const c = await s.client('?match=m1&since=4')
    await c.nextOf('subscribed')
    expect(c.seqsOf('m1')).toEqual(contiguous(5, 10))
    expect(c.ofType('snapshot')).toHaveLength(0)
    const bad = await s.client('?match=m1&since=-3')
    expect(await bad.nextOf('error')).toMatchObject({ code: 'bad_request' })
  })

  it('answers errors for unknown matches, bad JSON, unknown types, schema errors and binary frames, and keeps going', async () => {
    const s = await start()
    await match(s.bus, 'm1')
    const c = await s.client()
    c.send({ type: 'subscribe', matchId: 'nope' })
    expect(await c.nextOf('error')).toMatchObject({ code: 'unknown_match', matchId: 'nope' })
    const n = c.frames.length
    c.send('{not json')
    c.send({ type: 'dance', clientMsgId: 'abc' })
    c.send({ type: 'subscribe', matchId: 'bad id!' })
    c.send({ type: 'subscribe', matchId: 'm1', extra: 1 })
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true })
    c.send({ type: 'ping' })
    await c.nextOf('pong', undefined, 2000, n)
    const errors = c.frames.slice(n).filter((f) => f.type === 'error')
    expect(errors).toHaveLength(5)
    expect(errors.every((e) => e.code === 'bad_request')).toBe(true)
    expect(errors[1]?.ref).toBe('abc')
    expect(s.gw.stats.badFrames.bad_request).toBe(4)
    expect(s.gw.stats.badFrames.binary).toBe(1)
  })

  it('names the match and the whole clientMsgId in a refused chat error, also for a frame too large or off the schema', async () => {
    const s = await start()
    await match(s.bus, 'm1')
    const c = await s.client(`?match=m1&token=${token('u1')}`)
    await c.nextOf('subscribed')
    const ref = '\u{1F600}'.repeat(40) // 40 characters (valid), 80 UTF-16 units
    c.send({ type: 'chat', matchId: 'm1', text: 'x'.repeat(5000), clientMsgId: ref })
    expect(await c.nextOf('error')).toMatchObject({ code: 'too_large', matchId: 'm1', ref })
    c.send({ type: 'chat', matchId: 'm1', text: 5, clientMsgId: 'typed' })
    expect(await c.next((f) => f.type === 'error' && f.ref === 'typed')).toMatchObject({ code: 'bad_request', matchId: 'm1' })
    c.send({ type: 'chat', matchId: 'not valid!', text: 5, clientMsgId: 'badid' })
    expect(await c.next((f) => f.type === 'error' && f.ref === 'badid')).not.toHaveProperty('matchId')
  })

  it('takes since up to 2^53-1 and an epoch of 64 characters (not UTF-16 units) in the query, as in a subscribe frame', async () => {
    const s = await start()
    await match(s.bus, 'm1', 2)
    const c = await s.client(`?match=m1&since=${Number.MAX_SAFE_INTEGER}&epoch=${encodeURIComponent('\u{1F600}'.repeat(64))}`)
    expect(await c.nextOf('snapshot')).toMatchObject({ matchId: 'm1', reset: true, seq: 2 })
    await c.nextOf('subscribed', 'm1')
    const over = await s.client(`?match=m1&since=${Number.MAX_SAFE_INTEGER + 1}`)
    expect(await over.nextOf('error')).toMatchObject({
      code: 'bad_request',
      message: 'query parameter since must be a non-negative integer',
    })
    const long = await s.client(`?match=m1&since=1&epoch=${'e'.repeat(65)}`)
    expect(await long.nextOf('error')).toMatchObject({ code: 'bad_request', message: 'query parameter epoch is too long' })
  })

  it('a refused auth frame leaves no viewer, also after a valid one', async () => {
    const s = await start()
    await match(s.bus, 'm1')
    const c = await s.client('?match=m1')
    await c.nextOf('subscribed')
    c.send({ type: 'auth', token: token('u1', 'Ann') })
    expect(await c.nextOf('auth_ok')).toMatchObject({ user: { id: 'u1', name: 'Ann' } })
    c.send({ type: 'auth', token: 'x.y' })
    expect(await c.nextOf('error')).toMatchObject({ code: 'unauthorized' })
    c.send({ type: 'chat', matchId: 'm1', text: 'as whom?', clientMsgId: 'c1' })
    expect(await c.next((f) => f.type === 'error' && f.ref === 'c1')).toMatchObject({ code: 'unauthorized', matchId: 'm1' })
  })

  it('answers a 100 KB chat with too_large and stays usable; closes frames over maxPayload with 1009', async () => {
    const s = await start()
    await match(s.bus, 'm1')
    const c = await s.client(`?match=m1&token=${token('u1')}`)
    await c.nextOf('subscribed')
    c.send({ type: 'chat', matchId: 'm1', text: 'x'.repeat(100_000), clientMsgId: 'big' })
    expect(await c.nextOf('error')).toMatchObject({ code: 'too_large', ref: 'big' })
    c.send({ type: 'chat', matchId: 'm1', text: 'y'.repeat(501), clientMsgId: 'long' })
    expect(await c.next((f) => f.type === 'error' && f.ref === 'long')).toMatchObject({ code: 'too_large' })
    c.send({ type: 'chat', matchId: 'm1', text: 'hello', clientMsgId: 'ok' })
    expect(await c.nextOf('chat_ack')).toMatchObject({ clientMsgId: 'ok' })

    const d = await s.client()
    d.send({ type: 'chat', matchId: 'm1', text: 'z'.repeat(200 * 1024), clientMsgId: 'huge' })
    expect((await d.closed).code).toBe(1009)
  })

  it('closes with 1008 after too many bad frames, without affecting other clients', async () => {
    const s = await start({ badFrameLimit: 5 })
    await match(s.bus, 'm1')
    const good = await s.client('?match=m1')
    await good.nextOf('subscribed')
    const bad = await s.client()
    for (let i = 0; i < 10; i++) bad.send('nope')
    expect((await bad.closed).code).toBe(1008)
    await s.bus.appendEvent('m1', { kind: 'commentary', data: {} })
    await good.waitSeq('m1', 1)
    expect(s.gw.stats.abuseCloses).toBe(1)
  })

  it('limits frames per connection (a flood counts as bad frames)', async () => {
    const s = await start({ inboundBurst: 10, inboundPerSec: 1, badFrameLimit: 20 })
    const c = await s.client()
    for (let i = 0; i < 15; i++) c.send({ type: 'ping' })
    const limited = await c.nextOf('error')
    expect(limited).toMatchObject({ code: 'rate_limited' })
    expect(limited.retryAfterMs).toBeGreaterThan(0)
    for (let i = 0; i < 30; i++) c.send({ type: 'ping' })
    expect((await c.closed).code).toBe(1008)
  })

  it('refuses more subscriptions than allowed, unsubscribes, and answers not_subscribed', async () => {
    const s = await start({ maxSubscriptionsPerConnection: 2 })
    for (const id of ['a', 'b', 'c']) await match(s.bus, id)
    const c = await s.client()
    c.send({ type: 'subscribe', matchId: 'a' })
    c.send({ type: 'subscribe', matchId: 'b' })
    c.send({ type: 'subscribe', matchId: 'c' })
    expect(await c.nextOf('error')).toMatchObject({ code: 'too_many_subscriptions', matchId: 'c' })
    await c.nextOf('subscribed', 'b')
    c.send({ type: 'unsubscribe', matchId: 'a' })
    await c.nextOf('unsubscribed', 'a')
    c.send({ type: 'unsubscribe', matchId: 'a' })
    expect(await c.next((f) => f.type === 'error' && f.code === 'not_subscribed')).toMatchObject({ matchId: 'a' })
    c.send({ type: 'subscribe', matchId: 'c' })
    await c.nextOf('subscribed', 'c')
    expect(s.gw.hub.channels.has('a')).toBe(false)
  })

  it('refuses connections over the node limit with 1013', async () => {
    const s = await start({ maxConnections: 2 })
    await s.client()
    await s.client()
    const third = await s.client()
    expect(await third.closed).toMatchObject({ code: 1013 })
    expect(s.gw.stats.connectionsRefused).toBe(1)
  })

  it('closes a peer that does not answer pings with 1001 and terminates it', async () => {
    const s = await start({ heartbeatMs: 100 })
    const alive = await s.client()
    const dead = await s.client('', { noPong: true })
    // This peer still reads (it only withholds pongs), so the close frame sent just before the
    // terminate reaches it; a really dead one would see nothing.
    const closed = await dead.closed
    expect(closed).toEqual({ code: 1001, reason: 'heartbeat timeout' })
    expect(alive.closeInfo).toBeUndefined()
    expect(s.gw.stats.heartbeatTerminations).toBe(1)
  })

  describe('chat', () => {
    it('needs a token and a subscription; fans out to every subscriber once; acks the sender', async () => {
      const s = await start()
      await match(s.bus, 'm1')
      const anon = await s.client('?match=m1')
      await anon.nextOf('subscribed')
      anon.send({ type: 'chat', matchId: 'm1', text: 'hi', clientMsgId: 'c1' })
      expect(await anon.nextOf('error')).toMatchObject({ code: 'unauthorized', ref: 'c1' })

      const alice = await s.client(`?token=${token('alice', 'Alice')}`)
      expect(alice.frames[0]?.user).toEqual({ id: 'alice', name: 'Alice' })
      alice.send({ type: 'chat', matchId: 'm1', text: 'hi', clientMsgId: 'c2' })
      expect(await alice.nextOf('error')).toMatchObject({ code: 'not_subscribed', ref: 'c2' })
      alice.send({ type: 'subscribe', matchId: 'm1' })
      await alice.nextOf('subscribed')
      alice.send({ type: 'chat', matchId: 'm1', text: '  hello\u0000\u0007 world \n', clientMsgId: 'c3' })
      const ack = await alice.nextOf('chat_ack')
      const got = await anon.nextOf('chat', 'm1')
      expect(got).toMatchObject({ id: ack.id, text: 'hello world', user: { id: 'alice', name: 'Alice' } })
      await new Promise((r) => setTimeout(r, 50))
      expect(anon.ofType('chat')).toHaveLength(1)

      alice.send({ type: 'chat', matchId: 'm1', text: ' \u0001 ', clientMsgId: 'c4' })
      expect(await alice.next((f) => f.ref === 'c4')).toMatchObject({ type: 'error', code: 'bad_request' })
    })

    it('authenticates with an auth frame, refuses a bad token', async () => {
      const s = await start()
      const c = await s.client()
      c.send({ type: 'auth', token: 'garbage' })
      expect(await c.nextOf('error')).toMatchObject({ code: 'unauthorized' })
      c.send({ type: 'auth', token: token('bob', 'Bob') })
      expect(await c.nextOf('auth_ok')).toMatchObject({ user: { id: 'bob', name: 'Bob' } })
      const expired = await s.client(`?token=${signViewerToken({ sub: 'x', name: 'x', exp: 1 }, SECRET)}`)
      expect(await expired.nextOf('error')).toMatchObject({ code: 'unauthorized' })
      expect(expired.frames[0]?.user).toBeUndefined()
    })

    it('masks banned words, reloaded on settings_changed', async () => {
      const s = await start()
      await match(s.bus, 'm1')
      const c = await s.client(`?match=m1&token=${token('u')}`)
      await c.nextOf('subscribed')
      await s.bus.putSetting('bannedWords', { words: ['darn', 'heck'] })
      await s.bus.publishControl({ type: 'settings_changed', key: 'bannedWords' })
      await new Promise((r) => setTimeout(r, 30))
      c.send({ type: 'chat', matchId: 'm1', text: 'Darn it, what the HECK, darned', clientMsgId: 'x' })
      expect(await c.nextOf('chat')).toMatchObject({ text: '**** it, what the ****, darned' })
    })

    it('refuses a muted user at once after the mute control message', async () => {
      const s = await start()
      await match(s.bus, 'm1')
      const c = await s.client(`?match=m1&token=${token('troll')}`)
      await c.nextOf('subscribed')
      c.send({ type: 'chat', matchId: 'm1', text: 'first', clientMsgId: 'a' })
      await c.nextOf('chat_ack')
      const until = Date.now() + 60_000
      await s.bus.setMute('m1', 'troll', until)
      await s.bus.publishControl({ type: 'mute', matchId: 'm1', userId: 'troll', until })
      await new Promise((r) => setTimeout(r, 20))
      c.send({ type: 'chat', matchId: 'm1', text: 'second', clientMsgId: 'b' })
      const err = await c.next((f) => f.ref === 'b')
      expect(err).toMatchObject({ type: 'error', code: 'muted' })
      expect(err.retryAfterMs).toBeGreaterThan(50_000)
    })

    it('rate-limits a flood per connection with retryAfterMs while others keep chatting', async () => {
      const s = await start({ chatConnBurst: 3, chatConnPerMin: 6 })
      await match(s.bus, 'm1')
      const flood = await s.client(`?match=m1&token=${token('f')}`)
      const calm = await s.client(`?match=m1&token=${token('c')}`)
      await flood.nextOf('subscribed')
      await calm.nextOf('subscribed')
      for (let i = 0; i < 10; i++) flood.send({ type: 'chat', matchId: 'm1', text: `spam ${i}`, clientMsgId: `f${i}` })
      calm.send({ type: 'chat', matchId: 'm1', text: 'nice goal', clientMsgId: 'c1' })
      expect(await calm.nextOf('chat_ack')).toMatchObject({ clientMsgId: 'c1' })
      const limited = await flood.next((f) => f.type === 'error' && f.code === 'rate_limited')
      expect(limited.retryAfterMs).toBeGreaterThan(0)
      await new Promise((r) => setTimeout(r, 50))
      expect(flood.ofType('chat_ack')).toHaveLength(3)
    })

    it('sends chat_deleted to the match sockets', async () => {
      const s = await start()
      await match(s.bus, 'm1')
      const c = await s.client('?match=m1')
      await c.nextOf('subscribed')
      await s.bus.publishControl({ type: 'chat_deleted', matchId: 'm1', id: '42' })
      expect(await c.nextOf('chat_deleted')).toMatchObject({ matchId: 'm1', id: '42' })
    })
  })

  it('serves healthz, readyz and metrics', async () => {
    const s = await start()
    expect((await fetch(`${s.http}/healthz`)).status).toBe(200)
    const ready = await fetch(`${s.http}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'ok', bus: 'connected', presence: 'connected' })
    const text = await (await fetch(`${s.http}/metrics`)).text()
    for (const name of [
      'touchline_gateway_connections',
      'touchline_gateway_subscriptions',
      'touchline_gateway_frames_sent_total',
      'touchline_gateway_bytes_sent_total',
      'touchline_gateway_chat_shed_total',
      'touchline_gateway_slow_closes_total',
      'touchline_gateway_fanout_latency_seconds_bucket{le="0.001"}',
    ]) {
      expect(text).toContain(name)
    }
    expect(text).not.toContain('process_cpu') // default metrics are the process's business
  })

  it('answers an unknown path, a malformed URL and a request Node refuses with the API body', async () => {
    const s = await start()
    const missing = await fetch(`${s.http}/nope?token=secret`)
    expect([missing.status, await missing.json()]).toEqual([404, { code: 'not_found', message: 'no route GET /nope' }])
    const badUrl = await rawExchange(s.app, 'GET /%ZZ HTTP/1.1\r\nhost: x\r\n\r\n')
    expect([status(badUrl), json(badUrl).code]).toEqual(['400', 'bad_request'])
    // An upgrade whose header Node's parser refuses never reaches the upgrade handler.
    const badUpgrade = await rawExchange(s.app, rawRequest('GET', '/ws', '', { ...UPGRADE_HEADERS, 'x-bad': 'a\u0001b' }))
    expect([status(badUpgrade), json(badUpgrade).code]).toEqual(['400', 'bad_request'])
    expect((await fetch(`${s.http}/healthz`)).status).toBe(200)
  })

  it('answers a subscribe that arrives while the socket waits for its drain 1012 with unavailable', async () => {
    const s = await start({ drainSpreadMs: 2000 })
    await match(s.bus, 'm1')
    const c = await s.client()
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.99) // this socket's 1012 at ~2 s
    const draining = s.gw.drain()
    random.mockRestore()
    c.send({ type: 'subscribe', matchId: 'm1' })
    expect(await c.nextOf('error')).toMatchObject({ code: 'unavailable', matchId: 'm1', message: expect.stringContaining('draining') })
    expect((await c.closed).code).toBe(1012)
    await draining
  })

  it('drains on close: readyz 503, every socket gets 1012, the node leaves presence', async () => {
    const s = await start()
    await match(s.bus, 'm1')
    const a = await s.client('?match=m1')
    const b = await s.client('?match=m1')
    await a.nextOf('subscribed')
    await b.nextOf('subscribed')
    await new Promise((r) => setTimeout(r, 60))
    expect((await s.presence.counts('m1')).total).toBe(2)
    const draining = s.gw.drain()
    expect((await fetch(`${s.http}/readyz`)).status).toBe(503)
    await draining
    expect((await a.closed).code).toBe(1012)
    expect((await b.closed).code).toBe(1012)
    expect(await s.presence.liveNodes()).toEqual([])
    expect((await s.presence.counts('m1')).total).toBe(0)
    const late = new TestClient(s.url)
    clients.push(late)
    expect((await late.closed).code).toBe(1012)
  })

  it('reports presence counts per node and online totals that follow subscriptions', async () => {
    const s = await start()
    await match(s.bus, 'm1')
    const a = await s.client('?match=m1')
    await a.nextOf('subscribed')
    await a.next((f) => f.type === 'online' && f.count === 1, 2000)
    const b = await s.client('?match=m1')
    await b.nextOf('subscribed')
    await a.next((f) => f.type === 'online' && f.count === 2, 2000)
    b.close()
    await a.next(
      (f) => f.type === 'online' && f.count === 1,
      2000,
      a.frames.findIndex((f) => f.type === 'online' && f.count === 2),
    )
    const nodes = await s.presence.liveNodes()
    expect(nodes.map((n) => n.nodeId)).toEqual(['gw-test'])
  })
})

describe('standalone gateway: a request that reaches it while it closes', () => {
  const apps: FastifyInstance[] = []
  afterEach(async () => {
    // A test that failed half-way leaves its app open.
    await Promise.allSettled(apps.splice(0).map((a) => a.close()))
  })

  /**
   * A GET /metrics held (a collector waits) on one keep-alive connection, the app closed, then
   * `late` on that connection: pipelined behind /metrics, or once its answer has arrived (`after`,
   * as a client reusing an idle connection). Resolves with every answer as raw HTTP once the server
   * has ended the connection and the app has closed: neither may hang.
   */
  async function requestWhileClosing(late: string, when: LateWhen = 'pipelined'): Promise<string[]> {
    const held = gate()
    const registry = new Registry()
    new Gauge({
      name: 'test_held',
      help: 'holds /metrics until released',
      registers: [registry],
      async collect() {
        await held.pass()
      },
    })
    const deps: GatewayDeps = {
      bus: new MemoryBus(),
      presence: new MemoryPresence(),
      rateLimiter: new MemoryRateLimiter(),
      nodeId: 'gw-closing',
      tokenSecret: SECRET,
      registry,
      settings: { drainSpreadMs: 20, drainGraceMs: 100 },
    }
    const app = await buildGatewayApp(deps)
    apps.push(app)
    const first = { request: get('/metrics'), gate: held, answered: (raw: string) => raw.includes('test_held') }
    return sendWhileClosing(app, first, late, when)
  }
  const get = (path: string, headers: Record<string, string> = {}) => rawRequest('GET', path, '', headers)
  const upgrade = (path: string) => get(path, UPGRADE_HEADERS)

  it('an unknown path, a plain GET /ws and an upgrade to /ws answer 503 unavailable with Connection: close', async () => {
    for (const late of [get('/nope'), get('/ws'), upgrade('/ws?match=m1'), upgrade('/nope')]) {
      const answers = await requestWhileClosing(late)
      expect(answers.map(status), late).toEqual(['200', '503'])
      expectUnavailable(answers[1])
    }
    const after = await requestWhileClosing(upgrade('/ws'), 'after')
    expect(after.map(status)).toEqual(['200', '503'])
    expectUnavailable(after[1])
  })

  it('the health routes answer for themselves: /readyz 503 draining, /healthz and /metrics 200', async () => {
    const ready = await requestWhileClosing(get('/readyz'))
    expect([status(ready[1]), json(ready[1]!).status]).toEqual(['503', 'draining'])
    const live = await requestWhileClosing(get('/healthz'))
    expect([status(live[1]), json(live[1]!).status]).toEqual(['200', 'ok'])
    const metrics = await requestWhileClosing(get('/metrics'))
    expect(status(metrics[1])).toBe('200')
  })
})

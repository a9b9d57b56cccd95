/**
 * Ingest behaviour through its HTTP API, with `inject` on MemoryBus and MemoryPresence.
 * Real NATS and Redis, several processes: app.int.test.ts.
 */
import { BusUnavailableError, type Bus, type ControlMessage, MemoryBus } from '@touchline/bus'
import { MemoryPresence } from '@touchline/presence'
import { EMPTY_BOARD } from '@touchline/protocol'
import { verifyViewerToken } from '@touchline/tokens'
import Fastify from 'fastify'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  answeredWithJson,
  gate,
  rawExchange,
  rawJson as json,
  rawRequest as anyRawRequest,
  rawStatus as status,
  requestWhileClosing as sendWhileClosing,
} from '@touchline/testkit/fixtures'
import { buildIngestApp, type IngestDeps, ingestPlugin } from './app.ts'
import { STALE_AFTER_MS } from './board.ts'
import { ADMIN_KEY as ADMIN, BAD_INPUTS, COMMENTATOR_KEY as COMM, MATCH } from './bad-inputs.fixture.ts'

const SECRET = 'test-secret-0123456789abcdef'
const admin = { authorization: `Bearer ${ADMIN}` }
const comm = { authorization: `Bearer ${COMM}` }

type App = ReturnType<typeof buildIngestApp>
const open: App[] = []

function deps(over: Partial<IngestDeps> = {}): IngestDeps {
  return {
    bus: new MemoryBus(),
    presence: new MemoryPresence(),
    apiKeys: [
      { role: 'admin', key: ADMIN },
      { role: 'commentator', key: COMM },
    ],
    tokenSecret: SECRET,
    registry: new Registry(),
    ...over,
  }
}

async function make(over: Partial<IngestDeps> = {}, opts: Parameters<typeof buildIngestApp>[1] = {}) {
  const d = deps(over)
  const app = buildIngestApp(d, opts)
  open.push(app)
  await app.ready()
  return { app, ...d }
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((a) => a.close()))
})

async function withMatch(over: Partial<IngestDeps> = {}) {
  const t = await make(over)
  const r = await t.app.inject({ method: 'POST', url: '/v1/matches', headers: admin, payload: MATCH })
  expect(r.statusCode).toBe(201)
  return t
}

function post(app: App, body: unknown, headers: Record<string, string> = comm, matchId = 'm1') {
  return app.inject({ method: 'POST', url: `/v1/matches/${matchId}/events`, headers, payload: body as object })
}

describe('matches', () => {
  it('creates, lists and gets a match with an empty scoreboard', async () => {
    const { app } = await withMatch()
    const list = (await app.inject({ method: 'GET', url: '/v1/matches' })).json()
    expect(list.matches).toHaveLength(1)
    const one = await app.inject({ method: 'GET', url: '/v1/matches/m1' })
    expect(one.statusCode).toBe(200)
    expect(one.json()).toMatchObject({
      id: 'm1',
      title: 'Final',
      startsAt: '2026-06-01T18:00:00.000Z',
      scoreboard: { home: 0, away: 0, period: null, minute: null },
      seq: 0,
    })
  })

  it('generates an id when none is given, and refuses a taken one with 409 match_exists', async () => {
    const { app } = await withMatch()
    const { id: _id, ...noId } = MATCH
    const gen = await app.inject({ method: 'POST', url: '/v1/matches', headers: admin, payload: noId })
    expect(gen.statusCode).toBe(201)
    expect(gen.json().id).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    const dup = await app.inject({ method: 'POST', url: '/v1/matches', headers: admin, payload: MATCH })
    expect(dup.statusCode).toBe(409)
    expect(dup.json().code).toBe('match_exists')
  })

  it('404 unknown_match for a match that does not exist', async () => {
    const { app } = await make()
    for (const url of ['/v1/matches/nope', '/v1/matches/nope/events', '/v1/matches/nope/online']) {
      const r = await app.inject({ method: 'GET', url })
      expect(r.statusCode, url).toBe(404)
      expect(r.json().code).toBe('unknown_match')
    }
    const p = await post(app, { kind: 'commentary', text: 'x' }, comm, 'nope')
    expect(p.statusCode).toBe(404)
    expect(p.json().code).toBe('unknown_match')
  })
})

describe('posting events', () => {
  it('gives seqs 1, 2, 3 and serves the log after since, limited, as the stored frames', async () => {
    const { app } = await withMatch()
    for (let i = 1; i <= 3; i++) {
      const r = await post(app, { kind: 'commentary', text: `t${i}`, minute: i })
      expect(r.statusCode).toBe(201)
      expect(r.json()).toMatchObject({ matchId: 'm1', seq: i, kind: 'commentary', duplicate: false })
    }
    const log = await app.inject({ method: 'GET', url: '/v1/matches/m1/events?since=1&limit=1' })
    expect(log.statusCode).toBe(200)
    expect(log.headers['content-type']).toMatch(/^application\/json/)
    const body = log.json()
    expect(body).toMatchObject({ matchId: 'm1', firstSeq: 1, lastSeq: 3 })
    expect(body.events).toEqual([
      { type: 'event', matchId: 'm1', seq: 2, kind: 'commentary', at: expect.any(String), data: { text: 't2', minute: 2 } },
    ])
    const all = (await app.inject({ method: 'GET', url: '/v1/matches/m1/events' })).json()
    expect(all.events.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3])
  })

  it('keeps named fields and free-form data in the event data', async () => {
    const { app, bus } = await withMatch()
    const r = await post(app, {
      kind: 'card',
      text: 'Yellow for #4',
      imageUrl: 'https://img.example/card.png',
      minute: 33,
      data: { player: 'No. 4', colour: 'yellow' },
    })
    expect(r.statusCode).toBe(201)
    const read = await bus.readEvents('m1', 0, 10)
    expect(read.events[0]?.data).toEqual({
      player: 'No. 4',
      colour: 'yellow',
      text: 'Yellow for #4',
      imageUrl: 'https://img.example/card.png',
      minute: 33,
    })
  })

  it('answers the first result again for the same Idempotency-Key, storing nothing new', async () => {
    const { app, bus } = await withMatch()
    const h = { ...comm, 'idempotency-key': 'goal-17' }
    const first = await post(app, { kind: 'goal', score: { home: 1, away: 0 } }, h)
    const again = await post(app, { kind: 'goal', score: { home: 1, away: 0 } }, h)
    expect(first.statusCode).toBe(201)
    expect(again.statusCode).toBe(201)
    expect(again.json()).toEqual({ ...first.json(), duplicate: true })
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect((await bus.logPosition('m1')).lastSeq).toBe(1)
    const other = await post(app, { kind: 'goal', score: { home: 2, away: 0 } }, h)
    expect(other.statusCode).toBe(409)
    expect(other.json().code).toBe('idempotency_conflict')
    expect((await bus.logPosition('m1')).lastSeq).toBe(1)
  })

  it('reflects score, period, corrections and retractions in GET /v1/matches/:matchId', async () => {
    const { app } = await withMatch()
    const board = async () => (await app.inject({ method: 'GET', url: '/v1/matches/m1' })).json()
    expect((await post(app, { kind: 'period', text: '1st half', minute: 0 })).statusCode).toBe(201) // 1
    expect((await post(app, { kind: 'goal', score: { home: 1, away: 0 }, minute: 12 })).statusCode).toBe(201) // 2
    expect((await post(app, { kind: 'goal', score: { home: 2, away: 0 }, minute: 40 })).statusCode).toBe(201) // 3
    expect(await board()).toMatchObject({ seq: 3, scoreboard: { home: 2, away: 0, period: '1st half', minute: 40 } })
    // VAR: the second goal is withdrawn.
    expect((await post(app, { kind: 'retraction', refSeq: 3, text: 'VAR: offside' })).statusCode).toBe(201) // 4
    expect(await board()).toMatchObject({ seq: 4, scoreboard: { home: 1, away: 0 } })
    // The first goal was the away side's.
    expect((await post(app, { kind: 'correction', refSeq: 2, score: { home: 0, away: 1 } })).statusCode).toBe(201) // 5
    expect(await board()).toMatchObject({ seq: 5, scoreboard: { home: 0, away: 1, period: '1st half' } })
  })

  it('folds events the stored board missed: in memory while they are fresh, written back once stale (a replica failed between storing and folding)', async () => {
    const { app, bus, registry } = await withMatch()
    await post(app, { kind: 'goal', score: { home: 1, away: 0 } })
    await post(app, { kind: 'goal', score: { home: 1, away: 1 } })
    await bus.updateMatch('m1', (cur) => ({ ...cur, board: EMPTY_BOARD })) // the record lags the log
    // Just posted: the writer's own (coalesced) board write may still be on its way.
    let r = (await app.inject({ method: 'GET', url: '/v1/matches/m1' })).json()
    expect(r).toMatchObject({ seq: 2, scoreboard: { home: 1, away: 1 } })
    expect((await bus.getMatch('m1'))?.board.seq).toBe(0) // not written back
    expect(await registry.metrics()).toMatch(/touchline_ingest_board_lag_folds_total 0/)
    // Older than STALE_AFTER_MS: that fold was missed, so this read repairs the record.
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      vi.setSystemTime(Date.now() + STALE_AFTER_MS + 1000)
      r = (await app.inject({ method: 'GET', url: '/v1/matches/m1' })).json()
    } finally {
      vi.useRealTimers()
    }
    expect(r).toMatchObject({ seq: 2, scoreboard: { home: 1, away: 1 } })
    expect((await bus.getMatch('m1'))?.board.seq).toBe(2) // written back
    expect(await registry.metrics()).toMatch(/touchline_ingest_board_lag_folds_total 1/)
  })

  it('answers 503 unavailable and stores nothing when the bus is down', async () => {
    const bus = new MemoryBus()
    const failing: Bus = new Proxy(bus, {
      get(target, prop, receiver) {
        if (prop === 'appendEvent') return async () => Promise.reject(new BusUnavailableError('NATS timed out'))
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const { app } = await withMatch({ bus: failing })
    const r = await post(app, { kind: 'commentary', text: 'x' })
    expect(r.statusCode).toBe(503)
    expect(r.headers['retry-after']).toBe('1')
    expect(r.json()).toEqual({ code: 'unavailable', message: expect.stringContaining('nothing was stored') })
    expect((await bus.logPosition('m1')).lastSeq).toBe(0)
  })
})

describe('bad input: status, code, and the log unchanged', () => {
  it.each(BAD_INPUTS)('$name → $status $code', async (c) => {
    const { app, bus } = await withMatch()
    expect((await post(app, { kind: 'goal', score: { home: 1, away: 0 } })).statusCode).toBe(201)
    const before = await bus.readEvents('m1', 0, 100)
    const r = await app.inject({
      method: c.method ?? 'POST',
      url: c.url ?? '/v1/matches/m1/events',
      headers: c.headers ?? comm,
      ...(c.payload === undefined ? {} : { payload: c.payload as string }),
    })
    expect(r.statusCode).toBe(c.status)
    expect(r.headers['content-type']).toMatch(/^application\/json/)
    const body = r.json()
    expect(body.code).toBe(c.code)
    expect(typeof body.message).toBe('string')
    expect(r.body).not.toMatch(/at .*\.ts:\d+|node_modules|stack/i)
    if (c.path) expect(body.details?.map((d: { path: string }) => d.path)).toContain(c.path)
    if (c.status === 401) expect(r.headers['www-authenticate']).toMatch(/^Bearer/)
    const after = await bus.readEvents('m1', 0, 100)
    expect(after.lastSeq).toBe(before.lastSeq)
    expect((await bus.listMatches()).length).toBe(1)
  })
})

describe('requests refused before any route: the API body all the same', () => {
  // Node's HTTP parser refuses these before fastify sees a request; a client library would not
  // even send most of them, so they go over a raw socket.
  const cases: Array<[string, string, string, string]> = [
    ['a header byte HTTP does not allow', `GET /v1/matches HTTP/1.1\r\nhost: x\r\nidempotency-key: k\u0001x\r\n\r\n`, '400', 'bad_request'],
    ['an unknown method', 'FOO /v1/matches HTTP/1.1\r\nhost: x\r\n\r\n', '400', 'bad_request'],
    ['headers over 16 KiB', `GET /v1/matches HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(17 * 1024)}\r\n\r\n`, '431', 'too_large'],
    ['an undecodable URL (the router, not the parser)', 'GET /v1/matches/%ZZ HTTP/1.1\r\nhost: x\r\n\r\n', '400', 'bad_request'],
  ]
  it.each(cases)('%s → %s %s, and the app goes on serving', async (_name, bytes, want, code) => {
    const { app } = await withMatch()
    const answer = await rawExchange(app, bytes)
    expect(status(answer)).toBe(want)
    expect(answer).toMatch(/\r\ncontent-type: application\/json/i)
    expect(json(answer)).toEqual({ code, message: expect.any(String) })
    const next = await rawExchange(app, anyRawRequest('GET', '/v1/matches/m1', '', { connection: 'close' }))
    expect(status(next)).toBe('200')
  })
})

describe('viewer tokens', () => {
  it('issues a signed token the gateways can verify, without an API key', async () => {
    const { app } = await make({ viewerTokenTtlSec: 600 })
    const r = await app.inject({ method: 'POST', url: '/v1/viewers/token', payload: { name: '  Ann \u202e' } })
    expect(r.statusCode).toBe(200)
    const { token, user, expiresAt } = r.json()
    expect(user.name).toBe('Ann')
    const v = verifyViewerToken(token, SECRET)
    expect(v).toEqual({ ok: true, claims: { sub: user.id, name: 'Ann', exp: Date.parse(expiresAt) / 1000 } })
    expect(Date.parse(expiresAt) - Date.now()).toBeGreaterThan(590_000)
  })

  it('rate-limits per client address, and trusts X-Forwarded-For only from TRUST_PROXY', async () => {
    const limit = { max: 2, windowMs: 60_000 }
    const ask = (app: App, remoteAddress: string, xff?: string) =>
      app.inject({
        method: 'POST',
        url: '/v1/viewers/token',
        remoteAddress,
        headers: xff ? { 'x-forwarded-for': xff } : {},
        payload: { name: 'n' },
      })
    const direct = (await make({ viewerTokenRateLimit: limit })).app
    expect((await ask(direct, '10.0.0.1', '1.1.1.1')).statusCode).toBe(200)
    expect((await ask(direct, '10.0.0.1', '2.2.2.2')).statusCode).toBe(200)
    const third = await ask(direct, '10.0.0.1', '3.3.3.3') // a forged header does not reset the count
    expect(third.statusCode).toBe(429)
    expect(third.json().code).toBe('rate_limited')
    expect(third.headers['retry-after']).toBeDefined()
    expect((await ask(direct, '10.0.0.2')).statusCode).toBe(200)

    const proxied = (await make({ viewerTokenRateLimit: limit }, { trustProxy: ['127.0.0.1'] })).app
    for (const client of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) expect((await ask(proxied, '127.0.0.1', client)).statusCode).toBe(200)
    expect((await ask(proxied, '127.0.0.1', '1.1.1.1')).statusCode).toBe(200)
    expect((await ask(proxied, '127.0.0.1', '1.1.1.1')).statusCode).toBe(429)
  })

  it('does not rate-limit other routes', async () => {
    const { app } = await withMatch({ viewerTokenRateLimit: { max: 1, windowMs: 60_000 } })
    for (let i = 0; i < 5; i++) expect((await app.inject({ method: 'GET', url: '/v1/matches/m1' })).statusCode).toBe(200)
  })
})

describe('moderation and settings', () => {
  it('deletes a chat message, announcing chat_deleted on the bus', async () => {
    const { app, bus } = await withMatch()
    const seen: ControlMessage[] = []
    bus.subscribeControl((m) => seen.push(m))
    const chat = await bus.appendChat('m1', { user: { id: 'v1', name: 'Ann' }, text: 'spam' })
    const r = await app.inject({ method: 'DELETE', url: `/v1/matches/m1/chat/${chat.id}`, headers: admin })
    expect(r.statusCode).toBe(204)
    expect(await bus.recentChat('m1', 10)).toEqual([])
    await new Promise((res) => setTimeout(res, 5))
    expect(seen).toEqual([{ type: 'chat_deleted', matchId: 'm1', id: chat.id }])
    const again = await app.inject({ method: 'DELETE', url: `/v1/matches/m1/chat/${chat.id}`, headers: admin })
    expect(again.statusCode).toBe(404)
    expect(again.json().code).toBe('not_found')
  })

  it('mutes a user for N seconds, stored and announced', async () => {
    const { app, bus } = await withMatch()
    const seen: ControlMessage[] = []
    bus.subscribeControl((m) => seen.push(m))
    const t0 = Date.now()
    const r = await app.inject({ method: 'POST', url: '/v1/matches/m1/mutes', headers: admin, payload: { userId: 'v_9', seconds: 60 } })
    expect(r.statusCode).toBe(200)
    const { until } = r.json()
    expect(Date.parse(until) - t0).toBeGreaterThanOrEqual(59_000)
    expect(await bus.getMute('m1', 'v_9')).toBe(Date.parse(until))
    await new Promise((res) => setTimeout(res, 5))
    expect(seen).toEqual([{ type: 'mute', matchId: 'm1', userId: 'v_9', until: Date.parse(until) }])
  })

  it('replaces the banned-words list (normalized) and announces settings_changed', async () => {
    const { app, bus } = await make()
    const seen: ControlMessage[] = []
    bus.subscribeControl((m) => seen.push(m))
    expect((await app.inject({ method: 'GET', url: '/v1/chat/banned-words', headers: admin })).json()).toEqual({ words: [] })
    const put = await app.inject({
      method: 'PUT',
      url: '/v1/chat/banned-words',
      headers: admin,
      payload: { words: [' Foo', 'bar', 'foo'] },
    })
    expect(put.statusCode).toBe(200)
    expect(put.json()).toEqual({ words: ['bar', 'foo'] })
    expect(await bus.getSetting('bannedWords')).toEqual(['bar', 'foo'])
    expect((await app.inject({ method: 'GET', url: '/v1/chat/banned-words', headers: admin })).json()).toEqual({ words: ['bar', 'foo'] })
    await new Promise((res) => setTimeout(res, 5))
    expect(seen).toEqual([{ type: 'settings_changed', key: 'bannedWords' }])
  })
})

describe('presence reads', () => {
  it('online counts over live nodes, and the live nodes', async () => {
    const presence = new MemoryPresence()
    const { app } = await withMatch({ presence })
    await presence.join({ nodeId: 'g1', url: 'http://10.0.0.1:8080', startedAt: Date.now() })
    await presence.join({ nodeId: 'g2', startedAt: Date.now() })
    await presence.add('g1', 'm1', 3)
    await presence.add('g2', 'm1', 2)
    expect((await app.inject({ method: 'GET', url: '/v1/matches/m1/online' })).json()).toEqual({
      matchId: 'm1',
      total: 5,
      nodes: { g1: 3, g2: 2 },
    })
    const nodes = (await app.inject({ method: 'GET', url: '/v1/nodes' })).json().nodes
    expect(nodes.map((n: { nodeId: string }) => n.nodeId)).toEqual(['g1', 'g2'])
    expect(nodes[0]).toMatchObject({ url: 'http://10.0.0.1:8080', connections: 0 })
  })
})

describe('health, metrics, docs', () => {
  it('/readyz is 503 while the bus is not connected; /healthz stays 200', async () => {
    const bus = new MemoryBus()
    let status: ReturnType<Bus['status']> = { type: 'connected' }
    const flaky: Bus = new Proxy(bus, {
      get(target, prop, receiver) {
        if (prop === 'status') return () => status
        const v = Reflect.get(target, prop, receiver)
        return typeof v === 'function' ? v.bind(target) : v
      },
    })
    const { app } = await make({ bus: flaky })
    expect((await app.inject('/readyz')).statusCode).toBe(200)
    status = { type: 'reconnecting', since: Date.now() }
    const r = await app.inject('/readyz')
    expect(r.statusCode).toBe(503)
    expect(r.json()).toMatchObject({ status: 'unavailable', checks: { bus: 'reconnecting' } })
    expect((await app.inject('/healthz')).statusCode).toBe(200)
  })

  it('counts requests by route and status, events stored and append latency', async () => {
    const { app, registry } = await withMatch()
    await post(app, { kind: 'goal', score: { home: 1, away: 0 } })
    await post(app, { kind: 'my_custom_kind' })
    await app.inject({ method: 'GET', url: '/v1/matches/m1' })
    const text = await (await app.inject('/metrics')).body
    expect(text).toContain('touchline_ingest_http_requests_total{method="POST",route="/v1/matches/:matchId/events",status="201"} 2')
    expect(text).toContain('touchline_ingest_http_requests_total{method="GET",route="/v1/matches/:matchId",status="200"} 1')
    expect(text).toContain('touchline_ingest_events_stored_total{kind="goal",result="stored"} 1')
    expect(text).toContain('touchline_ingest_events_stored_total{kind="other",result="stored"} 1')
    expect(text).toMatch(/touchline_ingest_append_duration_seconds_count\{result="ok"\} 2/)
    expect(text).toMatch(/touchline_ingest_http_request_duration_seconds_bucket/)
    expect(await registry.metrics()).not.toMatch(/process_cpu/) // default metrics belong to main.ts
  })

  it('serves the OpenAPI description with every route and the page at /docs', async () => {
    const { app } = await make()
    const spec = (await app.inject('/docs/json')).json()
    expect(Object.keys(spec.paths).sort()).toEqual(
      [
        '/healthz',
        '/metrics',
        '/readyz',
        '/v1/chat/banned-words',
        '/v1/matches',
        '/v1/matches/{matchId}',
        '/v1/matches/{matchId}/chat/{chatId}',
        '/v1/matches/{matchId}/events',
        '/v1/matches/{matchId}/mutes',
        '/v1/matches/{matchId}/online',
        '/v1/nodes',
        '/v1/viewers/token',
      ].sort(),
    )
    expect(spec.paths['/v1/matches/{matchId}/events'].post.security).toEqual([{ apiKey: [] }])
    expect(spec.servers).toEqual([{ url: '/' }])
    const page = await app.inject('/docs')
    expect(page.statusCode).toBe(302)
    expect(page.headers.location).toBe('docs/')
    const html = await app.inject('/docs/')
    expect(html.statusCode).toBe(200)
    expect(html.body).toContain('./static/swagger-ui.css')
    expect((await app.inject('/docs/static/swagger-ui.css')).statusCode).toBe(200)
  })
})

describe('embedded: the plugin under /api next to other routes', () => {
  it('serves everything under the prefix, keeps its hooks and handlers to itself', async () => {
    const d = deps()
    const root = Fastify()
    open.push(root as unknown as App)
    root.get('/ws-ish', async () => ({ ok: true }))
    root.post('/other', async (req) => ({ got: req.body }))
    await root.register(ingestPlugin, { ...d, prefix: '/api' })
    await root.ready()
    // The auth hook, error handler and JSON-only parser stay inside /api.
    expect((await root.inject('/ws-ish')).json()).toEqual({ ok: true })
    expect((await root.inject({ method: 'POST', url: '/other', headers: { 'content-type': 'text/plain' }, payload: 'hi' })).json()).toEqual(
      { got: 'hi' },
    )
    const create = await root.inject({ method: 'POST', url: '/api/v1/matches', headers: admin, payload: MATCH })
    expect(create.statusCode).toBe(201)
    expect((await root.inject({ method: 'POST', url: '/api/v1/matches/m1/events', payload: { kind: 'goal' } })).statusCode).toBe(401)
    expect((await root.inject({ method: 'GET', url: '/api/v1/matches/m1' })).statusCode).toBe(200)
    const nf = await root.inject('/api/v9/x')
    expect(nf.statusCode).toBe(404)
    expect(nf.json().code).toBe('not_found')
    expect((await root.inject('/api/readyz')).statusCode).toBe(200)
    // Docs: paths relative to the mount, servers say where the mount is; /api/docs → docs/.
    const spec = (await root.inject('/api/docs/json')).json()
    expect(spec.paths['/v1/matches']).toBeDefined()
    expect(spec.paths['/api/v1/matches']).toBeUndefined()
    expect(spec.paths['/ws-ish']).toBeUndefined()
    expect(spec.servers).toEqual([{ url: '/api' }])
    const behindProxy = (await root.inject({ url: '/api/docs/json', headers: { 'x-forwarded-prefix': '/edge/api' } })).json()
    expect(behindProxy.servers).toEqual([{ url: '/edge/api' }])
    const page = await root.inject('/api/docs')
    expect(page.statusCode).toBe(302)
    expect(page.headers.location).toBe('docs/')
    expect((await root.inject('/api/docs/')).statusCode).toBe(200)
    expect((await root.inject('/api/docs/static/swagger-ui-bundle.js')).statusCode).toBe(200)
    const metrics = (await root.inject('/api/metrics')).body
    expect(metrics).toContain('route="/v1/matches"')
  })
})

describe('while closing', () => {
  /**
   * What a closing replica still receives: a request on a connection that was busy when the close
   * began (here with a post whose append is held until after the close started), so the close
   * left it open. Answers to both requests, as raw HTTP, and the texts stored.
   */
  async function requestWhileClosing(late: string): Promise<{ answers: string[]; stored: unknown[] }> {
    const held = gate()
    const bus = new MemoryBus()
    bus.appendEvent = held.hold(bus.appendEvent.bind(bus))
    const { app } = await withMatch({ bus })
    const first = {
      request: rawRequest('POST', '/v1/matches/m1/events', JSON.stringify({ kind: 'commentary', text: 'in flight' })),
      gate: held,
      answered: answeredWithJson(201),
    }
    const answers = await sendWhileClosing(app, first, late)
    const log = await bus.readEvents('m1', 0, 10)
    return { answers, stored: log.events.map((e) => (e.data as { text?: string }).text) }
  }
  /** A raw request as the commentator. */
  const rawRequest = (method: string, path: string, payload = '') =>
    anyRawRequest(method, path, payload, { authorization: `Bearer ${COMM}` })

  it('a post answers 503 with code unavailable, Retry-After and Connection: close, and stores nothing', async () => {
    const late = rawRequest('POST', '/v1/matches/m1/events', JSON.stringify({ kind: 'commentary', text: 'too late' }))
    const { answers, stored } = await requestWhileClosing(late)
    expect(answers.map(status)).toEqual(['201', '503'])
    expect(answers[1]).toMatch(/\r\nconnection: close\r\n/i)
    expect(answers[1]).toMatch(/\r\nretry-after: 1\r\n/i)
    expect(json(answers[1]!)).toEqual({ code: 'unavailable', message: expect.stringContaining('shutting down') })
    expect(stored).toEqual(['in flight'])
  })

  it('a read answers the same 503; readyz answers 503 draining and healthz 200 draining', async () => {
    const read = await requestWhileClosing(rawRequest('GET', '/v1/matches'))
    expect(read.answers.map(status)).toEqual(['201', '503'])
    expect(json(read.answers[1]!).code).toBe('unavailable')
    const ready = await requestWhileClosing(rawRequest('GET', '/readyz'))
    expect([status(ready.answers[1]!), json(ready.answers[1]!).status]).toEqual(['503', 'draining'])
    const live = await requestWhileClosing(rawRequest('GET', '/healthz'))
    expect([status(live.answers[1]!), json(live.answers[1]!).status]).toEqual(['200', 'draining'])
  })
})

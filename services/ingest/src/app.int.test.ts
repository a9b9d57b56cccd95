/**
 * Ingest as operators run it: real processes (`node services/ingest/src/main.ts`) on real NATS
 * (JetStream) and Redis from the testkit, spoken to over HTTP.
 */
import { startNats, startRedis, startService, type NatsServer, type RedisServer, type ServiceProcess } from '@touchline/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ADMIN_KEY, BAD_INPUTS, COMMENTATOR_KEY, MATCH } from './bad-inputs.fixture.ts'

const SECRET = 'int-test-secret-0123456789'
const admin = { authorization: `Bearer ${ADMIN_KEY}` }
const comm = { authorization: `Bearer ${COMMENTATOR_KEY}` }

let nats: NatsServer
let redis: RedisServer
let a: ServiceProcess
let b: ServiceProcess

function env(): Record<string, string> {
  return {
    NATS_URL: nats.url,
    REDIS_URL: redis.url,
    TOUCHLINE_API_KEYS: `admin:${ADMIN_KEY},commentator:${COMMENTATOR_KEY}`,
    TOUCHLINE_TOKEN_SECRET: SECRET,
    NATS_TIMEOUT_MS: '1500',
    LOG_LEVEL: 'warn',
  }
}

interface Res {
  status: number
  // biome-ignore lint/suspicious/noExplicitAny: JSON replies, checked by the assertions
  body: any
  headers: Headers
}

async function call(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const init: RequestInit = { method, headers: { ...headers } }
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body)
    if (typeof body !== 'string' && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
      ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
    }
  }
  const r = await fetch(base + path, init)
  const text = await r.text()
  let parsed: unknown = text
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {}
  return { status: r.status, body: parsed, headers: r.headers }
}

async function createMatch(base: string, id: string): Promise<void> {
  const r = await call(base, 'POST', '/v1/matches', { ...MATCH, id }, admin)
  expect(r.status, JSON.stringify(r.body)).toBe(201)
}

interface LogEvent {
  seq: number
  kind: string
  data: { text?: string; [k: string]: unknown }
}

async function readLog(base: string, matchId: string): Promise<LogEvent[]> {
  const out: LogEvent[] = []
  for (;;) {
    const r = await call(base, 'GET', `/v1/matches/${matchId}/events?since=${out.length ? (out.at(-1)?.seq ?? 0) : 0}&limit=1000`)
    expect(r.status).toBe(200)
    if (r.body.events.length === 0) return out
    out.push(...r.body.events)
  }
}

beforeAll(async () => {
  ;[nats, redis] = await Promise.all([startNats(), startRedis()])
  ;[a, b] = await Promise.all([startService('ingest', { env: env() }), startService('ingest', { env: env() })])
}, 60_000)

afterAll(async () => {
  await Promise.allSettled([a?.stop(), b?.stop()])
  await Promise.allSettled([nats?.stop(), redis?.stop()])
})

describe('ingest on NATS and Redis', () => {
  it('two replicas, 8 concurrent posters, 1,000 events on one match: seqs exactly 1..1000, log in order', async () => {
    await createMatch(a.url, 'load')
    const posters = 8
    const perPoster = 125
    const seqs: number[] = []
    await Promise.all(
      Array.from({ length: posters }, async (_, p) => {
        for (let i = 0; i < perPoster; i++) {
          const base = (p + i) % 2 === 0 ? a.url : b.url
          const r = await call(
            base,
            'POST',
            '/v1/matches/load/events',
            { kind: 'commentary', text: `p${p}-${i}` },
            {
              ...comm,
              'idempotency-key': `p${p}-${i}`,
            },
          )
          expect(r.status, JSON.stringify(r.body)).toBe(201)
          expect(r.body.duplicate).toBe(false)
          seqs.push(r.body.seq)
        }
      }),
    )
    expect(seqs.slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    const log = await readLog(b.url, 'load')
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    const texts = log.map((e) => e.data.text as string)
    expect(new Set(texts).size).toBe(1000)
    // Each poster's own events are in the order it posted them.
    for (let p = 0; p < posters; p++) {
      const mine = texts.filter((t) => t.startsWith(`p${p}-`)).map((t) => Number(t.split('-')[1]))
      expect(mine).toEqual(Array.from({ length: perPoster }, (_, i) => i))
    }
    const view = await call(a.url, 'GET', '/v1/matches/load')
    expect(view.body.seq).toBe(1000)
  })

  it('the same Idempotency-Key twice, on either replica and after an ingest restart, yields one event', async () => {
    await createMatch(a.url, 'idem')
    const h = { ...comm, 'idempotency-key': 'var-goal-1' }
    const ev = { kind: 'goal', score: { home: 1, away: 0 }, minute: 9 }
    const first = await call(a.url, 'POST', '/v1/matches/idem/events', ev, h)
    expect(first.status).toBe(201)
    const second = await call(b.url, 'POST', '/v1/matches/idem/events', ev, h)
    expect(second.status).toBe(201)
    expect(second.body).toEqual({ ...first.body, duplicate: true })

    await a.stop()
    expect(a.proc.child.exitCode).toBe(0) // drained and exited cleanly on SIGTERM
    a = await startService('ingest', { env: env() })
    const third = await call(a.url, 'POST', '/v1/matches/idem/events', ev, h)
    expect(third.status).toBe(201)
    expect(third.body).toEqual({ ...first.body, duplicate: true })
    const other = await call(a.url, 'POST', '/v1/matches/idem/events', { ...ev, minute: 10 }, h)
    expect(other.status).toBe(409)
    expect(other.body.code).toBe('idempotency_conflict')
    expect((await readLog(a.url, 'idem')).map((e) => e.seq)).toEqual([1])
  })

  it('corrections and retractions show in the scoreboard of GET /v1/matches/:matchId', async () => {
    await createMatch(a.url, 'var')
    const postTo = (base: string, body: unknown) => call(base, 'POST', '/v1/matches/var/events', body, comm)
    expect((await postTo(a.url, { kind: 'period', text: '1st half', minute: 0 })).status).toBe(201)
    expect((await postTo(b.url, { kind: 'goal', score: { home: 1, away: 0 }, minute: 20 })).status).toBe(201)
    expect((await postTo(a.url, { kind: 'goal', score: { home: 2, away: 0 }, minute: 30 })).status).toBe(201)
    expect((await call(b.url, 'GET', '/v1/matches/var')).body).toMatchObject({
      seq: 3,
      scoreboard: { home: 2, away: 0, period: '1st half', minute: 30 },
    })
    expect((await postTo(b.url, { kind: 'retraction', refSeq: 3, text: 'VAR: offside' })).status).toBe(201)
    expect((await call(a.url, 'GET', '/v1/matches/var')).body).toMatchObject({ seq: 4, scoreboard: { home: 1, away: 0 } })
    expect((await postTo(a.url, { kind: 'correction', refSeq: 2, score: { home: 0, away: 1 } })).status).toBe(201)
    expect((await call(b.url, 'GET', '/v1/matches/var')).body).toMatchObject({
      seq: 5,
      scoreboard: { home: 0, away: 1, period: '1st half' },
    })
    const bad = await postTo(a.url, { kind: 'retraction', refSeq: 6 })
    expect(bad.status).toBe(400)
    // The list shows each match's stored board, written by the bus just after the post answered.
    await vi.waitFor(
      async () => {
        const list = await call(a.url, 'GET', '/v1/matches')
        expect(list.body.matches.find((m: { id: string }) => m.id === 'var')).toMatchObject({ seq: 5, scoreboard: { home: 0, away: 1 } })
      },
      { timeout: 3000 },
    )
  })

  it('every bad input gets its status and code over HTTP, and the log is unchanged', async () => {
    await createMatch(a.url, 'm1')
    expect((await call(a.url, 'POST', '/v1/matches/m1/events', { kind: 'goal', score: { home: 1, away: 0 } }, comm)).status).toBe(201)
    const failures: string[] = []
    for (const c of BAD_INPUTS) {
      const r = await call(a.url, c.method ?? 'POST', c.url ?? '/v1/matches/m1/events', c.payload, c.headers ?? comm)
      const paths = (r.body?.details ?? []).map((d: { path: string }) => d.path)
      if (r.status !== c.status || r.body?.code !== c.code || (c.path && !paths.includes(c.path))) {
        failures.push(`${c.name}: got ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`)
      }
    }
    expect(failures).toEqual([])
    expect((await readLog(b.url, 'm1')).map((e) => e.seq)).toEqual([1])
  })

  it('viewer tokens, online counts from Redis, moderation over the bus', async () => {
    const tok = await call(b.url, 'POST', '/v1/viewers/token', { name: 'Ann' })
    expect(tok.status).toBe(200)
    expect(tok.body.user.name).toBe('Ann')
    const online = await call(a.url, 'GET', '/v1/matches/m1/online')
    expect(online.body).toEqual({ matchId: 'm1', total: 0, nodes: {} })
    expect((await call(a.url, 'GET', '/v1/nodes')).body).toEqual({ nodes: [] })
    const mute = await call(a.url, 'POST', '/v1/matches/m1/mutes', { userId: tok.body.user.id, seconds: 30 }, admin)
    expect(mute.status).toBe(200)
    const words = await call(b.url, 'PUT', '/v1/chat/banned-words', { words: ['Spoiler'] }, admin)
    expect(words.body).toEqual({ words: ['spoiler'] })
    expect((await call(a.url, 'GET', '/v1/chat/banned-words', undefined, admin)).body).toEqual({ words: ['spoiler'] })
    const metrics = await call(a.url, 'GET', '/metrics')
    expect(metrics.body).toContain('touchline_ingest_events_stored_total')
    expect(metrics.body).toContain('process_cpu_user_seconds_total')
  })

  it('NATS stopped mid-test: posts get 503 fast and nothing is stored; after NATS is back posting works again', async () => {
    await createMatch(a.url, 'outage')
    expect((await call(a.url, 'POST', '/v1/matches/outage/events', { kind: 'commentary', text: 'before' }, comm)).status).toBe(201)
    await nats.stop()
    for (const base of [a.url, b.url]) {
      const t0 = Date.now()
      const r = await call(
        base,
        'POST',
        '/v1/matches/outage/events',
        { kind: 'commentary', text: 'during' },
        {
          ...comm,
          'idempotency-key': `during-${base}`,
        },
      )
      const took = Date.now() - t0
      expect(r.status).toBe(503)
      expect(r.body.code).toBe('unavailable')
      expect(took).toBeLessThan(5000)
    }
    const ready = await call(a.url, 'GET', '/readyz')
    expect(ready.status).toBe(503)
    expect((await call(a.url, 'GET', '/healthz')).status).toBe(200)

    await nats.start()
    const t0 = Date.now()
    for (;;) {
      if ((await call(a.url, 'GET', '/readyz')).status === 200 && (await call(b.url, 'GET', '/readyz')).status === 200) break
      if (Date.now() - t0 > 20_000) throw new Error('ingest did not become ready after NATS came back')
      await new Promise((r) => setTimeout(r, 100))
    }
    // A retry with the key used during the outage stores the event once, now.
    const retry = await call(
      a.url,
      'POST',
      '/v1/matches/outage/events',
      { kind: 'commentary', text: 'during' },
      {
        ...comm,
        'idempotency-key': `during-${a.url}`,
      },
    )
    expect(retry.status).toBe(201)
    expect(retry.body).toMatchObject({ seq: 2, duplicate: false })
    const after = await call(b.url, 'POST', '/v1/matches/outage/events', { kind: 'commentary', text: 'after' }, comm)
    expect(after.status).toBe(201)
    expect(after.body.seq).toBe(3)
    const log = await readLog(a.url, 'outage')
    expect(log.map((e) => [e.seq, e.data.text])).toEqual([
      [1, 'before'],
      [2, 'during'],
      [3, 'after'],
    ])
  })
})

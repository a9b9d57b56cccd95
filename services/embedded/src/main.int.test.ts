/**
 * `node services/embedded/src/main.ts` as `pnpm start` runs it: one-line configuration errors,
 * generated keys in the banner, SIGTERM drain (1012 to sockets, exit 0), and the same command on
 * NATS and Redis, where two processes share matches, events and online counts.
 */
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { repoRoot, startNats, startProcess, startRedis, startService, type ServiceProcess } from '@touchline/testkit'
import { ensureWebBuilt } from '@touchline/web'

const main = fileURLToPath(new URL('./main.ts', import.meta.url))
const started: ServiceProcess[] = []

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop()))
})

async function embedded(env: Record<string, string | undefined>): Promise<ServiceProcess> {
  await ensureWebBuilt()
  const s = await startService('embedded', { env })
  started.push(s)
  return s
}

interface Client {
  frames: Array<Record<string, unknown>>
  closed: Promise<{ code: number; reason: string }>
  ws: WebSocket
  next(type: string, pred?: (f: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>
}

function client(url: string): Promise<Client> {
  const ws = new WebSocket(url)
  const frames: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Record<string, unknown>)
    for (const w of waiters.splice(0)) w()
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  )
  const c: Client = {
    frames,
    closed,
    ws,
    async next(type, pred = () => true, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const f = frames.find((x) => x.type === type && pred(x))
        if (f) return f
        if (Date.now() > deadline) throw new Error(`no ${type} frame; got ${JSON.stringify(frames.map((x) => x.type))}`)
        await new Promise<void>((r) => {
          waiters.push(r)
          setTimeout(r, 100)
        })
      }
    },
  }
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(c))
    ws.once('error', reject)
  })
}

async function api(base: string, method: string, path: string, body?: unknown, key?: string) {
  const res = await fetch(`${base}/api${path}`, {
    method,
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  return { status: res.status, json: (await res.json().catch(() => undefined)) as Record<string, unknown> }
}

describe('embedded main', () => {
  it('bad configuration: one line naming the variable, exit 78', async () => {
    const p = startProcess(process.execPath, [main], { cwd: repoRoot, env: { ...process.env, PORT: 'eighty', NATS_URL: 'http://x' } })
    expect(await p.exited).toBe(78)
    const lines = p.output().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^touchline: configuration error: .*NATS_URL.*PORT|^touchline: configuration error: .*PORT.*NATS_URL/)
  })

  it('without TOUCHLINE_API_KEYS it prints generated admin and commentator keys that work', async () => {
    const s = await embedded({ TOUCHLINE_API_KEYS: undefined })
    const out = s.output()
    expect(out).toContain('Commentator console')
    expect(out).toContain(`${s.url}/console.html`)
    expect(out).toContain(`${s.url}/api/docs`)
    const admin = /admin\s+(adm_\S+)/.exec(out)?.[1]
    const commentator = /commentator\s+(com_\S+)/.exec(out)?.[1]
    expect(admin).toBeTruthy()
    expect(commentator).toBeTruthy()
    const body = { id: 'keys', title: 't', home: 'a', away: 'b', startsAt: new Date().toISOString() }
    expect((await api(s.url, 'POST', '/v1/matches', body, commentator)).status).toBe(403)
    expect((await api(s.url, 'POST', '/v1/matches', body, admin)).status).toBe(201)
    expect((await api(s.url, 'POST', '/v1/matches/keys/events', { kind: 'commentary', text: 'hi' }, commentator)).status).toBe(201)
    expect((await fetch(`${s.url}/`)).headers.get('content-type')).toContain('text/html')
  })

  it('SIGTERM drains: sockets get 1012, the process exits 0', async () => {
    const s = await embedded({ TOUCHLINE_API_KEYS: 'admin:drain-admin-key', DRAIN_SPREAD_MS: '50', DRAIN_GRACE_MS: '200' })
    const c = await client(`${s.url.replace('http', 'ws')}/ws`)
    await c.next('welcome')
    const stopping = s.stop()
    const closed = await c.closed
    expect(closed.code).toBe(1012)
    await stopping
    expect(s.proc.child.exitCode).toBe(0)
  })

  it('on NATS and Redis, two processes share matches, live events and online counts', async () => {
    await using nats = await startNats()
    await using redis = await startRedis()
    const env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      TOUCHLINE_API_KEYS: 'admin:shared-admin-key,commentator:shared-comm-key',
      TOUCHLINE_TOKEN_SECRET: 'shared-token-secret-0123456789',
      ONLINE_INTERVAL_MS: '200',
    }
    const [a, b] = await Promise.all([embedded({ ...env, NODE_ID: 'emb-a' }), embedded({ ...env, NODE_ID: 'emb-b' })])
    expect(a.output()).toContain('bus nats, presence redis')
    const created = await api(
      a.url,
      'POST',
      '/v1/matches',
      { id: 'shared', title: 't', home: 'a', away: 'b', startsAt: new Date().toISOString() },
      'shared-admin-key',
    )
    expect(created.status).toBe(201)

    const onA = await client(`${a.url.replace('http', 'ws')}/ws`)
    const onB = await client(`${b.url.replace('http', 'ws')}/ws`)
    for (const c of [onA, onB]) {
      c.ws.send(JSON.stringify({ type: 'subscribe', matchId: 'shared' }))
      await c.next('subscribed')
    }
    const posted = await api(
      a.url,
      'POST',
      '/v1/matches/shared/events',
      { kind: 'goal', text: 'G', score: { home: 1, away: 0 } },
      'shared-comm-key',
    )
    expect(posted.status).toBe(201)
    const ev = await onB.next('event', (f) => f.seq === posted.json.seq)
    expect(ev).toMatchObject({ matchId: 'shared', kind: 'goal' })
    await onB.next('online', (f) => f.count === 2)
    const online = await api(b.url, 'GET', '/v1/matches/shared/online')
    expect(online.json).toMatchObject({ total: 2, nodes: { 'emb-a': 1, 'emb-b': 1 } })
    onA.ws.close()
    onB.ws.close()
    await Promise.all([a.stop(), b.stop()])
  })
})

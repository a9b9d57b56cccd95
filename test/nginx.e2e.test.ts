/**
 * Real nginx (rendered by nginx/render.ts) in front of real gateways and a real ingest, on one
 * testkit NATS and one Redis: how each strategy spreads WebSocket connections, stickiness,
 * backups (native and the ip_hash/hash fallback), passive health checks when a gateway dies under
 * load, and the /api prefix and X-Forwarded-For handling.
 *
 * Each test starts its own nginx (milliseconds); the gateways are shared and restarted on their
 * own ports when a test stops them.
 */
import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UpstreamDescription, UpstreamServer } from '../nginx/src/index.ts'
import { apiRequest } from '../infra/local/src/commentator.ts'
import { Spectator, welcomeNode } from '../infra/local/src/spectator.ts'
import { startNginx, startService, waitFor, type NginxServer, type ServiceProcess } from '../packages/testkit/src/index.ts'
import { type Backends, startBackends } from './support/backends.ts'
import { renderForTestkit, type TestNginxDescription } from './support/nginx.ts'

const ADMIN = 'admin-e2e-nginx-key'
const COMMENTATOR = 'commentator-e2e-nginx-key'

let backends: Backends
let ingest: ServiceProcess
const gw = new Map<string, ServiceProcess>()
const ports = new Map<string, number>()
let env: Record<string, string>

async function startGateway(id: string): Promise<ServiceProcess> {
  const g = await startService('gateway', { env: { ...env, NODE_ID: id }, port: ports.get(id) })
  ports.set(id, g.port)
  gw.set(id, g)
  return g
}

/** Restart any of the four gateways a test left stopped. */
async function ensureGateways(): Promise<void> {
  await Promise.all(['gw-1', 'gw-2', 'gw-3', 'gw-4'].filter((id) => !gw.has(id)).map((id) => startGateway(id)))
}

async function stopGateway(id: string, how: 'stop' | 'kill' = 'stop'): Promise<void> {
  const g = gw.get(id)
  gw.delete(id)
  await g?.[how]()
}

beforeAll(async () => {
  backends = await startBackends()
  env = {
    ...backends.env(),
    TOUCHLINE_TOKEN_SECRET: 'e2e-nginx-token-secret-0123456789',
    TOUCHLINE_API_KEYS: `admin:${ADMIN},commentator:${COMMENTATOR}`,
    TRUST_PROXY: '127.0.0.1',
    VIEWER_TOKENS_PER_MINUTE: '3',
    DRAIN_SPREAD_MS: '100',
    DRAIN_GRACE_MS: '500',
  }
  const started = await Promise.all([startService('ingest', { env }), ...['gw-1', 'gw-2', 'gw-3', 'gw-4'].map((id) => startGateway(id))])
  ingest = started[0]
})

afterAll(async () => {
  await Promise.allSettled([...gw.values()].map((g) => g.stop()))
  await ingest?.stop()
  await backends?.stop()
})

type ServerOpts = Omit<UpstreamServer, 'address'>

/** An nginx for these gateways (by node id) with the given balancing. */
function lb(
  servers: Array<[string, ServerOpts?]>,
  balancing: Omit<UpstreamDescription, 'servers'> = {},
  extra: Partial<TestNginxDescription> = {},
): Promise<NginxServer> {
  return startNginx(
    renderForTestkit({
      workerProcesses: 2,
      gateways: { ...balancing, servers: servers.map(([id, o]) => ({ address: `127.0.0.1:${ports.get(id)}`, ...o })) },
      ingest: { servers: [{ address: `127.0.0.1:${ingest.port}` }], keepalive: 4 },
      websocket: { heartbeatMs: 15_000 },
      ...extra,
    }),
  )
}

/** Open `n` connections (50 at a time) and count the node of each welcome frame. */
async function spread(url: string, n: number, query?: Record<string, string>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {}
  for (let done = 0; done < n; done += 50) {
    const batch = await Promise.all(Array.from({ length: Math.min(50, n - done) }, () => welcomeNode(url, { query })))
    for (const { node } of batch) counts[node] = (counts[node] ?? 0) + 1
  }
  return counts
}

function api(base: string, method: string, path: string, body?: unknown, key = ADMIN, idempotencyKey?: string) {
  return apiRequest(base, method, path, { body, key, idempotencyKey })
}

describe('nginx in front of the gateways', () => {
  it('round-robin spreads 300 connections evenly over three gateways', async () => {
    await using ngx = await lb([['gw-1'], ['gw-2'], ['gw-3']])
    const counts = await spread(ngx.wsUrl, 300)
    expect(Object.keys(counts).sort()).toEqual(['gw-1', 'gw-2', 'gw-3'])
    for (const c of Object.values(counts)) expect(Math.abs(c - 100)).toBeLessThanOrEqual(10)
  })

  it('weights 3:1:1 spread connections 60/20/20', async () => {
    await using ngx = await lb([
      ['gw-1', { weight: 3 }],
      ['gw-2', { weight: 1 }],
      ['gw-3', { weight: 1 }],
    ])
    const counts = await spread(ngx.wsUrl, 300)
    const pct = (id: string) => ((counts[id] ?? 0) / 300) * 100
    expect(Math.abs(pct('gw-1') - 60)).toBeLessThanOrEqual(5)
    expect(Math.abs(pct('gw-2') - 20)).toBeLessThanOrEqual(5)
    expect(Math.abs(pct('gw-3') - 20)).toBeLessThanOrEqual(5)
  })

  it('least_conn sends new connections to the gateway with the fewest open sockets', async () => {
    await using ngx = await lb([['gw-1'], ['gw-2'], ['gw-3']], { strategy: 'least_conn' })
    const held = await Promise.all(Array.from({ length: 30 }, () => welcomeNode(ngx.wsUrl, { keepOpen: true })))
    const onGw1 = held.filter((h) => h.node === 'gw-1')
    expect(onGw1.length).toBe(10)
    // Closed on both sides before going on: nginx counts a connection until it has ended.
    await Promise.all(
      onGw1.map(
        (h) =>
          new Promise((r) => {
            h.ws.once('close', r)
            h.ws.close(1000)
          }),
      ),
    )
    const more = await Promise.all(Array.from({ length: 10 }, () => welcomeNode(ngx.wsUrl, { keepOpen: true })))
    expect(more.map((m) => m.node)).toEqual(Array(10).fill('gw-1'))
    for (const h of [...held, ...more]) h.ws.close(1000)
  })

  it('ip_hash keeps every connection of one client address on one gateway, across reconnects', async () => {
    await using ngx = await lb([['gw-1'], ['gw-2'], ['gw-3']], { strategy: 'ip_hash' })
    // ip_hash keys on the first three octets of an IPv4 address: these clients differ in the third.
    const clients = Array.from({ length: 8 }, (_, i) => `127.0.${i + 1}.9`)
    const home = new Map<string, string>()
    for (let round = 0; round < 5; round++) {
      const nodes = await Promise.all(clients.map((a) => welcomeNode(ngx.wsUrl, { localAddress: a }).then((w) => w.node)))
      clients.forEach((a, i) => {
        if (!home.has(a)) home.set(a, nodes[i] as string)
        expect(nodes[i], `client ${a}, round ${round}`).toBe(home.get(a))
      })
    }
    expect(new Set(home.values()).size).toBeGreaterThan(1)
    // Same /24, other last octet: same gateway (this is why one NAT'ed office lands on one node).
    const sibling = await welcomeNode(ngx.wsUrl, { localAddress: '127.0.3.200' })
    expect(sibling.node).toBe(home.get('127.0.3.9'))
  })

  it('hash $arg_match consistent: one match on one gateway; removing a gateway moves only its matches', async () => {
    const three: Array<[string]> = [['gw-1'], ['gw-2'], ['gw-3']]
    const balancing = { strategy: 'hash' as const, hashKey: '$arg_match', consistent: true }
    await using ngx = await lb(three, balancing)
    const matches = Array.from({ length: 30 }, (_, i) => `match-${i}`)
    const before = new Map<string, string>()
    for (const m of matches) {
      const nodes = await Promise.all([0, 1, 2].map(() => welcomeNode(ngx.wsUrl, { query: { match: m } }).then((w) => w.node)))
      expect(new Set(nodes).size, `spectators of ${m}`).toBe(1)
      before.set(m, nodes[0] as string)
    }
    expect(new Set(before.values()).size).toBe(3)

    await ngx.reload(
      renderForTestkit({
        gateways: { ...balancing, servers: [`127.0.0.1:${ports.get('gw-1')}`, `127.0.0.1:${ports.get('gw-2')}`] as never },
        ingest: { servers: [{ address: `127.0.0.1:${ingest.port}` }] },
      }),
    )
    let moved = 0
    for (const m of matches) {
      const { node } = await welcomeNode(ngx.wsUrl, { query: { match: m } })
      if (before.get(m) === 'gw-3') {
        expect(node).not.toBe('gw-3')
        moved++
      } else {
        expect(node, `${m} was on ${before.get(m)}`).toBe(before.get(m))
      }
    }
    expect(moved).toBeGreaterThan(0)
  })

  it('strips /api for ingest and passes the client address it saw (X-Forwarded-For from nginx only)', async () => {
    await using ngx = await lb([['gw-1']])
    const health = await fetch(`${ngx.url}/api/healthz`)
    expect(health.status).toBe(200)
    // Viewer tokens are limited per client address (3 a minute here): the limit must apply to the
    // address nginx saw, not to nginx's own address, and a forged X-Forwarded-For must not help.
    const token = (localAddress: string, forged?: string) =>
      new Promise<number>((resolve, reject) => {
        const body = JSON.stringify({ name: 'viewer' })
        const req = request(
          `${ngx.url}/api/v1/viewers/token`,
          {
            method: 'POST',
            localAddress,
            headers: {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              ...(forged ? { 'x-forwarded-for': forged } : {}),
            },
          },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          },
        )
        req.on('error', reject)
        req.end(body)
      })
    const a = '127.0.77.5'
    const statuses = [await token(a), await token(a), await token(a), await token(a, '203.0.113.9'), await token(a)]
    expect(statuses).toEqual([200, 200, 200, 429, 429])
    expect(await token('127.0.78.5')).toBe(200)
  })
})

describe('backups and failures', () => {
  const passive = { maxFails: 1, failTimeout: 1 }

  async function primariesDownThenBack(ngx: NginxServer, localAddress?: string): Promise<void> {
    const connect = () => welcomeNode(ngx.wsUrl, { localAddress }).then((w) => w.node)
    const normal = await Promise.all(Array.from({ length: 10 }, connect))
    expect(normal.every((n) => n === 'gw-1' || n === 'gw-2')).toBe(true)

    await Promise.all([stopGateway('gw-1'), stopGateway('gw-2')])
    try {
      const during = []
      for (let i = 0; i < 10; i++) during.push(await connect())
      expect(during).toEqual(Array(10).fill('gw-4'))

      await startGateway('gw-1')
      // Passive checks: the primary is tried again once its fail_timeout (1 s) has passed, and
      // counts as healthy again when that first connection ends.
      await waitFor('a new connection on the restarted primary', async () => ((await connect()) === 'gw-1' ? true : undefined), 10_000, 100)
      const after = []
      for (let i = 0; i < 10; i++) after.push(await connect())
      expect(after).toEqual(Array(10).fill('gw-1'))
    } finally {
      await ensureGateways()
    }
  }

  it('round-robin with a backup: primaries stopped → backup; a primary back → it again', async () => {
    await using ngx = await lb([
      ['gw-1', passive],
      ['gw-2', passive],
      ['gw-4', { backup: true }],
    ])
    expect(ngx.config).toMatch(/server 127\.0\.0\.1:\d+ max_fails=0 backup;/)
    await primariesDownThenBack(ngx)
  })

  it('ip_hash with a backup (error_page fallback upstream): same behaviour', async () => {
    await using ngx = await lb(
      [
        ['gw-1', passive],
        ['gw-2', passive],
        ['gw-4', { backup: true }],
      ],
      { strategy: 'ip_hash' },
    )
    expect(ngx.config).toContain('error_page 502 504 = @touchline_gateways_backup;')
    expect(ngx.config).not.toMatch(/ backup;/)
    // One client address: ip_hash sends it to one primary, or to the other while that one is down.
    await primariesDownThenBack(ngx, '127.0.21.9')
  })

  it('a gateway killed under load: nginx stops sending it connections, its spectators resume elsewhere without a gap', async () => {
    await ensureGateways()
    const failTimeout = 10
    await using ngx = await lb([
      ['gw-1', { maxFails: 1, failTimeout }],
      ['gw-2', { maxFails: 1, failTimeout }],
      ['gw-3', { maxFails: 1, failTimeout }],
    ])
    const matchId = `kill-${Date.now()}`
    expect(
      (
        await api(ngx.url, 'POST', '/v1/matches', {
          id: matchId,
          title: 'Kill test',
          home: 'H',
          away: 'A',
          startsAt: new Date().toISOString(),
        })
      ).status,
    ).toBe(201)

    const spectators = Array.from({ length: 60 }, () => new Spectator({ url: ngx.wsUrl, matchId }))
    await Promise.all(spectators.map((s) => s.start()))
    const victims = spectators.filter((s) => s.node === 'gw-3')
    expect(victims.length).toBe(20)

    const total = 120
    let posted = 0
    const poster = (async () => {
      for (let i = 1; i <= total; i++) {
        const r = await api(
          ngx.url,
          'POST',
          `/v1/matches/${matchId}/events`,
          { kind: 'commentary', text: `event ${i}` },
          COMMENTATOR,
          `${matchId}-${i}`,
        )
        expect(r.status).toBe(201)
        posted = i
        await new Promise((res) => setTimeout(res, 15))
      }
    })()
    await waitFor('a third of the events', () => (posted >= total / 3 ? true : undefined), 20_000, 10)
    const gw3Port = ports.get('gw-3')
    const refused = () =>
      ngx
        .errorLog()
        .split('\n')
        .filter((l) => l.includes('connect() failed') && l.includes(`127.0.0.1:${gw3Port}`))
    await stopGateway('gw-3', 'kill')
    // Its spectators see the socket drop (1006) and reconnect through nginx to the others.
    await waitFor('the victims to resubscribe', () => (victims.every((s) => s.subscriptions >= 2) ? true : undefined), 10_000, 20)
    // Passive health check: the refused connects marked it failed (max_fails=1) for fail_timeout.
    const refusedBefore = refused()
    expect(refusedBefore.length).toBeGreaterThan(0)

    // New spectators during the outage: none fails, none is even tried on the dead gateway.
    const late = Array.from({ length: 30 }, () => new Spectator({ url: ngx.wsUrl, matchId }))
    await Promise.all(late.map((s) => s.start()))
    expect(refused(), 'nginx tried the dead gateway again within fail_timeout').toEqual(refusedBefore)
    await poster

    const all = [...spectators, ...late]
    await waitFor('every spectator to reach the last event', () => (all.every((s) => s.last === total) ? true : undefined), 20_000, 50)
    for (const s of all) {
      expect(s.record.anomalies, `spectator on ${s.record.nodes.join('→')}`).toEqual([])
      expect(s.record.failedAttempts).toEqual([])
    }
    // Exactly once, not only "nothing lost". A duplicate here comes from the gateway (a live event
    // at or below the seq its snapshot/replay already covered), not from nginx or the runner.
    const dups = all.flatMap((s) => s.record.duplicates)
    expect.soft(dups, 'gateway delivered events twice').toEqual([])
    // The first 60 saw every event exactly once, in order, across their reconnects.
    for (const s of spectators) expect([...new Set(s.record.seqs)]).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    for (const s of victims) {
      expect(s.record.closes).toContain(1006)
      expect(s.record.nodes.length).toBe(2)
      expect(['gw-1', 'gw-2']).toContain(s.node)
    }
    for (const s of late) expect(['gw-1', 'gw-2']).toContain(s.node)
    await Promise.all(all.map((s) => s.stop()))
  })
})

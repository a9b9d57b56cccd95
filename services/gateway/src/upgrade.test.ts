import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import type { Duplex } from 'node:stream'
import { MemoryBus } from '@touchline/bus'
import { MemoryPresence } from '@touchline/presence'
import { MemoryRateLimiter } from '@touchline/ratelimit'
import Fastify, { type FastifyInstance } from 'fastify'
import pino from 'pino'
import { Registry } from 'prom-client'
import { rawRequest, UPGRADE_HEADERS } from '@touchline/testkit/fixtures'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { WebSocket } from 'ws'
import { gatewayPlugin } from './app.ts'
import { Gateway, type GatewayDeps } from './gateway.ts'
import { TestClient } from './testing.ts'
import { connectOptionsOf } from './upgrade.ts'

const NOW = () => new Date().toISOString()

/** What one write hands to the kernel: `101` for the handshake answer, then each WebSocket frame's type. */
function describeWrite(chunks: unknown[]): string[] {
  let b = Buffer.concat(chunks.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(String(c), 'latin1'))))
  const out: string[] = []
  if (b.toString('latin1', 0, 12) === 'HTTP/1.1 101') {
    out.push('101')
    b = b.subarray(b.indexOf('\r\n\r\n') + 4)
  }
  while (b.byteLength >= 2) {
    const len = (b[1] as number) & 0x7f
    const start = len === 126 ? 4 : 2
    const size = len === 126 ? b.readUInt16BE(2) : len
    out.push((JSON.parse(b.subarray(start, start + size).toString('utf8')) as { type: string }).type)
    b = b.subarray(start + size)
  }
  return out
}

describe('connectOptionsOf', () => {
  // What the /ws route reads from fastify's request.query (default parser): a string or absent.
  async function viaFastify(queries: string[]): Promise<Record<string, unknown>[]> {
    const app = Fastify()
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined)
    app.get('/q', async (request) => {
      const q = request.query as Record<string, unknown>
      const out: Record<string, string> = {}
      for (const k of ['token', 'match', 'since', 'epoch']) {
        const v = str(q[k])
        if (v !== undefined) out[k] = v
      }
      return out
    })
    try {
      const out: Record<string, unknown>[] = []
      for (const q of queries) out.push((await app.inject({ method: 'GET', url: `/q?${q}` })).json())
      return out
    } finally {
      await app.close()
    }
  }

  it('reads the four parameters as the fastify route does, odd encodings and repeats included', async () => {
    const queries = [
      '',
      'match=m1',
      'match=m1&since=5&epoch=e-1&token=abc.def',
      'match=a&match=b',
      'match=a&match=b&match=c&since=3',
      'match',
      'match=',
      'ma%74ch=m1',
      'match=m%31',
      'match=a+b',
      'match=%zz',
      'match=%E9',
      'token=a%2Bb',
      '&&match=m1&',
      'match=m1=2',
      '=x&match=m1',
      'since=1&since=',
      'other=1&match=m1&other=2',
      'epoch=%F0%9F%98%80',
      'match+=m1',
    ]
    const expected = await viaFastify(queries)
    expect(queries.map((q) => ({ ...connectOptionsOf(q) }))).toEqual(expected)
  })
})

describe('the /ws upgrade before fastify routing', () => {
  const apps: FastifyInstance[] = []
  const clients: TestClient[] = []
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close()
    for (const a of apps.splice(0)) await a.close()
  })

  /** The gateway plugin in an app whose onRequest hook counts what fastify routed. */
  async function start(prefix = '') {
    const bus = new MemoryBus()
    await bus.createMatch({ id: 'm1', title: 'Final', home: 'H', away: 'A', startsAt: NOW(), createdAt: NOW() })
    const deps: GatewayDeps = {
      bus,
      presence: new MemoryPresence(),
      rateLimiter: new MemoryRateLimiter(),
      nodeId: 'gw-upgrade',
      tokenSecret: 'test-secret-0123456789',
      registry: new Registry(),
      settings: { drainSpreadMs: 20, drainGraceMs: 100 },
    }
    const gw = new Gateway(deps, pino({ level: 'silent' }))
    const app = Fastify({ logger: false })
    const routed: string[] = []
    app.addHook('onRequest', async (request) => {
      routed.push(request.url)
    })
    await app.register(gatewayPlugin, { ...deps, gateway: gw, ...(prefix ? { prefix } : {}) })
    await app.listen({ port: 0, host: '127.0.0.1' })
    apps.push(app)
    const port = (app.server.address() as { port: number }).port
    const open = async (path: string) => {
      const c = await TestClient.open(`ws://127.0.0.1:${port}${path}`)
      clients.push(c)
      return c
    }
    return { app, bus, gw, port, routed, open }
  }

  function serverConnections(app: FastifyInstance): Promise<number> {
    return new Promise((resolve, reject) => app.server.getConnections((err, n) => (err ? reject(err) : resolve(n))))
  }

  /** The HTTP status of a refused handshake. */
  function refusedWith(url: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.on('open', () => {
        ws.terminate()
        reject(new Error(`${url} was upgraded`))
      })
      ws.on('error', (err) => resolve(err.message))
    })
  }

  it('upgrades GET /ws without fastify routing, with the same query handling', async () => {
    const s = await start()
    const a = await s.open('/ws?match=m1')
    const welcome = await a.nextOf('welcome')
    await a.nextOf('subscribed', 'm1')
    const bad = await s.open('/ws?since=3')
    const badWelcome = await bad.nextOf('welcome')
    expect(typeof welcome.connId === 'string' && welcome.connId.length >= 9).toBe(true)
    expect(badWelcome.connId).not.toBe(welcome.connId)
    expect(await bad.nextOf('error')).toMatchObject({ code: 'bad_request', message: 'query parameter since needs match' })
    // A repeated parameter is absent, as fastify's array would be: no subscribe, no error.
    const twice = await s.open('/ws?match=m1&match=m1')
    twice.send({ type: 'ping' })
    await twice.nextOf('pong')
    expect(twice.frames.map((f) => f.type)).toEqual(['welcome', 'pong'])
    expect(s.routed).toEqual([])
    expect(s.gw.connections.size).toBe(3)
  })

  it('answers a subscribing connection in two writes: the 101 with welcome, then snapshot or replay with subscribed', async () => {
    const s = await start()
    for (let i = 0; i < 3; i++) await s.bus.appendEvent('m1', { kind: 'commentary', data: { text: `e${i + 1}` } })
    // What the server's sockets hand to the kernel: each `_write` is one write(2), each `_writev`
    // (a corked run) one writev(2) — the stream implementation methods every Writable calls.
    const calls: unknown[][][] = []
    s.app.server.prependListener('upgrade', (_req: unknown, socket: Duplex) => {
      const mine: unknown[][] = []
      calls.push(mine)
      const impl = socket as Duplex & { _writev?: (chunks: Array<{ chunk: unknown }>, cb: () => void) => void }
      const write = impl._write.bind(impl)
      const writev = impl._writev?.bind(impl)
      impl._write = (chunk, encoding, cb) => {
        mine.push([chunk])
        write(chunk, encoding, cb)
      }
      if (writev) {
        impl._writev = (chunks, cb) => {
          mine.push(chunks.map((c) => c.chunk))
          writev(chunks, cb)
        }
      }
    })
    const fresh = await s.open('/ws?match=m1')
    await fresh.nextOf('subscribed', 'm1')
    const resuming = await s.open('/ws?match=m1&since=0')
    await resuming.nextOf('subscribed', 'm1')
    await new Promise((r) => setTimeout(r, 20))
    expect(calls.map((writes) => writes.map(describeWrite))).toEqual([
      [
        ['101', 'welcome'],
        ['snapshot', 'subscribed'],
      ],
      [
        ['101', 'welcome'],
        ['event', 'event', 'event', 'subscribed'],
      ],
    ])
  })

  it('hands every other upgrade to fastify: encoded paths reach the /ws route, unknown paths get 404', async () => {
    const s = await start()
    const encoded = await s.open('/%77s?match=m1')
    await encoded.nextOf('subscribed', 'm1')
    expect(await refusedWith(`ws://127.0.0.1:${s.port}/nope`)).toContain('404')
    expect(s.routed).toEqual(['/%77s?match=m1', '/nope'])
    // The refused socket is closed on the server side too (it used to stay half-open).
    await expect.poll(() => serverConnections(s.app), { timeout: 2000 }).toBe(1)
  })

  it('answers a plain GET /ws with 404 through fastify', async () => {
    const s = await start()
    const status = await new Promise<number | undefined>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: s.port, path: '/ws' }, (res) => {
        res.resume()
        resolve(res.statusCode)
      })
        .on('error', reject)
        .end()
    })
    expect(status).toBe(404)
    expect(s.routed).toEqual(['/ws'])
  })

  it('an upgrade pipelined behind a request is answered after it: the response, then the 101 and the WebSocket frames', async () => {
    const s = await start()
    for (const path of ['/ws?match=m1', '/%77s?match=m1']) {
      const sock = connect(s.port, '127.0.0.1')
      let raw = Buffer.alloc(0)
      sock.on('data', (d: Buffer) => {
        raw = Buffer.concat([raw, d])
      })
      sock.write(`GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n${rawRequest('GET', path, '', UPGRADE_HEADERS)}`)
      await vi.waitFor(() => expect(raw.toString('latin1')).toContain('"type":"subscribed"'))
      sock.destroy()
      const text = raw.toString('latin1')
      const ok = text.indexOf('HTTP/1.1 200 ')
      const switching = text.indexOf('HTTP/1.1 101 ')
      expect([ok, text.lastIndexOf('HTTP/1.1 200 ')], path).toEqual([0, 0])
      expect(switching, path).toBeGreaterThan(ok)
      // What follows the 101's headers is WebSocket frames, the first a text frame (0x81): welcome.
      const frames = raw.subarray(text.indexOf('\r\n\r\n', switching) + 4)
      expect(frames[0], path).toBe(0x81)
      expect(frames.toString('latin1'), path).toContain('"type":"welcome"')
    }
  })

  it('serves the route under the plugin prefix only', async () => {
    const s = await start('/live')
    const a = await s.open('/live/ws?match=m1')
    await a.nextOf('subscribed', 'm1')
    expect(await refusedWith(`ws://127.0.0.1:${s.port}/ws?match=m1`)).toContain('404')
    expect(s.routed).toEqual(['/ws?match=m1'])
  })

  it('refuses a bad handshake on /ws as ws does (400), and routes upgrades while draining (1012)', async () => {
    const s = await start()
    const status = await new Promise<number | undefined>((resolve, reject) => {
      httpRequest({
        host: '127.0.0.1',
        port: s.port,
        path: '/ws',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13' },
      })
        .on('response', (res) => {
          res.resume()
          resolve(res.statusCode)
        })
        .on('upgrade', () => reject(new Error('upgraded without a key')))
        .on('error', reject)
        .end()
    })
    expect(status).toBe(400)
    const draining = s.gw.drain()
    const late = new TestClient(`ws://127.0.0.1:${s.port}/ws?match=m1`)
    clients.push(late)
    expect((await late.closed).code).toBe(1012)
    expect(s.routed).toEqual(['/ws?match=m1'])
    await draining
  })
})

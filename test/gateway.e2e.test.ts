/**
 * The gateway across real processes: one ingest and two gateway processes (a third replaces the
 * one that is SIGKILLed) on a real NATS and a real Redis from the testkit, events posted through
 * ingest's HTTP API, spectators on real WebSockets.
 *
 * 1. 200 spectators split over two gateways receive all 500 posted events, in seq order, none
 *    twice; meanwhile a client that stops reading is closed with 1013 and nobody else notices.
 * 2. Resume on the other gateway with `since`, while events keep arriving during the replay.
 * 3. A gateway SIGKILLed under load: its spectators resume on the other one and miss nothing.
 * 4. Fuzz: thousands of malformed frames from many connections; the gateway answers with error
 *    frames or close codes, stays up, and the well-behaved spectators lose nothing.
 * 5. Chat across gateways: fan-out once everywhere, mutes, deletes, banned words, floods, 100 KB.
 *
 * The tests share the processes and run in order. Run: npx vitest run test/gateway
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ServiceProcess, startService, waitFor } from '../packages/testkit/src/index.ts'
import { contiguous, type Frame, TestClient } from '../services/gateway/src/testing.ts'
import { type Backends, startBackends } from './support/backends.ts'
import { createMatchOnIngest, ingestRequest } from './support/ingest.ts'

const ADMIN_KEY = 'gateway-e2e-admin-key'
const COMMENTATOR_KEY = 'gateway-e2e-commentator-key'
const TOKEN_SECRET = 'gateway-e2e-token-secret-0123456789'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let backends: Backends
let ingest: ServiceProcess
const gw: Record<string, ServiceProcess> = {}
const clients: TestClient[] = []

function wsUrl(g: ServiceProcess, query = ''): string {
  return `ws://127.0.0.1:${g.port}/ws${query}`
}

function startGateway(nodeId: string): Promise<ServiceProcess> {
  return startService('gateway', {
    env: {
      ...backends.env(),
      TOUCHLINE_TOKEN_SECRET: TOKEN_SECRET,
      LOG_LEVEL: 'warn',
      NODE_ID: nodeId,
      // Small send buffers so that a stalled reader overflows quickly; a long grace so the test
      // can read the 1013 close frame after resuming the stalled socket.
      WS_SEND_BUFFER_MAX_BYTES: String(256 * 1024),
      WS_CHAT_SHED_BYTES: String(64 * 1024),
      WS_SLOW_CLOSE_GRACE_MS: '5000',
    },
    timeoutMs: 40_000,
  })
}

function api(method: string, path: string, key: string | undefined, body?: unknown) {
  return ingestRequest<Frame>(ingest.url, method, path, { key, body })
}

function createMatch(id: string): Promise<void> {
  return createMatchOnIngest(ingest.url, ADMIN_KEY, id, `Match ${id}`)
}

/** Post `n` events with `concurrency` requests in flight; returns the seqs the API answered. */
async function postEvents(
  matchId: string,
  n: number,
  concurrency = 16,
  make: (i: number) => unknown = (i) => ({ kind: 'commentary', text: `event ${i}` }),
) {
  const seqs: number[] = []
  let next = 0
  const worker = async () => {
    while (next < n) {
      const i = next++
      for (let attempt = 0; ; attempt++) {
        const r = await api('POST', `/v1/matches/${matchId}/events`, COMMENTATOR_KEY, make(i))
        if (r.status === 201) {
          seqs.push(r.body.seq as number)
          break
        }
        if (attempt > 5) throw new Error(`post failed: ${r.status} ${JSON.stringify(r.body)}`)
        await sleep(50)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return seqs
}

async function open(url: string, opts: ConstructorParameters<typeof TestClient>[1] = {}): Promise<TestClient> {
  const c = await TestClient.open(url, opts)
  clients.push(c)
  return c
}

async function viewer(name: string): Promise<{ token: string; user: { id: string; name: string } }> {
  const r = await api('POST', '/v1/viewers/token', undefined, { name })
  expect(r.status).toBe(200)
  return r.body as { token: string; user: { id: string; name: string } }
}

async function metric(g: ServiceProcess, name: string): Promise<number> {
  const text = await (await fetch(`${g.url}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.split(' ')[1]) : Number.NaN
}

/**
 * A spectator that survives its gateway: on any close it reconnects (to whatever `target()` says)
 * with `since` = the last seq it processed, as a real client would. `seqs` spans connections.
 */
class ResumingSpectator {
  readonly seqs: number[] = []
  readonly closes: number[] = []
  stopped = false
  client: TestClient | undefined
  readonly #matchId: string
  readonly #target: () => ServiceProcess

  constructor(matchId: string, target: () => ServiceProcess) {
    this.#matchId = matchId
    this.#target = target
  }

  async connect(): Promise<void> {
    const last = this.seqs[this.seqs.length - 1]
    const query = `?match=${this.#matchId}${last !== undefined ? `&since=${last}` : ''}`
    const c = new TestClient(wsUrl(this.#target(), query), { keep: false })
    clients.push(c)
    this.client = c
    c.ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame
      if (f.type === 'event' && f.matchId === this.#matchId) this.seqs.push(f.seq)
      else if (f.type === 'snapshot') {
        if (f.reset) throw new Error('unexpected reset snapshot')
        for (const e of f.events as Frame[]) this.seqs.push(e.seq)
      }
    })
    c.closed.then(({ code }) => {
      this.closes.push(code)
      if (!this.stopped) setTimeout(() => this.connect().catch(() => {}), 50 + Math.random() * 100)
    })
    await c.opened.catch(() => {})
    await c.nextOf('subscribed', this.#matchId, 10_000)
  }

  stop(): void {
    this.stopped = true
    this.client?.close()
  }
}

beforeAll(async () => {
  backends = await startBackends()
  ingest = await startService('ingest', {
    env: {
      ...backends.env(),
      TOUCHLINE_API_KEYS: `admin:${ADMIN_KEY},commentator:${COMMENTATOR_KEY}`,
      TOUCHLINE_TOKEN_SECRET: TOKEN_SECRET,
      VIEWER_TOKENS_PER_MINUTE: '1000',
      LOG_LEVEL: 'warn',
    },
    timeoutMs: 40_000,
  })
  const [a, b] = await Promise.all([startGateway('gw-a'), startGateway('gw-b')])
  gw.a = a as ServiceProcess
  gw.b = b as ServiceProcess
}, 90_000)

afterAll(async () => {
  for (const c of clients) c.close()
  await Promise.allSettled(Object.values(gw).map((g) => g.stop()))
  await ingest?.stop()
  await backends?.stop()
})

describe('gateway e2e (NATS, Redis, ingest and gateway processes)', () => {
  it('fans 500 events out to 200 spectators on two gateways, in order, once; a stalled reader is closed with 1013', async () => {
    await createMatch('fan')
    await createMatch('bulk')
    const spectators = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        open(wsUrl(i % 2 === 0 ? (gw.a as ServiceProcess) : (gw.b as ServiceProcess), '?match=fan'), { keep: false }),
      ),
    )
    await Promise.all(spectators.map((c) => c.nextOf('subscribed', 'fan', 10_000)))

    // The stalled reader watches `fan` too, and `bulk`, where big events fill its buffers fast.
    const slow = await open(wsUrl(gw.a as ServiceProcess, '?match=fan'), { keep: false })
    await slow.nextOf('subscribed', 'fan')
    slow.send({ type: 'subscribe', matchId: 'bulk' })
    await slow.nextOf('subscribed', 'bulk')
    const rawSocket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket
    rawSocket.pause()

    const big = 'x'.repeat(3900)
    const filler = { blob: 'y'.repeat(3900) }
    let slowClosed = false
    const bulk = (async () => {
      for (let round = 0; round < 20 && !slowClosed; round++) {
        await postEvents('bulk', 100, 8, () => ({ kind: 'commentary', text: big, data: filler }))
        slowClosed = (await metric(gw.a as ServiceProcess, 'touchline_gateway_slow_closes_total')) >= 1
      }
    })()
    const t0 = Date.now()
    const posted = await postEvents('fan', 500)
    expect(posted.sort((x, y) => x - y)).toEqual(contiguous(1, 500))
    await Promise.all(spectators.map((c) => c.waitSeq('fan', 500, 30_000)))
    console.log(`[gateway] 500 events to 200 spectators on 2 gateways: ${Date.now() - t0} ms after the first post`)
    for (const c of spectators) expect(c.seqsOf('fan')).toEqual(contiguous(1, 500))
    await bulk
    expect(slowClosed).toBe(true)

    // Resume the stalled socket: it reads its backlog, then the 1013 close frame.
    rawSocket.resume()
    expect((await slow.closed).code).toBe(1013)
    expect(spectators.every((c) => c.closeInfo === undefined)).toBe(true)
    for (const c of spectators) c.close()
  })

  it('resumes on the other gateway with since: 101..N exactly once, in order, with events arriving during the replay', async () => {
    await createMatch('resume')
    const first = await open(wsUrl(gw.a as ServiceProcess, '?match=resume'))
    await first.nextOf('subscribed')
    await postEvents('resume', 100, 8)
    await first.waitSeq('resume', 100)
    first.close()
    await first.closed
    await postEvents('resume', 100, 8)

    // Reconnect to B while 150 more events are being posted.
    const posting = postEvents('resume', 150, 2)
    await sleep(20)
    const again = await open(wsUrl(gw.b as ServiceProcess, '?match=resume&since=100'))
    await posting
    await again.waitSeq('resume', 350)
    await sleep(200)
    expect(again.seqsOf('resume')).toEqual(contiguous(101, 350))
    expect(again.ofType('snapshot')).toHaveLength(0)
    const sub = await again.nextOf('subscribed')
    expect(sub.seq).toBeGreaterThanOrEqual(200)
  })

  it('survives a SIGKILLed gateway: its spectators resume on the other one and miss nothing', async () => {
    await createMatch('crash')
    let aDead = false
    const target = (prefer: 'a' | 'b') => () => (prefer === 'a' && !aDead ? (gw.a as ServiceProcess) : (gw.b as ServiceProcess))
    const specs = Array.from({ length: 40 }, (_, i) => new ResumingSpectator('crash', target(i % 2 === 0 ? 'a' : 'b')))
    await Promise.all(specs.map((s) => s.connect()))
    const posting = postEvents('crash', 300, 2)
    await waitFor(
      '100 events posted',
      async () => ((await api('GET', '/v1/matches/crash', undefined)).body.seq >= 100 ? true : undefined),
      20_000,
    )
    aDead = true
    await (gw.a as ServiceProcess).kill()
    await posting
    await waitFor('every spectator at seq 300', () => (specs.every((s) => s.seqs[s.seqs.length - 1] === 300) ? true : undefined), 20_000)
    for (const s of specs) {
      s.stop()
      expect(s.seqs).toEqual(contiguous(1, 300))
    }
    const moved = specs.filter((s) => s.closes.length > 0)
    expect(moved.length).toBe(20)
    // Replace the dead node for the remaining tests.
    gw.c = await startGateway('gw-c')
    delete gw.a
  })

  it('stays up under fuzz from many connections and well-behaved spectators lose nothing', async () => {
    await createMatch('fuzz')
    const g = gw.b as ServiceProcess
    const good = await Promise.all(Array.from({ length: 20 }, () => open(wsUrl(g, '?match=fuzz'), { keep: false })))
    await Promise.all(good.map((c) => c.nextOf('subscribed')))

    const rnd = (n: number) => Math.floor(Math.random() * n)
    const junk = (): string | Buffer => {
      switch (rnd(12)) {
        case 0:
          return '{"type":"subscribe","matchId":'
        case 1:
          return JSON.stringify({ type: 'subscribe', matchId: 123, since: 'x' })
        case 2:
          return JSON.stringify({ type: 'chat', matchId: 'fuzz', text: 'z'.repeat(rnd(120_000)), clientMsgId: 'q' })
        case 3:
          return Buffer.from(Array.from({ length: rnd(2000) }, () => rnd(256)))
        case 4:
          return JSON.stringify([1, 2, 3])
        case 5:
          return 'null'
        case 6:
          return JSON.stringify({ type: 'subscribe', matchId: `m${rnd(1e6)}`, since: rnd(100) })
        case 7:
          return JSON.stringify({ type: 'unsubscribe', matchId: 'fuzz' })
        case 8:
          return JSON.stringify({ type: 'ping' })
        case 9:
          return JSON.stringify({ type: 'auth', token: 'a.b' })
        case 10:
          return JSON.stringify({ type: '__proto__', constructor: { prototype: { polluted: true } } })
        default:
          return String.fromCharCode(...Array.from({ length: rnd(300) }, () => rnd(0xffff)))
      }
    }
    // 25 abusers, each sending 160 frames; one closed for abuse (1008) or size (1009) reconnects.
    const fuzzers: TestClient[] = []
    const posting = postEvents('fuzz', 150, 4)
    let sent = 0
    await Promise.all(
      Array.from({ length: 25 }, async (_, i) => {
        let k = 0
        while (k < 160) {
          const c = await open(wsUrl(g))
          fuzzers.push(c)
          for (; k < 160 && !c.closeInfo && c.ws.readyState === 1; k++) {
            if (i % 5 === 0 && k % 50 === 49) c.ws.send('h'.repeat(3 * 1024 * 1024))
            else {
              const j = junk()
              c.ws.send(j, { binary: typeof j !== 'string' })
            }
            sent++
            if (k % 10 === 0) await sleep(2)
          }
          await Promise.race([c.closed, sleep(200)])
        }
      }),
    )
    await posting
    await Promise.all(good.map((c) => c.waitSeq('fuzz', 150, 20_000)))
    for (const c of good) expect(c.seqsOf('fuzz')).toEqual(contiguous(1, 150))
    console.log(`[gateway] fuzz: ${sent} frames over ${fuzzers.length} connections`)
    expect(sent).toBe(25 * 160)
    await sleep(300)
    const codes = fuzzers.map((c) => c.closeInfo?.code)
    expect(codes.every((code) => code === undefined || code === 1008 || code === 1009)).toBe(true)
    expect(fuzzers.every((c) => c.ofType('error').length > 0 || c.closeInfo)).toBe(true)
    expect(codes.filter((x) => x === 1009).length).toBeGreaterThan(0)
    expect((await fetch(`${g.url}/healthz`)).status).toBe(200)
    expect((await fetch(`${g.url}/readyz`)).status).toBe(200)
    expect(g.proc.child.exitCode).toBeNull()
  })

  it('carries chat across gateways once; applies mutes, deletes, banned words and floods everywhere', async () => {
    await createMatch('chat')
    const b = gw.b as ServiceProcess
    const c = gw.c as ServiceProcess
    const [alice, bob, carol, troll, flooder] = await Promise.all(['Alice', 'Bob', 'Carol', 'Troll', 'Flooder'].map(viewer))
    const onB = (v: { token: string }) => open(wsUrl(b, `?match=chat&token=${v.token}`))
    const onC = (v: { token: string }) => open(wsUrl(c, `?match=chat&token=${v.token}`))
    const A = await onC(alice!)
    const B = await onB(bob!)
    const C = await onC(carol!)
    const T1 = await onB(troll!)
    const T2 = await onC(troll!)
    const F1 = await onB(flooder!)
    const F2 = await onC(flooder!)
    const all = [A, B, C, T1, T2, F1, F2]
    await Promise.all(all.map((x) => x.nextOf('subscribed')))

    // A → B and C, once each.
    A.send({ type: 'chat', matchId: 'chat', text: 'hello from C', clientMsgId: 'a1' })
    const ack = await A.nextOf('chat_ack')
    for (const x of [A, B, C]) await x.next((f) => f.type === 'chat' && f.id === ack.id)
    await sleep(300)
    for (const x of [A, B, C]) expect(x.frames.filter((f) => f.type === 'chat' && f.id === ack.id)).toHaveLength(1)

    // Mute: refused on both gateways within a second.
    const mute = await api('POST', '/v1/matches/chat/mutes', ADMIN_KEY, { userId: troll!.user.id, seconds: 60 })
    expect(mute.status).toBeLessThan(300)
    await sleep(1000)
    T1.send({ type: 'chat', matchId: 'chat', text: 'spam', clientMsgId: 't1' })
    T2.send({ type: 'chat', matchId: 'chat', text: 'spam', clientMsgId: 't2' })
    expect(await T1.next((f) => f.ref === 't1')).toMatchObject({ type: 'error', code: 'muted' })
    expect(await T2.next((f) => f.ref === 't2')).toMatchObject({ type: 'error', code: 'muted' })

    // Delete: every spectator is told; the message leaves the recent history.
    const del = await api('DELETE', `/v1/matches/chat/chat/${ack.id}`, ADMIN_KEY)
    expect(del.status).toBe(204)
    for (const x of [A, B, C]) await x.next((f) => f.type === 'chat_deleted' && f.id === ack.id)
    const late = await open(wsUrl(b, '?match=chat'))
    const snap = await late.nextOf('snapshot')
    expect((snap.chat as Frame[]).some((m) => m.id === ack.id)).toBe(false)

    // Banned words: masked by both gateways.
    expect((await api('PUT', '/v1/chat/banned-words', ADMIN_KEY, { words: ['rubbish'] })).status).toBeLessThan(300)
    await sleep(300)
    B.send({ type: 'chat', matchId: 'chat', text: 'what rubbish', clientMsgId: 'b1' })
    const masked = await C.next((f) => f.type === 'chat' && f.user?.name === 'Bob')
    expect(masked.text).toBe('what *******')

    // Flood from one viewer on two gateways: the shared per-user bucket (8 in a burst) stops it,
    // while Carol keeps chatting.
    for (let i = 0; i < 6; i++) {
      F1.send({ type: 'chat', matchId: 'chat', text: `flood ${i}`, clientMsgId: `f1-${i}` })
      F2.send({ type: 'chat', matchId: 'chat', text: `flood ${i}`, clientMsgId: `f2-${i}` })
    }
    C.send({ type: 'chat', matchId: 'chat', text: 'calm message', clientMsgId: 'c1' })
    const cAck = await C.nextOf('chat_ack')
    await B.next((f) => f.type === 'chat' && f.id === cAck.id)
    await sleep(500)
    const answers = [...F1.frames, ...F2.frames].filter((f) => typeof f.ref === 'string' || f.type === 'chat_ack')
    const acks = answers.filter((f) => f.type === 'chat_ack').length
    const limited = answers.filter((f) => f.type === 'error' && f.code === 'rate_limited')
    expect(acks).toBeLessThanOrEqual(8)
    expect(acks + limited.length).toBe(12)
    expect(limited.every((f) => f.retryAfterMs > 0)).toBe(true)

    // 100 KB of text: too_large, and the connection stays usable.
    A.send({ type: 'chat', matchId: 'chat', text: 'w'.repeat(100 * 1024), clientMsgId: 'big' })
    expect(await A.next((f) => f.ref === 'big')).toMatchObject({ type: 'error', code: 'too_large' })
    A.send({ type: 'chat', matchId: 'chat', text: 'still here', clientMsgId: 'a2' })
    expect(await A.next((f) => f.type === 'chat_ack' && f.clientMsgId === 'a2')).toBeTruthy()
    expect(A.closeInfo).toBeUndefined()
  })
})

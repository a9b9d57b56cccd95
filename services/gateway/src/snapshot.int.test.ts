/**
 * The scoreboard of a snapshot on the NATS bus: a page seeds its board from `snapshot.match` at
 * `snapshot.seq` and ignores events up to it, so the scoreboard must be at that seq even when the
 * stored board (folded by the bus after each event is durable) lags the log. And a snapshot reused
 * for later spectators (resume.ts SNAPSHOT_REUSE_MS) never lacks chat or an event the gateway has
 * delivered. The gateway runs in this process on a real NatsBus; "ingest" is a second connection
 * that writes the match.
 */
import { connectNatsBus, type NatsBus } from '@touchline/bus'
import { MemoryPresence } from '@touchline/presence'
import { type BoardState, EMPTY_BOARD, type EventData } from '@touchline/protocol'
import { MemoryRateLimiter } from '@touchline/ratelimit'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { Registry } from 'prom-client'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../../../packages/testkit/src/index.ts'
import { buildGatewayApp } from './app.ts'
import type { GatewaySettings } from './config.ts'
import { Gateway } from './gateway.ts'
import { type Frame, TestClient } from './testing.ts'

const PREFIX = 'gwsnap'
const NOW = () => new Date().toISOString()

let nats: NatsServer
/** The writer (what ingest does): creates matches, appends events, sets the board back. */
let ingest: NatsBus
const apps: FastifyInstance[] = []
const buses: NatsBus[] = []
const clients: TestClient[] = []

beforeAll(async () => {
  nats = await startNats()
  ingest = await connectNatsBus({ servers: nats.url, prefix: PREFIX, name: 'test-ingest' })
}, 60_000)

afterEach(async () => {
  for (const c of clients.splice(0)) c.close()
  for (const a of apps.splice(0)) await a.close()
  for (const b of buses.splice(0)) await b.close()
})

afterAll(async () => {
  await ingest?.close()
  await nats?.stop()
})

/** A gateway on its own NATS connection, listening on a free port. */
async function gateway(settings: Partial<GatewaySettings> = {}): Promise<{ port: number }> {
  const bus = await connectNatsBus({ servers: nats.url, prefix: PREFIX, name: 'test-gateway' })
  buses.push(bus)
  const deps = {
    bus,
    presence: new MemoryPresence(),
    rateLimiter: new MemoryRateLimiter(),
    nodeId: 'gw-snapshot',
    tokenSecret: 'test-secret-0123456789',
    registry: new Registry(),
    settings: { onlineIntervalMs: 3_600_000, ...settings },
  }
  const app = await buildGatewayApp(deps, { gateway: new Gateway(deps, pino({ level: 'silent' })) })
  apps.push(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: (app.server.address() as { port: number }).port }
}

let matches = 0
async function newMatch(): Promise<string> {
  const id = `snap${++matches}`
  await ingest.createMatch({ id, title: 'T', home: 'H', away: 'A', startsAt: NOW(), createdAt: NOW() })
  return id
}

const post = async (matchId: string, kind: string, data: EventData = {}) => (await ingest.appendEvent(matchId, { kind, data })).event.seq

async function notes(matchId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await post(matchId, 'commentary', { text: 'play on' })
}

/** The stored board once the bus has folded every event (its board writes may trail the appends). */
async function foldedBoard(matchId: string): Promise<BoardState> {
  const { lastSeq } = await ingest.logPosition(matchId)
  let board: BoardState | undefined
  await expect
    .poll(
      async () => {
        board = (await ingest.getMatch(matchId))?.board
        return board?.seq
      },
      { timeout: 5000, interval: 10 },
    )
    .toBe(lastSeq)
  return board as BoardState
}

/** Make the stored board lag the log: set it back to `board` (after the bus folded everything). */
async function setBoardBack(matchId: string, board: BoardState): Promise<void> {
  await foldedBoard(matchId)
  await ingest.updateMatch(matchId, (cur) => ({ ...cur, board }))
  expect((await ingest.getMatch(matchId))?.board.seq).toBe(board.seq)
}

async function snapshotFrom(port: number, matchId: string): Promise<Frame> {
  const c = await TestClient.open(`ws://127.0.0.1:${port}/ws?match=${matchId}`)
  clients.push(c)
  const snap = await c.nextOf('snapshot', matchId)
  await c.nextOf('subscribed', matchId)
  return snap
}

describe('snapshot scoreboard on NATS', () => {
  it('is at the snapshot seq when the stored board lags within the events the snapshot carries', async () => {
    const { port } = await gateway()
    const m = await newMatch()
    await post(m, 'period', { text: '1st half', minute: 0 })
    await post(m, 'goal', { score: { home: 1, away: 0 }, minute: 10 })
    const stale = await foldedBoard(m)
    await post(m, 'goal', { score: { home: 1, away: 1 }, minute: 30 })
    await post(m, 'goal', { score: { home: 2, away: 1 }, minute: 40 })
    const last = await post(m, 'retraction', { refSeq: 4, minute: 41 })
    await setBoardBack(m, stale)

    const snap = await snapshotFrom(port, m)
    expect(snap.seq).toBe(last)
    expect(snap.events.map((e: Frame) => e.seq)).toEqual([1, 2, 3, 4, 5])
    expect(snap.match).toMatchObject({ seq: last, scoreboard: { home: 1, away: 1, period: '1st half', minute: 41 } })
    // The gateway only reads: the stored board still lags.
    expect((await ingest.getMatch(m))?.board.seq).toBe(stale.seq)
  })

  it('is at the snapshot seq when the lag is larger than the events a snapshot carries', async () => {
    const { port } = await gateway({ snapshotEvents: 3 })
    const m = await newMatch()
    await post(m, 'goal', { score: { home: 1, away: 0 } })
    await post(m, 'period', { text: '2nd half' })
    await notes(m, 10)
    await post(m, 'goal', { score: { home: 1, away: 2 }, minute: 70 }) // outside the 3 carried
    await notes(m, 5)
    const last = await post(m, 'commentary', { text: 'last' })
    await setBoardBack(m, EMPTY_BOARD)

    const snap = await snapshotFrom(port, m)
    expect(snap.seq).toBe(last)
    expect(snap.events.map((e: Frame) => e.seq)).toEqual([last - 2, last - 1, last])
    expect(snap.match).toMatchObject({ seq: last, scoreboard: { home: 1, away: 2, period: '2nd half', minute: 70 } })
    expect((await ingest.getMatch(m))?.board.seq).toBe(0)
  })

  it('is the stored board, as before, when the board is current; live events follow the snapshot', async () => {
    const { port } = await gateway({ snapshotEvents: 3 })
    const m = await newMatch()
    await post(m, 'period', { text: '1st half' })
    await post(m, 'goal', { score: { home: 0, away: 1 }, minute: 12 })
    await notes(m, 4)
    const board = await foldedBoard(m)
    expect(board.seq).toBe(6)

    const c = await TestClient.open(`ws://127.0.0.1:${port}/ws?match=${m}`)
    clients.push(c)
    const snap = await c.nextOf('snapshot', m)
    expect(snap).toMatchObject({ seq: 6, match: { seq: 6, scoreboard: { home: 0, away: 1, period: '1st half', minute: 12 } } })
    expect(snap.events.map((e: Frame) => e.seq)).toEqual([4, 5, 6])
    await c.nextOf('subscribed', m)
    const seq = await post(m, 'goal', { score: { home: 1, away: 1 } })
    await c.waitSeq(m, seq)
    expect(c.seqsOf(m)).toEqual([4, 5, 6, 7])
  })
})

describe('snapshot reuse on NATS', () => {
  it('never serves a snapshot without the chat or the event the gateway has already seen', async () => {
    const { port } = await gateway()
    const m = await newMatch()
    await notes(m, 3)
    const a = await TestClient.open(`ws://127.0.0.1:${port}/ws?match=${m}`)
    clients.push(a)
    const first = await a.nextOf('snapshot', m)
    await a.nextOf('subscribed', m)
    // Nothing changed: the next spectator gets the same snapshot (built once, within the reuse window).
    expect(await snapshotFrom(port, m)).toEqual(first)

    // Chat the gateway has delivered (a got it live) is in every later snapshot.
    await ingest.appendChat(m, { user: { id: 'u1', name: 'Ann' }, text: 'what a save' })
    await a.nextOf('chat', m)
    const withChat = await snapshotFrom(port, m)
    expect(withChat.chat.map((c: Frame) => c.text)).toEqual(['what a save'])
    expect(withChat.seq).toBe(3)

    // So is an event the gateway has delivered.
    const seq = await post(m, 'goal', { score: { home: 1, away: 0 } })
    await a.waitSeq(m, seq)
    const withEvent = await snapshotFrom(port, m)
    expect(withEvent.seq).toBe(seq)
    expect(withEvent.events.map((e: Frame) => e.seq)).toEqual([1, 2, 3, 4])
    expect(withEvent.match).toMatchObject({ seq, scoreboard: { home: 1, away: 0 } })
  })
})

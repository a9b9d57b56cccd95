import { type Bus, type LiveEvent, type LogRead, MemoryBus, type MemoryBusOptions } from '@touchline/bus'
import { type BoardState, EMPTY_BOARD, type EventData } from '@touchline/protocol'
import pino from 'pino'
import { describe, expect, it } from 'vitest'
import { Hub } from './hub.ts'
import { MAX_BOARD_FOLD, type ResumeOptions, type SubscribeOutcome, startSubscription, Subscription } from './resume.ts'
import { Sender } from './sender.ts'
import { newStats } from './stats.ts'
import { contiguous, FakeSocket, type Frame } from './testing.ts'

const log = pino({ level: 'silent' })
const NOW = () => new Date().toISOString()

interface Hooks {
  /** Runs after the inner read resolved, before its result is returned (simulate publishes meanwhile). */
  afterRead?: (afterSeq: number, read: LogRead) => Promise<void> | void
  /** Return true to lose this live event (core NATS is at most once). */
  dropLive?: (ev: LiveEvent) => boolean
  /** Deliver live events this much later (the live feed lags behind the log). */
  delayLiveMs?: number
  /** Called with the name of every other bus method called (counting reads). */
  onCall?: (method: string) => void
}

/** A MemoryBus seen through hooks. */
function hooked(inner: MemoryBus, hooks: Hooks): Bus {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'readEvents') {
        return async (matchId: string, afterSeq: number, limit: number) => {
          const read = await target.readEvents(matchId, afterSeq, limit)
          await hooks.afterRead?.(afterSeq, read)
          return read
        }
      }
      if (prop === 'subscribeEvents') {
        return (matchId: string, fn: (e: LiveEvent) => void) =>
          target.subscribeEvents(matchId, (e) => {
            if (hooks.dropLive?.(e)) return
            if (hooks.delayLiveMs) setTimeout(() => fn(e), hooks.delayLiveMs)
            else fn(e)
          })
      }
      const v = Reflect.get(target, prop, target)
      if (typeof v !== 'function') return v
      return (...args: unknown[]) => {
        hooks.onCall?.(String(prop))
        return v.apply(target, args)
      }
    },
  }) as unknown as Bus
}

async function setup(events: number, hooks: Hooks = {}, busOptions: MemoryBusOptions = {}) {
  const inner = new MemoryBus(busOptions)
  await inner.createMatch({ id: 'm', title: 'T', home: 'H', away: 'A', startsAt: NOW(), createdAt: NOW() })
  for (let i = 0; i < events; i++) await inner.appendEvent('m', { kind: 'commentary', data: { text: `e${i + 1}` } })
  const bus = hooked(inner, hooks)
  const stats = newStats()
  const hub = new Hub({ bus, stats, log, pageSize: 50 })
  const o: ResumeOptions = {
    bus,
    hub,
    stats,
    pageSize: 50,
    snapshotEvents: 10,
    snapshotChat: 5,
    replayHighWaterBytes: 1 << 20,
    replayStallMs: 5000,
  }
  const append = (n: number) => Promise.all(Array.from({ length: n }, () => inner.appendEvent('m', { kind: 'commentary', data: {} })))
  return { inner, bus, hub, stats, o, append }
}

function subscriber(o: ResumeOptions, maxHeld = 10_000) {
  const ws = new FakeSocket()
  const sender = new Sender(ws, { maxBufferedBytes: 1 << 24, chatShedBytes: 1 << 22, slowCloseGraceMs: 10, cork: false }, o.stats)
  const sub = new Subscription('m', sender, maxHeld)
  return { ws, sender, sub }
}

/** seqs of every event the socket received: snapshot events, then event frames; and the frame types. */
function received(ws: FakeSocket): { seqs: number[]; types: string[]; frames: Frame[] } {
  const frames = ws.frames<Frame>()
  const seqs: number[] = []
  for (const f of frames) {
    if (f.type === 'snapshot') for (const e of f.events) seqs.push(e.seq)
    if (f.type === 'event') seqs.push(f.seq)
  }
  return { seqs, types: frames.map((f) => f.type), frames }
}

const settle = () => new Promise((r) => setTimeout(r, 20))

describe('resume', () => {
  it('replays everything after since exactly once and in order while live events keep arriving', async () => {
    let extra = 0
    const ctx = await setup(300, {
      afterRead: async () => {
        // Publishes land while the replay holds a stale page.
        if (extra < 5) {
          extra++
          await ctx.append(7)
        }
      },
    })
    const { ws, sub } = subscriber(ctx.o)
    const out = (await startSubscription(ctx.o, sub, { since: 100 })) as Extract<SubscribeOutcome, { type: 'live' }>
    expect(out.type).toBe('live')
    expect(out.mode).toBe('replay')
    await ctx.append(5)
    await settle()
    const { seqs, types, frames } = received(ws)
    const last = (await ctx.inner.logPosition('m')).lastSeq
    expect(last).toBeGreaterThan(320)
    expect(seqs).toEqual(contiguous(101, last))
    // `subscribed` comes after the replay, and its seq is the last seq sent before it.
    const at = types.indexOf('subscribed')
    expect(at).toBeGreaterThan(0)
    expect(frames[at]?.seq).toBe(frames[at - 1]?.seq)
    expect(types.includes('snapshot')).toBe(false)
    expect(ctx.stats.replayedEvents).toBeGreaterThan(0)
  })

  it('answers a snapshot and then live events without a gap or a duplicate, with publishes racing it', async () => {
    let raced = false
    const ctx = await setup(30, {
      afterRead: async () => {
        if (!raced) {
          raced = true
          await ctx.append(12)
        }
      },
    })
    const { ws, sub } = subscriber(ctx.o)
    const out = await startSubscription(ctx.o, sub, {})
    expect(out).toMatchObject({ type: 'live', mode: 'snapshot' })
    await ctx.append(3)
    await settle()
    const { seqs, frames } = received(ws)
    expect(frames[0]?.type).toBe('snapshot')
    expect(frames[0]?.events).toHaveLength(10)
    expect(frames[0]?.match).toMatchObject({ id: 'm', title: 'T' })
    expect(seqs).toEqual(contiguous(21, 45))
  })

  it('never repeats an event when the log read is ahead of the live feed at the switch to live', async () => {
    // Events stored just before the subscribe are in the log read but reach the hub only later.
    const ctx = await setup(5, { delayLiveMs: 40 })
    // b and c must build their own snapshot (reading 6..9 ahead of the hub), not reuse a's.
    ctx.o.snapshotReuseMs = 0
    const a = subscriber(ctx.o)
    const b = subscriber(ctx.o)
    await startSubscription(ctx.o, a.sub, {})
    await ctx.append(4) // seqs 6..9: stored, their live copies still on the way
    const c = subscriber(ctx.o)
    const [outB, outC] = await Promise.all([startSubscription(ctx.o, b.sub, {}), startSubscription(ctx.o, c.sub, { since: 2 })])
    expect(outB).toMatchObject({ type: 'live', seq: 9 })
    expect(outC).toMatchObject({ type: 'live', seq: 9 })
    await ctx.append(3) // 10..12
    await new Promise((r) => setTimeout(r, 150))
    expect(received(a.ws).seqs).toEqual(contiguous(1, 12))
    expect(received(b.ws).seqs).toEqual(contiguous(1, 12))
    expect(received(c.ws).seqs).toEqual(contiguous(3, 12))
  })

  it('reuses a built snapshot for later subscribers of the same position, never across an event or chat', async () => {
    const calls: Record<string, number> = {}
    const ctx = await setup(5, { onCall: (m) => (calls[m] = (calls[m] ?? 0) + 1) })
    const builds = () => calls.recentChat ?? 0
    const subscribe = async (since?: number) => {
      const s = subscriber(ctx.o)
      expect(await startSubscription(ctx.o, s.sub, since === undefined ? {} : { since })).toMatchObject({ type: 'live' })
      return s.ws
    }
    const a = await subscribe()
    const b = await subscribe()
    expect(builds()).toBe(1)
    expect(calls.getMatch).toBe(1)
    expect(b.sent[0]).toBe(a.sent[0]) // the same Buffer
    // Chat reached the channel: the next snapshot is built anew and carries it.
    await ctx.inner.appendChat('m', { user: { id: 'u1', name: 'Ann' }, text: 'hello' })
    await settle()
    const c = await subscribe()
    expect(builds()).toBe(2)
    expect(received(c).frames[0]?.chat.map((m: Frame) => m.text)).toEqual(['hello'])
    // So does a chat deletion (a must-deliver broadcast of the match).
    ctx.hub.broadcast('m', Buffer.from('{"type":"chat_deleted","matchId":"m","id":"1"}'), false)
    await subscribe()
    expect(builds()).toBe(3)
    // An event moved the position: built anew, with it.
    await ctx.append(1)
    await settle()
    const d = await subscribe()
    expect(builds()).toBe(4)
    expect(received(d).frames[0]).toMatchObject({ type: 'snapshot', seq: 6 })
    await subscribe()
    expect(builds()).toBe(4)
    // Past the reuse window: built anew.
    ctx.o.snapshotReuseMs = 30
    await new Promise((r) => setTimeout(r, 40))
    const e = await subscribe()
    expect(builds()).toBe(5)
    expect(received(e).seqs).toEqual(contiguous(1, 6))
    // A resume is a replay from the log, not a snapshot: no build.
    await subscribe(4)
    expect(builds()).toBe(5)
    // Every subscriber got every event exactly once.
    await ctx.append(2)
    await settle()
    for (const ws of [a, b, c, d, e]) expect(received(ws).seqs.slice(-3)).toEqual([6, 7, 8])
  })

  it('fills a live gap from the log: lost publishes show up late, never missing', async () => {
    const ctx = await setup(5, { dropLive: (e) => e.seq % 7 === 0 || e.seq === 30 })
    const a = subscriber(ctx.o)
    const b = subscriber(ctx.o)
    await startSubscription(ctx.o, a.sub, {})
    await startSubscription(ctx.o, b.sub, { since: 0 })
    for (let i = 0; i < 40; i++) await ctx.append(1)
    await settle()
    expect(received(a.ws).seqs).toEqual(contiguous(1, 45))
    expect(received(b.ws).seqs).toEqual(contiguous(1, 45))
    expect(ctx.stats.gapFills).toBeGreaterThan(0)
  })

  it('answers reset snapshots for a since newer than the log, from another epoch, or older than retention', async () => {
    const ctx = await setup(50, {}, { retention: { maxEventsPerMatch: 20 } })
    const cases: Array<[{ since: number; epoch?: string }, boolean]> = [
      [{ since: 51 }, true],
      [{ since: 40, epoch: 'another-epoch' }, true],
      [{ since: 5 }, true],
      [{ since: 29 }, true], // firstSeq is 31: 30 is the oldest since that can resume
      [{ since: 30 }, false],
      [{ since: 50 }, false],
    ]
    for (const [req, reset] of cases) {
      const { ws, sub } = subscriber(ctx.o)
      const out = await startSubscription(ctx.o, sub, req)
      expect(out.type, JSON.stringify(req)).toBe('live')
      const first = ws.frames<Frame>()[0]
      if (reset) {
        expect(first, JSON.stringify(req)).toMatchObject({ type: 'snapshot', reset: true, seq: 50 })
      } else {
        expect(first?.type, JSON.stringify(req)).toBe(req.since === 50 ? 'subscribed' : 'event')
        expect(received(ws).seqs).toEqual(contiguous(req.since + 1, 50))
      }
      ctx.hub.leave(sub)
    }
    expect(ctx.stats.resets).toBe(4)
  })

  it('reports an unknown match and leaves nothing behind', async () => {
    const ctx = await setup(0)
    const { sub } = subscriber(ctx.o)
    const s2 = new Subscription('nope', sub.sender, 10)
    expect(await startSubscription(ctx.o, s2, {})).toMatchObject({ type: 'error', code: 'unknown_match' })
    expect(ctx.hub.channels.size).toBe(0)
  })

  it('stops a replay when the client unsubscribes meanwhile, and drops the bus subscription', async () => {
    let sub: Subscription | undefined
    const ctx = await setup(200, {
      afterRead: () => {
        if (sub) sub.state = 'closed'
      },
    })
    const s = subscriber(ctx.o)
    sub = s.sub
    const out = await startSubscription(ctx.o, sub, { since: 0 })
    expect(out.type).toBe('cancelled')
    expect(ctx.hub.channels.size).toBe(0)
  })

  it('closes a subscriber with 1013 when its replay cannot keep up with the live stream', async () => {
    let n = 0
    const ctx = await setup(100, {
      afterRead: async () => {
        if (n++ < 3) await ctx.append(10)
      },
    })
    const { ws, sub } = subscriber(ctx.o, 5)
    await startSubscription(ctx.o, sub, { since: 0 })
    expect(ws.closedWith?.code).toBe(1013)
  })

  it('keeps one bus subscription per match and drops it with the last subscriber', async () => {
    const ctx = await setup(3)
    const a = subscriber(ctx.o)
    const b = subscriber(ctx.o)
    await startSubscription(ctx.o, a.sub, {})
    await startSubscription(ctx.o, b.sub, {})
    expect(ctx.hub.channels.size).toBe(1)
    expect(ctx.hub.channels.get('m')?.live.size).toBe(2)
    ctx.hub.leave(a.sub)
    expect(ctx.hub.channels.size).toBe(1)
    ctx.hub.leave(b.sub)
    expect(ctx.hub.channels.size).toBe(0)
    await ctx.append(1)
    await settle()
    expect(received(a.ws).seqs).toEqual([1, 2, 3])
  })

  it('answers unavailable when the log cannot be read, balances membership, and works on retry', async () => {
    const inner = new MemoryBus()
    await inner.createMatch({ id: 'm', title: 'T', home: 'H', away: 'A', startsAt: NOW(), createdAt: NOW() })
    let fail = 1
    const bus = new Proxy(inner, {
      get(target, prop) {
        if (prop === 'logPosition') {
          return async (matchId: string) => {
            if (fail-- > 0) throw new Error('nats down')
            return target.logPosition(matchId)
          }
        }
        const v = Reflect.get(target, prop, target)
        return typeof v === 'function' ? v.bind(target) : v
      },
    }) as unknown as Bus
    const stats = newStats()
    const members = new Map<string, number>()
    const hub = new Hub({ bus, stats, log, pageSize: 50, onMembership: (m, d) => members.set(m, (members.get(m) ?? 0) + d) })
    const o: ResumeOptions = {
      bus,
      hub,
      stats,
      pageSize: 50,
      snapshotEvents: 10,
      snapshotChat: 0,
      replayHighWaterBytes: 1 << 20,
      replayStallMs: 1000,
    }
    const a = subscriber(o)
    const b = subscriber(o)
    const [ra, rb] = await Promise.all([startSubscription(o, a.sub, {}), startSubscription(o, b.sub, {})])
    expect(ra).toMatchObject({ type: 'error', code: 'unavailable' })
    expect(rb).toMatchObject({ type: 'error', code: 'unavailable' })
    expect(members.get('m')).toBe(0)
    expect(hub.channels.size).toBe(0)
    const c = subscriber(o)
    expect(await startSubscription(o, c.sub, {})).toMatchObject({ type: 'live' })
    expect(members.get('m')).toBe(1)
  })

  it('writes the same Buffer object to every live socket', async () => {
    const ctx = await setup(0)
    const subs = [subscriber(ctx.o), subscriber(ctx.o), subscriber(ctx.o)]
    for (const s of subs) await startSubscription(ctx.o, s.sub, {})
    await ctx.append(1)
    await settle()
    const bufs = subs.map((s) => s.ws.sent[s.ws.sent.length - 1])
    expect(bufs[0]).toBeDefined()
    expect(bufs[1]).toBe(bufs[0])
    expect(bufs[2]).toBe(bufs[0])
  })
})

/**
 * The stored board lagging the log, through the public Bus API: the events are appended (and
 * folded by the bus), then the record's board is set back to an earlier one, as if those folds
 * had not been written yet.
 */
async function setBoard(bus: MemoryBus, board: BoardState): Promise<void> {
  await bus.updateMatch('m', (cur) => ({ ...cur, board }))
}

async function boardNow(bus: MemoryBus): Promise<BoardState> {
  const rec = await bus.getMatch('m')
  if (!rec) throw new Error('no match m')
  return rec.board
}

const post = (bus: MemoryBus, kind: string, data: EventData = {}) => bus.appendEvent('m', { kind, data })
const notes = async (bus: MemoryBus, n: number) => {
  for (let i = 0; i < n; i++) await post(bus, 'commentary', { text: 'play on' })
}

/** Reads of the log (their `afterSeq` and how many events came back), recorded through the hooks. */
function readLog(): { reads: Array<{ after: number; events: number }>; afterRead: Hooks['afterRead'] } {
  const reads: Array<{ after: number; events: number }> = []
  return { reads, afterRead: (after, read) => void reads.push({ after, events: read.events.length }) }
}

async function snapshotOf(ctx: Awaited<ReturnType<typeof setup>>): Promise<Frame> {
  const { ws, sub } = subscriber(ctx.o)
  expect(await startSubscription(ctx.o, sub, {})).toMatchObject({ type: 'live', mode: 'snapshot' })
  const snap = ws.frames<Frame>()[0]
  expect(snap?.type).toBe('snapshot')
  return snap as Frame
}

describe('snapshot scoreboard', () => {
  /** period, goal, note (the stale board is here, at 3), goal, retraction of that goal, note. */
  async function sixEvents(inner: MemoryBus): Promise<BoardState> {
    await post(inner, 'period', { text: '1st half', minute: 0 })
    await post(inner, 'goal', { score: { home: 1, away: 0 }, minute: 10 })
    await post(inner, 'commentary', { text: 'close!' })
    const stale = await boardNow(inner)
    await post(inner, 'goal', { score: { home: 1, away: 1 }, minute: 30 })
    await post(inner, 'retraction', { refSeq: 4 })
    await post(inner, 'commentary', { text: 'VAR' })
    return stale
  }
  const AT_6 = { home: 1, away: 0, period: '1st half', minute: 30 }

  it('is the board at the snapshot seq, from the events it carries, when the stored board lags', async () => {
    const log = readLog()
    const ctx = await setup(0, { afterRead: log.afterRead })
    const stale = await sixEvents(ctx.inner)
    expect(stale.seq).toBe(3)
    await setBoard(ctx.inner, stale)
    log.reads.length = 0
    const snap = await snapshotOf(ctx)
    expect(snap.seq).toBe(6)
    expect(snap.match).toMatchObject({ seq: 6, scoreboard: AT_6 })
    expect(snap.events.map((e: Frame) => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
    // The events it carries were enough: no read besides the snapshot's own.
    expect(log.reads).toEqual([{ after: 0, events: 6 }])
    // Only in memory: the stored record is left as it was.
    expect((await boardNow(ctx.inner)).seq).toBe(3)
  })

  it('is unchanged when the stored board is current: same view, same reads', async () => {
    const log = readLog()
    const ctx = await setup(0, { afterRead: log.afterRead })
    await sixEvents(ctx.inner)
    expect((await boardNow(ctx.inner)).seq).toBe(6)
    log.reads.length = 0
    const snap = await snapshotOf(ctx)
    expect(snap.seq).toBe(6)
    expect(snap.match).toMatchObject({ seq: 6, scoreboard: AT_6 })
    expect(log.reads).toEqual([{ after: 0, events: 6 }])
  })

  it('reads what lies between the stored board and the events the snapshot carries', async () => {
    const log = readLog()
    const ctx = await setup(0, { afterRead: log.afterRead })
    await post(ctx.inner, 'goal', { score: { home: 1, away: 0 }, minute: 5 })
    const stale = await boardNow(ctx.inner)
    await notes(ctx.inner, 40) // 2..41
    await post(ctx.inner, 'period', { text: 'half time' }) // 42
    await post(ctx.inner, 'goal', { score: { home: 2, away: 0 }, minute: 50 }) // 43
    await notes(ctx.inner, 19) // 44..62: the snapshot carries 53..62
    await setBoard(ctx.inner, stale)
    log.reads.length = 0
    const snap = await snapshotOf(ctx)
    expect(snap.seq).toBe(62)
    expect(snap.events.map((e: Frame) => e.seq)).toEqual([53, 54, 55, 56, 57, 58, 59, 60, 61, 62])
    expect(snap.match).toMatchObject({ seq: 62, scoreboard: { home: 2, away: 0, period: 'half time', minute: 50 } })
    // The snapshot's read (after 42), then the hole between the board (1) and it.
    expect(log.reads).toContainEqual({ after: 52, events: 10 })
    expect(log.reads).toContainEqual({ after: 1, events: 51 })
    expect((await boardNow(ctx.inner)).seq).toBe(1)
  })

  it('reads up to its seq when it carries no events (SNAPSHOT_EVENTS=0)', async () => {
    const ctx = await setup(0)
    ctx.o.snapshotEvents = 0
    const stale = await sixEvents(ctx.inner)
    await notes(ctx.inner, 3) // 7..9
    await setBoard(ctx.inner, stale)
    const snap = await snapshotOf(ctx)
    expect(snap.events).toEqual([])
    expect(snap.seq).toBe(9)
    expect(snap.match).toMatchObject({ seq: 9, scoreboard: AT_6 })
  })

  it('folds at most MAX_BOARD_FOLD events from the log: the most recent ones', async () => {
    const log = readLog()
    const ctx = await setup(0, { afterRead: log.afterRead })
    const total = MAX_BOARD_FOLD + 200
    await post(ctx.inner, 'goal', { score: { home: 1, away: 0 } }) // 1: more than MAX_BOARD_FOLD behind
    await notes(ctx.inner, 598) // 2..599
    await post(ctx.inner, 'goal', { score: { home: 3, away: 2 }, minute: 70 }) // 600
    await notes(ctx.inner, total - 600)
    await setBoard(ctx.inner, EMPTY_BOARD)
    log.reads.length = 0
    const snap = await snapshotOf(ctx)
    expect(snap.seq).toBe(total)
    expect(snap.match).toMatchObject({ seq: total, scoreboard: { home: 3, away: 2, minute: 70 } })
    // The snapshot reads after total - n and carries the last n; the hole before it ends at total - n.
    const gapEnd = total - ctx.o.snapshotEvents
    expect(log.reads).toContainEqual({ after: gapEnd, events: ctx.o.snapshotEvents })
    const extra = log.reads.filter((r) => r.after !== gapEnd)
    expect(extra.length).toBeGreaterThan(0)
    expect(Math.min(...extra.map((r) => r.after))).toBe(gapEnd - MAX_BOARD_FOLD)
    expect(extra.reduce((sum, r) => sum + r.events, 0)).toBeLessThanOrEqual(MAX_BOARD_FOLD)
  })

  it('starts at the oldest retained event when the events after the stored board aged out', async () => {
    const ctx = await setup(0, {}, { retention: { maxEventsPerMatch: 20 } })
    await post(ctx.inner, 'period', { text: '1st half' }) // 1
    await post(ctx.inner, 'goal', { score: { home: 1, away: 0 }, minute: 5 }) // 2
    const stale = await boardNow(ctx.inner)
    await notes(ctx.inner, 22) // 3..24
    await post(ctx.inner, 'goal', { score: { home: 2, away: 1 }, minute: 60 }) // 25
    await notes(ctx.inner, 15) // 26..40: the log keeps 21..40
    await setBoard(ctx.inner, stale)
    expect((await ctx.inner.logPosition('m')).firstSeq).toBe(21)
    const snap = await snapshotOf(ctx)
    expect(snap.seq).toBe(40)
    expect(snap.match).toMatchObject({ seq: 40, scoreboard: { home: 2, away: 1, period: '1st half', minute: 60 } })
  })

  it('answers unavailable (and leaves the hub) when the log read for the board fails, and works on retry', async () => {
    let fail = 1
    const stale: { board?: BoardState } = {}
    const ctx = await setup(0, {
      afterRead: (after) => {
        if (stale.board && after === stale.board.seq && fail-- > 0) throw new Error('nats down')
      },
    })
    await post(ctx.inner, 'goal', { score: { home: 1, away: 0 } })
    stale.board = await boardNow(ctx.inner)
    await notes(ctx.inner, 20)
    await post(ctx.inner, 'goal', { score: { home: 1, away: 1 } }) // 22, before the snapshot's events
    await notes(ctx.inner, 10) // 23..32
    await setBoard(ctx.inner, stale.board)
    const a = subscriber(ctx.o)
    expect(await startSubscription(ctx.o, a.sub, {})).toMatchObject({ type: 'error', code: 'unavailable' })
    expect(a.ws.sent).toHaveLength(0)
    expect(ctx.hub.channels.size).toBe(0)
    const snap = await snapshotOf(ctx)
    expect(snap.match).toMatchObject({ seq: 32, scoreboard: { home: 1, away: 1 } })
    expect(fail).toBe(-1)
  })

  it('subscribers arriving together share one caught-up snapshot: one Buffer, one catch-up read', async () => {
    const log = readLog()
    const ctx = await setup(0, { afterRead: log.afterRead })
    await post(ctx.inner, 'goal', { score: { home: 1, away: 0 } })
    const stale = await boardNow(ctx.inner)
    await notes(ctx.inner, 20)
    await post(ctx.inner, 'goal', { score: { home: 2, away: 0 } }) // 22
    await notes(ctx.inner, 10)
    await setBoard(ctx.inner, stale)
    log.reads.length = 0
    const subs = [subscriber(ctx.o), subscriber(ctx.o), subscriber(ctx.o)]
    await Promise.all(subs.map((s) => startSubscription(ctx.o, s.sub, {})))
    const frames = subs.map((s) => s.ws.sent[0])
    expect(frames[1]).toBe(frames[0])
    expect(frames[2]).toBe(frames[0])
    expect(subs[0]?.ws.frames<Frame>()[0]?.match).toMatchObject({ seq: 32, scoreboard: { home: 2, away: 0 } })
    expect(log.reads.filter((r) => r.after === 1)).toHaveLength(1)
  })
})

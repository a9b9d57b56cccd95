import type { Bus, LiveChat, LiveEvent } from '@touchline/bus'
import pino from 'pino'
import { describe, expect, it, vi } from 'vitest'
import { Hub, type HubSubscriber } from './hub.ts'
import { Sender, type SenderLimits } from './sender.ts'
import { type GatewayStats, newStats } from './stats.ts'
import { FakeSocket } from './testing.ts'
import { type Pair, wsPairsForSuite } from './ws-pair.ts'

const log = pino({ level: 'silent' })
const LIMITS: SenderLimits = { maxBufferedBytes: 1 << 20, chatShedBytes: 1 << 18, slowCloseGraceMs: 50, cork: false }
/** Long enough that only an explicit flush (or the behaviour under test) ends a window. */
const LONG = 60_000

/** A bus with one match whose live event and chat feeds the test drives by hand. */
function fakeBus() {
  const onEvent = new Map<string, (e: LiveEvent) => void>()
  const onChat = new Map<string, (c: LiveChat) => void>()
  const bus = {
    subscribeEvents(m: string, fn: (e: LiveEvent) => void) {
      onEvent.set(m, fn)
      return { unsubscribe: () => onEvent.delete(m) }
    },
    subscribeChat(m: string, fn: (c: LiveChat) => void) {
      onChat.set(m, fn)
      return { unsubscribe: () => onChat.delete(m) }
    },
    logPosition: async () => ({ lastSeq: 0, firstSeq: 0, epoch: 'e1' }),
  } as unknown as Bus
  return {
    bus,
    event(seq: number) {
      const frame = Buffer.from(JSON.stringify({ type: 'event', matchId: 'm', seq }))
      onEvent.get('m')?.({ matchId: 'm', seq, acceptedAt: Date.now(), frame })
    },
    chat(id: string) {
      onChat.get('m')?.({ matchId: 'm', id, frame: Buffer.from(JSON.stringify({ type: 'chat', matchId: 'm', id })) })
    },
  }
}

const chatFrame = (id: string) => JSON.stringify({ type: 'chat', matchId: 'm', id })
const eventFrame = (seq: number) => JSON.stringify({ type: 'event', matchId: 'm', seq })
const deletedFrame = (id: string) => JSON.stringify({ type: 'chat_deleted', matchId: 'm', id })

describe('hub chat coalescing', () => {
  const pairs = wsPairsForSuite()

  async function setup(windowMs: number, sockets = 1) {
    const fb = fakeBus()
    const stats = newStats()
    let ms = windowMs
    const hub = new Hub({ bus: fb.bus, stats, log, pageSize: 50, chatCoalesceMs: () => ms })
    const live: Array<{ pair: Pair; sub: HubSubscriber }> = []
    const addLive = async () => {
      const pair = await pairs.open()
      const sub: HubSubscriber = { matchId: 'm', sender: new Sender(pair.server, LIMITS, stats), hold() {} }
      const ch = hub.join(sub)
      await ch.ready
      hub.goLive(sub, 0)
      live.push({ pair, sub })
      return { pair, sub }
    }
    for (let i = 0; i < sockets; i++) await addLive()
    return { ...fb, hub, stats, live, addLive, setWindow: (n: number) => (ms = n) }
  }

  it('frames ready within the window go to each socket in one write, in order; chat counted per message', async () => {
    const { hub, chat, stats, live } = await setup(LONG, 2)
    const before = live.map((l) => l.pair.writes())
    chat('c1')
    chat('c2')
    hub.broadcast('m', Buffer.from('{"type":"online","matchId":"m","count":2}'), true)
    chat('c3')
    expect(live.map((l) => l.pair.writes())).toEqual(before) // held in the window
    hub.flushChat('m')
    expect(live.map((l, i) => l.pair.writes() - (before[i] as number))).toEqual([1, 1])
    expect(stats.socketWrites).toBe(2)
    expect(stats.framesSent).toBe(8)
    expect(stats.chatFannedOut).toBe(6) // 3 chat messages × 2 sockets; the online frame is not chat
    for (const l of live) {
      expect(await l.pair.received(4)).toEqual([
        chatFrame('c1'),
        chatFrame('c2'),
        '{"type":"online","matchId":"m","count":2}',
        chatFrame('c3'),
      ])
    }
  })

  it('the window ends by itself (timer): frames arrive together', async () => {
    const { chat, stats, live } = await setup(20)
    chat('a')
    chat('b')
    const l = live[0] as { pair: Pair }
    expect(await l.pair.received(2)).toEqual([chatFrame('a'), chatFrame('b')])
    expect(stats.socketWrites).toBe(1)
    expect(stats.chatFannedOut).toBe(2)
  })

  it('with a window of 0 every frame is its own write, at once', async () => {
    const { chat, stats, live } = await setup(0)
    const l = live[0] as { pair: Pair }
    const before = l.pair.writes()
    chat('a')
    chat('b')
    chat('c')
    expect(l.pair.writes() - before).toBe(3)
    expect(stats.socketWrites).toBe(3)
    expect(await l.pair.received(3)).toEqual(['a', 'b', 'c'].map(chatFrame))
  })

  it('an event sent while chat is pending goes out at once, before the window ends', async () => {
    const { hub, chat, event, live } = await setup(LONG)
    const l = live[0] as { pair: Pair }
    chat('pending')
    event(1)
    // The window is a minute long: the event arrives without waiting for it, ahead of the chat.
    expect(await l.pair.received(1)).toEqual([eventFrame(1)])
    hub.flushChat('m')
    expect(await l.pair.received(2)).toEqual([eventFrame(1), chatFrame('pending')])
  })

  it('chat_deleted (a must-deliver broadcast) never overtakes the pending chat it deletes', async () => {
    const { hub, chat, live } = await setup(LONG)
    const l = live[0] as { pair: Pair }
    chat('bad')
    hub.broadcast('m', Buffer.from(deletedFrame('bad')), false)
    expect(await l.pair.received(2)).toEqual([chatFrame('bad'), deletedFrame('bad')])
  })

  it('a subscriber going live first flushes the window: it gets only chat that arrived while it was live', async () => {
    const { hub, chat, live, addLive } = await setup(LONG)
    const first = live[0] as { pair: Pair }
    chat('before')
    const second = await addLive()
    expect(await first.pair.received(1)).toEqual([chatFrame('before')])
    chat('after')
    hub.flushChat('m')
    expect(await second.pair.received(1)).toEqual([chatFrame('after')])
    expect(await first.pair.received(2)).toEqual([chatFrame('before'), chatFrame('after')])
  })

  it('stop (closeAll) writes pending frames first and leaves no timer; the last leave drops the window', async () => {
    const a = await setup(LONG)
    a.chat('x')
    const ch = a.hub.channels.get('m')
    expect(ch?.chatTimer).toBeDefined()
    a.hub.closeAll()
    expect(ch?.chatTimer).toBeUndefined()
    expect(ch?.closed).toBe(true)
    expect(await (a.live[0] as { pair: Pair }).pair.received(1)).toEqual([chatFrame('x')])

    const b = await setup(LONG)
    b.chat('y')
    const chB = b.hub.channels.get('m')
    b.hub.leave((b.live[0] as { sub: HubSubscriber }).sub)
    expect(chB?.closed).toBe(true)
    expect(chB?.chatTimer).toBeUndefined()
    expect(chB?.chatBatch).toBeUndefined()
  })

  it('sheds a batch on a socket over the shed limit (each message counted), others still get it', async () => {
    const fb = fakeBus()
    const stats: GatewayStats = newStats()
    const hub = new Hub({ bus: fb.bus, stats, log, pageSize: 50, chatCoalesceMs: () => LONG })
    const slow = new FakeSocket()
    const fast = new FakeSocket()
    for (const ws of [slow, fast]) {
      const sub: HubSubscriber = { matchId: 'm', sender: new Sender(ws, { ...LIMITS, chatShedBytes: 100 }, stats), hold() {} }
      await hub.join(sub).ready
      hub.goLive(sub, 0)
    }
    slow.bufferedAmount = 60 // under the limit alone, over it with the batch
    fb.chat('1')
    fb.chat('2')
    hub.flushChat('m')
    expect(stats.chatShed).toBe(2)
    expect(slow.sent).toHaveLength(0)
    expect(fast.frames()).toEqual([JSON.parse(chatFrame('1')), JSON.parse(chatFrame('2'))])
    expect(stats.chatFannedOut).toBe(2)
    // Events are not droppable: the slow socket still gets them.
    fb.event(1)
    expect(slow.sent).toHaveLength(1)
  })

  it('a window holding CHAT_BATCH_MAX_BYTES is written early (bounded)', async () => {
    const { chat, stats, hub } = await setup(LONG)
    // Each chat frame is ~40 bytes: far under 64 KiB, so these stay in the window…
    for (let i = 0; i < 10; i++) chat(`c${i}`)
    expect(stats.socketWrites).toBe(0)
    // …while one large broadcast takes the batch over the bound and flushes it.
    hub.broadcast('m', Buffer.from(JSON.stringify({ type: 'online', matchId: 'm', pad: 'z'.repeat(70_000) })), true)
    expect(stats.socketWrites).toBe(1)
    expect(stats.framesSent).toBe(11)
  })

  describe('an ended window is written a chunk of sockets per turn', () => {
    /** Five fake sockets, two written per turn; the window ends only when the test ends it. */
    async function chunkedSetup() {
      const fb = fakeBus()
      const stats = newStats()
      const hub = new Hub({ bus: fb.bus, stats, log, pageSize: 50, chatCoalesceMs: () => LONG, writeChunk: 2 })
      const subs: Array<{ ws: FakeSocket; sub: HubSubscriber }> = []
      for (let i = 0; i < 5; i++) {
        const ws = new FakeSocket()
        const sub: HubSubscriber = { matchId: 'm', sender: new Sender(ws, LIMITS, stats), hold() {} }
        await hub.join(sub).ready
        hub.goLive(sub, 0)
        subs.push({ ws, sub })
      }
      // A broadcast that takes the window over CHAT_BATCH_MAX_BYTES ends it at once, chunked.
      const big = () => hub.broadcast('m', Buffer.from(JSON.stringify({ type: 'online', matchId: 'm', pad: 'z'.repeat(70_000) })), true)
      const types = (ws: FakeSocket) => ws.frames<{ type: string; id?: string }>().map((f) => (f.type === 'chat' ? f.id : f.type))
      return { ...fb, hub, stats, subs, big, types }
    }
    const nextTurn = () => new Promise((r) => setImmediate(r))

    it('an event that arrives meanwhile reaches every socket before the rest of the window', async () => {
      const { chat, event, subs, big, types, stats } = await chunkedSetup()
      chat('c1')
      big()
      expect(subs.map((s) => types(s.ws))).toEqual([['c1', 'online'], ['c1', 'online'], [], [], []]) // the first chunk only
      event(1)
      // The event did not wait for the rest of the window.
      expect(subs.map((s) => types(s.ws).at(-1))).toEqual(['event', 'event', 'event', 'event', 'event'])
      await nextTurn()
      await nextTurn()
      expect(subs.map((s) => types(s.ws))).toEqual([
        ['c1', 'online', 'event'],
        ['c1', 'online', 'event'],
        ['event', 'c1', 'online'],
        ['event', 'c1', 'online'],
        ['event', 'c1', 'online'],
      ])
      expect(stats.chatFannedOut).toBe(5)
    })

    it('what must not overtake it finishes it first: a must-deliver broadcast, the next window', async () => {
      const { chat, hub, subs, big, types } = await chunkedSetup()
      chat('bad')
      big()
      hub.broadcast('m', Buffer.from(deletedFrame('bad')), false)
      for (const s of subs) expect(types(s.ws)).toEqual(['bad', 'online', 'chat_deleted'])

      chat('w1')
      big()
      chat('w2')
      hub.flushChat('m') // the next window: the rest of w1 goes first, on every socket
      for (const s of subs) expect(types(s.ws).slice(3)).toEqual(['w1', 'online', 'w2'])
    })

    it('a subscriber that leaves while the window is written is skipped; closing the channel drops the rest', async () => {
      const { chat, hub, subs, big } = await chunkedSetup()
      chat('c1')
      big()
      hub.leave((subs[4] as { sub: HubSubscriber }).sub)
      await nextTurn()
      await nextTurn()
      expect(subs.map((s) => s.ws.sent.length)).toEqual([2, 2, 2, 2, 0])

      chat('c2')
      big()
      const ch = hub.channels.get('m')
      expect(ch?.chatWrite?.done).toBe(false)
      for (const s of subs.slice(0, 4)) hub.leave(s.sub)
      expect(ch?.closed).toBe(true)
      expect(ch?.chatWrite).toBeUndefined()
      await nextTurn()
      expect(subs.map((s) => s.ws.sent.length)).toEqual([4, 4, 2, 2, 0])
    })
  })
})

describe('quiet matches: events whose live copy never came', () => {
  const pairs = wsPairsForSuite()

  /** A bus whose log holds what the test stores, without any live publish (ingest died first). */
  function logOnlyBus() {
    const log: LiveEvent[] = []
    let positionReads = 0
    const bus = {
      subscribeEvents: () => ({ unsubscribe() {} }),
      subscribeChat: () => ({ unsubscribe() {} }),
      logPosition: async () => {
        positionReads++
        return { lastSeq: log.length, firstSeq: log.length > 0 ? 1 : 0, epoch: 'e1' }
      },
      readEvents: async (_m: string, after: number, limit: number) => ({
        events: log.slice(after, after + limit).map((e) => ({ ...e, kind: 'goal', at: '', data: {} })),
        firstSeq: log.length > 0 ? 1 : 0,
        lastSeq: log.length,
        epoch: 'e1',
      }),
    } as unknown as Bus
    const store = (seq: number) => log.push({ matchId: 'm', seq, acceptedAt: Date.now(), frame: Buffer.from(eventFrame(seq)) })
    return { bus, store, positionReads: () => positionReads }
  }

  it('are delivered from the log once the match has been quiet for quietMs, once each, in order; busy matches are not read', async () => {
    const fb = logOnlyBus()
    const stats = newStats()
    const hub = new Hub({ bus: fb.bus, stats, log, pageSize: 50 })
    const pair = await pairs.open()
    const sub: HubSubscriber = { matchId: 'm', sender: new Sender(pair.server, LIMITS, stats), hold() {} }
    await hub.join(sub).ready
    hub.goLive(sub, 0)
    const readsAtStart = fb.positionReads()

    fb.store(1)
    fb.store(2)
    hub.checkQuiet(60_000) // quiet for less than a minute: not read
    expect(fb.positionReads()).toBe(readsAtStart)
    hub.checkQuiet(60_000, Date.now() + 60_000)
    expect(await pair.received(2)).toEqual([eventFrame(1), eventFrame(2)])
    expect(stats.liveCopiesMissed).toBe(2)

    // Checked again a quiet period later: nothing new, nothing sent twice.
    hub.checkQuiet(60_000, Date.now() + 120_000)
    await vi.waitFor(() => expect(fb.positionReads()).toBe(readsAtStart + 2))
    fb.store(3)
    hub.checkQuiet(60_000, Date.now() + 180_000)
    expect(await pair.received(3)).toEqual([eventFrame(1), eventFrame(2), eventFrame(3)])
    expect(stats.liveCopiesMissed).toBe(3)
  })
})

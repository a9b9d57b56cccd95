/**
 * The Bus contract as tests: every implementation runs `busContract(makeBus)` (MemoryBus in the
 * unit run, NatsBus on a real nats-server in the integration run). The comments in types.ts are
 * the prose; this file is what keeps the two implementations from drifting apart.
 */
import { decodeFrame, type ChatFrame, type EventFrame } from '@touchline/protocol'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BusUnavailableError, IdempotencyConflictError, MatchExistsError, UnknownMatchError } from './errors.ts'
import type { Bus, ChatRecord, ControlMessage, LiveChat, LiveEvent, MatchMeta, RetentionOptions, StoredEvent } from './types.ts'
import { matchView } from './view.ts'

export interface ContractBusOptions {
  retention?: RetentionOptions
}

export interface ContractBus {
  bus: Bus
  /**
   * A second, independent instance on the same storage (another connection, as another replica
   * would have). Without it the contract uses `bus` for both sides.
   */
  peer?: () => Promise<Bus>
  restart?: () => Promise<void>
  cleanup: () => Promise<void>
}

export type MakeBus = (options: ContractBusOptions) => Promise<ContractBus>

let counter = 0
function newMeta(id = `m${Date.now().toString(36)}${++counter}`): MatchMeta {
  return { id, title: 'Home v Away', home: 'Home', away: 'Away', startsAt: '2026-05-01T18:00:00.000Z', createdAt: new Date().toISOString() }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8')

export function busContract(makeBus: MakeBus): void {
  describe('bus contract', () => {
    let ctx: ContractBus
    let bus: Bus
    const extra: Bus[] = []

    beforeEach(async () => {
      ctx = await makeBus({})
      bus = ctx.bus
    })

    afterEach(async () => {
      for (const b of extra.splice(0)) await b.close()
      await ctx.cleanup()
    })

    const peer = async (): Promise<Bus> => {
      if (!ctx.peer) return bus
      const b = await ctx.peer()
      extra.push(b)
      return b
    }

    describe('matches', () => {
      it('creates, reads and lists matches; a taken id throws MatchExistsError', async () => {
        expect(await bus.listMatches()).toEqual([])
        const meta = newMeta()
        const rec = await bus.createMatch(meta)
        expect(rec.meta).toEqual(meta)
        expect(rec.board.seq).toBe(0)
        expect((await bus.getMatch(meta.id))?.meta).toEqual(meta)
        expect(await bus.getMatch('nope-never')).toBeNull()
        await expect(bus.createMatch(meta)).rejects.toBeInstanceOf(MatchExistsError)
        const other = newMeta()
        await bus.createMatch(other)
        const ids = (await bus.listMatches()).map((m) => m.meta.id)
        expect(ids).toEqual(expect.arrayContaining([meta.id, other.id]))
        expect(bus.status().type).toBe('connected')
      })

      it('updateMatch is a compare-and-set: concurrent updates are all applied', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        const b2 = await peer()
        const writers = Array.from({ length: 12 }, (_, i) =>
          (i % 2 ? b2 : bus).updateMatch(meta.id, (cur) => ({ ...cur, meta: { ...cur.meta, title: `${cur.meta.title}x` } })),
        )
        await Promise.all(writers)
        expect((await bus.getMatch(meta.id))?.meta.title).toBe(`${meta.title}${'x'.repeat(12)}`)
        const same = await bus.updateMatch(meta.id, () => null)
        expect(same.meta.title).toBe(`${meta.title}${'x'.repeat(12)}`)
        await expect(bus.updateMatch('nope-never', (c) => c)).rejects.toBeInstanceOf(UnknownMatchError)
        const mine = new RangeError('from the updater')
        await expect(
          bus.updateMatch(meta.id, () => {
            throw mine
          }),
        ).rejects.toBe(mine)
      })
    })

    describe('event log', () => {
      it('gives seqs 1..N without holes under 8 concurrent publishers on two instances', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        const b2 = await peer()
        const perWriter = 10
        const results = await Promise.all(
          Array.from({ length: 8 }, async (_, w) => {
            const target = w % 2 ? b2 : bus
            const seqs: number[] = []
            for (let i = 0; i < perWriter; i++) {
              const r = await target.appendEvent(meta.id, { kind: 'commentary', data: { text: `w${w} #${i}` } })
              expect(r.duplicate).toBe(false)
              seqs.push(r.event.seq)
            }
            return seqs
          }),
        )
        const n = 8 * perWriter
        const all = results.flat().sort((a, b) => a - b)
        expect(all).toEqual(Array.from({ length: n }, (_, i) => i + 1))
        // each writer saw its own seqs increase
        for (const seqs of results) expect([...seqs].sort((a, b) => a - b)).toEqual(seqs)
        const read = await bus.readEvents(meta.id, 0, 1000)
        expect(read.events.map((e) => e.seq)).toEqual(all)
        expect(read.lastSeq).toBe(n)
        expect(read.firstSeq).toBe(1)
        for (const e of read.events) {
          const f = decodeFrame<EventFrame>(e.frame)
          expect(f).toMatchObject({ type: 'event', matchId: meta.id, seq: e.seq, kind: 'commentary', at: e.at })
          expect(f.data).toEqual(e.data)
        }
        // every writer's texts are there exactly once
        const texts = read.events.map((e) => e.data.text).sort()
        expect(new Set(texts).size).toBe(n)
      })

      it('readEvents returns exactly the events after a seq, in order, with limit and positions', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        const empty = await bus.readEvents(meta.id, 0, 10)
        expect(empty).toMatchObject({ events: [], firstSeq: 0, lastSeq: 0 })
        expect(typeof empty.epoch).toBe('string')
        expect(empty.epoch.length).toBeGreaterThan(0)
        const stored: StoredEvent[] = []
        for (let i = 1; i <= 30; i++) {
          const r = await bus.appendEvent(meta.id, {
            kind: 'commentary',
            data: { text: `e${i}`, minute: i },
            acceptedAt: 1_700_000_000_000 + i,
          })
          expect(r.event.seq).toBe(i)
          expect(r.event.acceptedAt).toBe(1_700_000_000_000 + i)
          expect(r.event.at).toBe(new Date(1_700_000_000_000 + i).toISOString())
          stored.push(r.event)
        }
        const r1 = await bus.readEvents(meta.id, 10, 5)
        expect(r1.events.map((e) => e.seq)).toEqual([11, 12, 13, 14, 15])
        expect(r1).toMatchObject({ firstSeq: 1, lastSeq: 30, epoch: empty.epoch })
        expect(r1.events.map((e) => e.data.text)).toEqual(['e11', 'e12', 'e13', 'e14', 'e15'])
        expect(text(r1.events[0]!.frame)).toBe(text(stored[10]!.frame))
        expect(r1.events[0]!.acceptedAt).toBe(stored[10]!.acceptedAt)
        expect((await bus.readEvents(meta.id, 25, 100)).events.map((e) => e.seq)).toEqual([26, 27, 28, 29, 30])
        expect((await bus.readEvents(meta.id, 30, 100)).events).toEqual([])
        expect((await bus.readEvents(meta.id, 99, 100)).events).toEqual([])
        expect((await bus.readEvents(meta.id, 0, 1)).events.map((e) => e.seq)).toEqual([1])
        expect((await bus.readEvents(meta.id, 0, 100)).events).toHaveLength(30)
        expect(await bus.logPosition(meta.id)).toEqual({ firstSeq: 1, lastSeq: 30, epoch: empty.epoch })
        // other matches' logs are separate
        const other = newMeta()
        await bus.createMatch(other)
        expect((await bus.appendEvent(other.id, { kind: 'goal', data: { score: { home: 1, away: 0 } } })).event.seq).toBe(1)
        expect((await bus.readEvents(meta.id, 29, 10)).events.map((e) => e.seq)).toEqual([30])
      })

      it('an idempotency key stores once and returns the first event as a duplicate', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        const b2 = await peer()
        const ev = { kind: 'goal', data: { text: 'Goal!', score: { home: 1, away: 0 } } }
        const first = await bus.appendEvent(meta.id, ev, { idempotencyKey: 'k-1' })
        expect(first.duplicate).toBe(false)
        const again = await bus.appendEvent(meta.id, ev, { idempotencyKey: 'k-1' })
        expect(again.duplicate).toBe(true)
        expect(again.event.seq).toBe(first.event.seq)
        expect(text(again.event.frame)).toBe(text(first.event.frame))
        const fromPeer = await b2.appendEvent(meta.id, ev, { idempotencyKey: 'k-1' })
        expect(fromPeer).toMatchObject({ duplicate: true, event: { seq: first.event.seq } })
        await expect(bus.appendEvent(meta.id, { kind: 'goal', data: { text: 'other' } }, { idempotencyKey: 'k-1' })).rejects.toBeInstanceOf(
          IdempotencyConflictError,
        )
        // the same key on another match is another event
        const other = newMeta()
        await bus.createMatch(other)
        expect((await bus.appendEvent(other.id, ev, { idempotencyKey: 'k-1' })).duplicate).toBe(false)
        // concurrent retries with one key: one event
        const racing = await Promise.all(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? b2 : bus).appendEvent(meta.id, { kind: 'commentary', data: { text: 'r' } }, { idempotencyKey: 'k-2' }),
          ),
        )
        expect(new Set(racing.map((r) => r.event.seq)).size).toBe(1)
        expect(racing.filter((r) => !r.duplicate).length).toBeLessThanOrEqual(1)
        const log = await bus.readEvents(meta.id, 0, 100)
        expect(log.events.map((e) => e.seq)).toEqual([1, 2])
        expect(log.lastSeq).toBe(2)
      })

      it('unknown matches throw UnknownMatchError', async () => {
        await expect(bus.appendEvent('nope-never', { kind: 'commentary', data: {} })).rejects.toBeInstanceOf(UnknownMatchError)
        await expect(bus.readEvents('nope-never', 0, 10)).rejects.toBeInstanceOf(UnknownMatchError)
        await expect(bus.logPosition('nope-never')).rejects.toBeInstanceOf(UnknownMatchError)
        await expect(bus.appendChat('nope-never', { user: { id: 'u', name: 'U' }, text: 'hi' })).rejects.toBeInstanceOf(UnknownMatchError)
        await expect(bus.recentChat('nope-never', 10)).rejects.toBeInstanceOf(UnknownMatchError)
        await expect(bus.deleteChat('nope-never', '1')).rejects.toBeInstanceOf(UnknownMatchError)
      })

      it('folds events into the board in seq order', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        const b2 = await peer()
        await bus.appendEvent(meta.id, { kind: 'period', data: { period: '1H', minute: 0 } })
        await Promise.all([
          bus.appendEvent(meta.id, { kind: 'goal', data: { score: { home: 1, away: 0 }, minute: 12 } }),
          b2.appendEvent(meta.id, { kind: 'commentary', data: { text: 'close' } }),
        ])
        const last = await b2.appendEvent(meta.id, { kind: 'goal', data: { score: { home: 1, away: 1 }, minute: 40 } })
        await vi.waitFor(async () => expect((await bus.getMatch(meta.id))?.board.seq).toBe(last.event.seq), { timeout: 5000 })
        const rec = (await bus.getMatch(meta.id))!
        const view = matchView(rec, last.event.seq)
        expect(view).toMatchObject({ id: meta.id, title: meta.title, seq: 4, scoreboard: { home: 1, away: 1, period: '1H', minute: 40 } })
      })

      it('live subscribers receive the stored bytes in order; a throwing subscriber does not stop others', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        const got: LiveEvent[] = []
        const bad = bus.subscribeEvents(meta.id, () => {
          throw new Error('subscriber bug (expected in this test)')
        })
        const sub = bus.subscribeEvents(meta.id, (e) => got.push(e))
        const other: LiveEvent[] = []
        const otherSub = bus.subscribeEvents('another-match', (e) => other.push(e))
        const errors = vi.spyOn(console, 'error').mockImplementation(() => {})
        try {
          await sleep(50) // let a networked bus register the subscriptions
          const stored: StoredEvent[] = []
          for (let i = 0; i < 5; i++) stored.push((await bus.appendEvent(meta.id, { kind: 'commentary', data: { text: `t${i}` } })).event)
          await vi.waitFor(() => expect(got).toHaveLength(5), { timeout: 5000 })
          expect(got.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5])
          got.forEach((e, i) => {
            expect(e.matchId).toBe(meta.id)
            expect(text(e.frame)).toBe(text(stored[i]!.frame))
            expect(e.acceptedAt).toBe(stored[i]!.acceptedAt)
          })
          sub.unsubscribe()
          await bus.appendEvent(meta.id, { kind: 'commentary', data: { text: 'after' } })
          await sleep(100)
          expect(got).toHaveLength(5)
          expect(other).toHaveLength(0)
        } finally {
          bad.unsubscribe()
          otherSub.unsubscribe()
          errors.mockRestore()
        }
      })

      it('retention drops the oldest events: firstSeq moves, seqs continue', async () => {
        const small = await makeBus({ retention: { maxEventsPerMatch: 5 } })
        try {
          const b = small.bus
          const meta = newMeta()
          await b.createMatch(meta)
          for (let i = 1; i <= 12; i++) await b.appendEvent(meta.id, { kind: 'commentary', data: { text: `e${i}` } })
          const read = await b.readEvents(meta.id, 0, 100)
          expect(read.firstSeq).toBe(8)
          expect(read.lastSeq).toBe(12)
          expect(read.events.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12])
          expect((await b.readEvents(meta.id, 9, 100)).events.map((e) => e.seq)).toEqual([10, 11, 12])
          expect(await b.logPosition(meta.id)).toMatchObject({ firstSeq: 8, lastSeq: 12 })
          expect((await b.appendEvent(meta.id, { kind: 'commentary', data: {} })).event.seq).toBe(13)
        } finally {
          await small.cleanup()
        }
      })
    })

    describe('status', () => {
      it('is connected while open; after close() it is closed and calls reject with BusUnavailableError', async () => {
        const own = await makeBus({})
        const seen: string[] = []
        own.bus.onStatus((s) => seen.push(s.type))
        expect(own.bus.status().type).toBe('connected')
        const meta = newMeta()
        await own.bus.createMatch(meta)
        await own.bus.close()
        expect(own.bus.status().type).toBe('closed')
        expect(seen).toContain('closed')
        await expect(own.bus.appendEvent(meta.id, { kind: 'commentary', data: {} })).rejects.toBeInstanceOf(BusUnavailableError)
        await expect(own.bus.getMatch(meta.id)).rejects.toBeInstanceOf(BusUnavailableError)
        await own.cleanup()
      })
    })

    describe('chat', () => {
      it('appends, lists the newest oldest-first, deletes', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        const user = { id: 'u1', name: 'Ann' }
        const live: LiveChat[] = []
        const sub = bus.subscribeChat(meta.id, (c) => live.push(c))
        await sleep(50)
        const recs: ChatRecord[] = []
        for (let i = 1; i <= 4; i++) recs.push(await bus.appendChat(meta.id, { user, text: `hello ${i}` }))
        const ids = recs.map((r) => Number(r.id))
        expect(ids.every((n) => Number.isInteger(n))).toBe(true)
        expect([...ids].sort((a, b) => a - b)).toEqual(ids)
        expect(new Set(ids).size).toBe(4)
        const f = decodeFrame<ChatFrame>(recs[0]!.frame)
        expect(f).toEqual({ type: 'chat', matchId: meta.id, id: recs[0]!.id, user, text: 'hello 1', at: recs[0]!.at })

        const recent = await bus.recentChat(meta.id, 3)
        expect(recent.map((c) => c.text)).toEqual(['hello 2', 'hello 3', 'hello 4'])
        expect(text(recent[0]!.frame)).toBe(text(recs[1]!.frame))

        expect(await bus.deleteChat(meta.id, recs[2]!.id)).toBe(true)
        expect(await bus.deleteChat(meta.id, recs[2]!.id)).toBe(false)
        expect(await bus.deleteChat(meta.id, '999999')).toBe(false)
        expect((await bus.recentChat(meta.id, 3)).map((c) => c.text)).toEqual(['hello 1', 'hello 2', 'hello 4'])
        expect((await bus.recentChat(meta.id, 10)).map((c) => c.id)).toEqual([recs[0]!.id, recs[1]!.id, recs[3]!.id])

        // a chat id of one match does not delete another match's message
        const other = newMeta()
        await bus.createMatch(other)
        expect(await bus.deleteChat(other.id, recs[0]!.id)).toBe(false)
        expect(await bus.recentChat(other.id, 10)).toEqual([])

        await vi.waitFor(() => expect(live).toHaveLength(4), { timeout: 5000 })
        expect(live.map((c) => c.id)).toEqual(recs.map((r) => r.id))
        expect(text(live[3]!.frame)).toBe(text(recs[3]!.frame))
        sub.unsubscribe()
      })
    })

    describe('moderation and settings', () => {
      it('control messages reach subscribers', async () => {
        const got: ControlMessage[] = []
        const b2 = await peer()
        const sub = b2.subscribeControl((m) => got.push(m))
        await sleep(50)
        const msgs: ControlMessage[] = [
          { type: 'chat_deleted', matchId: 'm1', id: '7' },
          { type: 'mute', matchId: 'm1', userId: 'u1', until: Date.now() + 1000 },
          { type: 'settings_changed', key: 'bannedWords' },
        ]
        for (const m of msgs) await bus.publishControl(m)
        await vi.waitFor(() => expect(got).toEqual(msgs), { timeout: 5000 })
        sub.unsubscribe()
      })

      it('mutes expire; a time in the past unmutes', async () => {
        const meta = newMeta()
        await bus.createMatch(meta)
        expect(await bus.getMute(meta.id, 'u1')).toBeNull()
        const until = Date.now() + 700
        await bus.setMute(meta.id, 'u1', until)
        expect(await bus.getMute(meta.id, 'u1')).toBe(until)
        expect(await bus.getMute(meta.id, 'u2')).toBeNull()
        expect(await bus.getMute('elsewhere', 'u1')).toBeNull()
        await bus.setMute(meta.id, 'odd user/id.with*chars', Date.now() + 60_000)
        expect(await bus.getMute(meta.id, 'odd user/id.with*chars')).not.toBeNull()
        await bus.setMute(meta.id, 'odd user/id.with*chars', Date.now() - 1)
        expect(await bus.getMute(meta.id, 'odd user/id.with*chars')).toBeNull()
        await sleep(800)
        expect(await bus.getMute(meta.id, 'u1')).toBeNull()
      })

      it('stores settings as JSON values', async () => {
        expect(await bus.getSetting('bannedWords')).toBeNull()
        await bus.putSetting('bannedWords', ['foo', 'bar'])
        expect(await bus.getSetting<string[]>('bannedWords')).toEqual(['foo', 'bar'])
        await bus.putSetting('bannedWords', { list: [] })
        expect(await bus.getSetting('bannedWords')).toEqual({ list: [] })
        await bus.putSetting('chat.slow mode', 5)
        expect(await bus.getSetting('chat.slow mode')).toBe(5)
        const b2 = await peer()
        expect(await b2.getSetting('chat.slow mode')).toBe(5)
      })
    })
  })
}

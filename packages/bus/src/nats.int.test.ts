import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect, headers as natsHeaders } from '@nats-io/transport-node'
import { hash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { freePort, startNats, startProcess, tempDir, waitFor, canConnect, type NatsServer } from '@touchline/testkit'
import { encodeEventFrame, newIdempotencyKey } from '@touchline/protocol'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { busContract } from './contract.ts'
import { eventFingerprint } from './util.ts'
import { BusUnavailableError, IdempotencyConflictError } from './errors.ts'
import { cheapRequestCleanup, coalesceWrites, connectNatsBus, type NatsBus, type NatsBusOptions } from './nats.ts'
import type { Bus, MatchMeta } from './types.ts'

let server: NatsServer
let n = 0
const freshPrefix = () => `t${process.pid}x${Date.now().toString(36)}x${++n}`

beforeAll(async () => {
  server = await startNats()
})
afterAll(async () => {
  await server?.stop()
})

const meta = (id: string): MatchMeta => ({
  id,
  title: 'A v B',
  home: 'A',
  away: 'B',
  startsAt: '2026-05-01T18:00:00.000Z',
  createdAt: '2026-05-01T10:00:00.000Z',
})

async function open(opts: Partial<NatsBusOptions> & { prefix: string }): Promise<NatsBus> {
  return connectNatsBus({ servers: [server.url], timeoutMs: 2000, ...opts })
}

busContract(async ({ retention }) => {
  const prefix = freshPrefix()
  const bus = await open({ prefix, retention })
  const peers: Bus[] = []
  return {
    bus,
    peer: async () => {
      const b = await open({ prefix, retention })
      peers.push(b)
      return b
    },
    cleanup: async () => {
      await bus.close()
      for (const p of peers) await p.close()
    },
  }
})

/**
 * Wait until the match's board has folded `seq`. Once the events stream is gone the board is the
 * only record of how far a match's seqs went, and it is written after appendEvent resolves (within
 * boardIntervalMs): the stream-deletion tests delete only after it caught up, so they check the
 * position cache (ABA) and the re-creation, not a deletion inside that moment (docs: bus README).
 */
async function boardCaughtUp(bus: NatsBus, matchId: string, seq: number): Promise<void> {
  await vi.waitFor(async () => expect((await bus.getMatch(matchId))?.board.seq).toBe(seq), { timeout: 5000, interval: 20 })
}
describe('NatsBus on a real nats-server', () => {
  it('reads near the end of a long log in a few round trips', async () => {
    const prefix = freshPrefix()
    const bus = await open({ prefix, timeoutMs: 10_000 })
    try {
      await bus.createMatch(meta('long'))
      await bus.createMatch(meta('other'))
      // Interleave two matches so the stream seqs of one match are not contiguous.
      for (let i = 0; i < 1500; i++) {
        await bus.appendEvent('long', { kind: 'commentary', data: { text: `l${i}` } })
        if (i % 3 === 0) await bus.appendEvent('other', { kind: 'commentary', data: { text: `o${i}` } })
      }
      const t0 = performance.now()
      const r = await bus.readEvents('long', 1490, 100)
      const ms = performance.now() - t0
      expect(r.events.map((e) => e.seq)).toEqual([1491, 1492, 1493, 1494, 1495, 1496, 1497, 1498, 1499, 1500])
      expect(r).toMatchObject({ firstSeq: 1, lastSeq: 1500 })
      expect(ms).toBeLessThan(2000)
      const mid = await bus.readEvents('long', 700, 50)
      expect(mid.events.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => 701 + i))
      expect(mid.events[0]?.data.text).toBe('l700')
      const o = await bus.readEvents('other', 100, 3)
      expect(o.events.map((e) => e.data.text)).toEqual(['o300', 'o303', 'o306'])
    } finally {
      await bus.close()
    }
  })

  it('keeps acknowledged events across a nats-server SIGKILL and start', async () => {
    const own = await startNats()
    const bus = await connectNatsBus({ servers: [own.url], prefix: freshPrefix(), timeoutMs: 2000 })
    try {
      await bus.createMatch(meta('crash'))
      const before = await bus.logPosition('crash')
      for (let i = 1; i <= 20; i++)
        await bus.appendEvent('crash', { kind: 'commentary', data: { text: `c${i}` } }, { idempotencyKey: `k${i}` })
      await own.kill()
      await own.start()
      await waitConnected(bus)
      const r = await bus.readEvents('crash', 0, 100)
      expect(r.events.map((e) => e.data.text)).toEqual(Array.from({ length: 20 }, (_, i) => `c${i + 1}`))
      expect(r.epoch).toBe(before.epoch)
      expect((await bus.appendEvent('crash', { kind: 'commentary', data: { text: 'c1' } }, { idempotencyKey: 'k1' })).duplicate).toBe(true)
      expect((await bus.appendEvent('crash', { kind: 'commentary', data: {} })).event.seq).toBe(21)
      // The board is written after the append resolves (and a fold cut off by the kill is caught up by the next).
      await vi.waitFor(async () => expect((await bus.getMatch('crash'))?.board.seq).toBe(21), { timeout: 5000 })
    } finally {
      await bus.close()
      await own.stop()
    }
  })

  it('rejects appends during an outage within the timeout and works again after restart, same bus', async () => {
    const own = await startNats()
    const bus = await connectNatsBus({ servers: [own.url], prefix: freshPrefix(), timeoutMs: 800 })
    const statuses: string[] = []
    bus.onStatus((s) => statuses.push(s.type))
    try {
      await bus.createMatch(meta('out'))
      await bus.appendEvent('out', { kind: 'commentary', data: { text: 'before' } })
      await own.stop()
      const t0 = Date.now()
      await expect(bus.appendEvent('out', { kind: 'commentary', data: { text: 'during' } })).rejects.toBeInstanceOf(BusUnavailableError)
      await expect(bus.readEvents('out', 0, 10)).rejects.toBeInstanceOf(BusUnavailableError)
      await expect(bus.getMatch('out')).rejects.toBeInstanceOf(BusUnavailableError)
      expect(Date.now() - t0).toBeLessThan(5000 * 3)
      expect(bus.status().type).toBe('reconnecting')
      await own.start()
      await waitConnected(bus)
      const r = await bus.appendEvent('out', { kind: 'commentary', data: { text: 'after' } })
      expect(r.event.seq).toBe(2)
      const log = await bus.readEvents('out', 0, 10)
      expect(log.events.map((e) => e.data.text)).toEqual(['before', 'after'])
      expect(statuses).toContain('reconnecting')
      expect(statuses.at(-1)).toBe('connected')
    } finally {
      await bus.close()
      await own.stop()
    }
  })

  it('each call rejects within 5 s while NATS is down', async () => {
    const own = await startNats()
    const bus = await connectNatsBus({ servers: [own.url], prefix: freshPrefix(), timeoutMs: 500 })
    try {
      await bus.createMatch(meta('down'))
      await own.stop()
      const calls: Array<() => Promise<unknown>> = [
        () => bus.appendEvent('down', { kind: 'commentary', data: {} }),
        () => bus.appendChat('down', { user: { id: 'u', name: 'U' }, text: 'hi' }),
        () => bus.recentChat('down', 10),
        () => bus.logPosition('down'),
        () => bus.listMatches(),
        () => bus.publishControl({ type: 'settings_changed', key: 'x' }),
        () => bus.setMute('down', 'u', Date.now() + 1000),
        () => bus.getSetting('x'),
      ]
      for (const call of calls) {
        const t0 = Date.now()
        await expect(call()).rejects.toBeInstanceOf(BusUnavailableError)
        expect(Date.now() - t0).toBeLessThan(5000)
      }
    } finally {
      await bus.close()
      await own.stop()
    }
  })

  it('two instances on one prefix never produce duplicate seqs', async () => {
    const prefix = freshPrefix()
    const a = await open({ prefix })
    const b = await open({ prefix })
    try {
      await a.createMatch(meta('dup'))
      const all = await Promise.all(
        Array.from({ length: 16 }, async (_, w) => {
          const bus = w % 2 ? a : b
          const seqs: number[] = []
          for (let i = 0; i < 8; i++) seqs.push((await bus.appendEvent('dup', { kind: 'commentary', data: { w, i } })).event.seq)
          return seqs
        }),
      )
      const seqs = all.flat().sort((x, y) => x - y)
      expect(seqs).toEqual(Array.from({ length: 128 }, (_, i) => i + 1))
      const log = await b.readEvents('dup', 0, 1000)
      expect(log.events.map((e) => e.seq)).toEqual(seqs)
      await vi.waitFor(async () => expect((await a.getMatch('dup'))?.board.seq).toBe(128), { timeout: 5000 })
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('concurrent appends of one match on two instances: the board folds every event once, in seq order', async () => {
    const prefix = freshPrefix()
    const a = await open({ prefix })
    const b = await open({ prefix })
    try {
      await a.createMatch(meta('board'))
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          (i % 3 === 2 ? b : a).appendEvent('board', { kind: 'goal', data: { score: { home: i, away: 0 }, minute: i } }),
        ),
      )
      const bySeq = new Map(results.map((r) => [r.event.seq, r.event.data.score?.home]))
      expect([...bySeq.keys()].sort((x, y) => x - y)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
      for (const bus of [a, b]) {
        await vi.waitFor(async () => expect((await bus.getMatch('board'))?.board.seq).toBe(60), { timeout: 5000 })
        const board = (await bus.getMatch('board'))?.board
        expect(board?.entries.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1))
        expect(board?.entries.map((e) => e.score?.home)).toEqual(Array.from({ length: 60 }, (_, i) => bySeq.get(i + 1)))
      }
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('board writes of a match are coalesced within boardIntervalMs; close() writes what is pending', async () => {
    const prefix = freshPrefix()
    const bus = await open({ prefix, boardIntervalMs: 5000 })
    const admin = await connect({ servers: [server.url] })
    const jsm = await jetstreamManager(admin)
    // Every write of the bucket (create, each board update) is one message of its stream.
    const writes = async () => (await jsm.streams.info(`KV_${bus.names.matchesBucket}`)).state.last_seq
    let created = 0
    try {
      await bus.createMatch(meta('coalesce'))
      created = await writes()
      // The first event after a quiet spell is folded at once...
      await bus.appendEvent('coalesce', { kind: 'period', data: { period: '1H', minute: 0 } })
      await vi.waitFor(async () => expect((await bus.getMatch('coalesce'))?.board.seq).toBe(1), { timeout: 2000 })
      // ...the next ones wait for the interval: appends resolve without a board write each.
      for (let i = 1; i <= 5; i++) await bus.appendEvent('coalesce', { kind: 'goal', data: { score: { home: i, away: 0 }, minute: i } })
      expect((await bus.getMatch('coalesce'))?.board.seq).toBe(1)
      expect(await writes()).toBe(created + 1)
    } finally {
      await bus.close()
    }
    // close() did not leave them behind: one more write covering all five.
    expect(await writes()).toBe(created + 2)
    await admin.close()
    const again = await open({ prefix })
    try {
      const rec = await again.getMatch('coalesce')
      expect(rec?.board.seq).toBe(6)
      expect(rec?.board.entries.map((e) => e.score?.home ?? null)).toEqual([null, 1, 2, 3, 4, 5])
    } finally {
      await again.close()
    }
  })

  it('the idempotency record is written after the append resolves and kept by close(): a retry after the duplicate window is still a duplicate', async () => {
    const prefix = freshPrefix()
    const bus = await open({ prefix, duplicateWindowMs: 200 })
    await bus.createMatch(meta('idem'))
    const first = await bus.appendEvent('idem', { kind: 'goal', data: { score: { home: 1, away: 0 } } }, { idempotencyKey: 'late-retry' })
    await bus.close()
    await new Promise((r) => setTimeout(r, 400))
    const again = await open({ prefix, duplicateWindowMs: 200 })
    try {
      const retry = await again.appendEvent(
        'idem',
        { kind: 'goal', data: { score: { home: 1, away: 0 } } },
        { idempotencyKey: 'late-retry' },
      )
      expect(retry).toMatchObject({ duplicate: true, event: { seq: first.event.seq, data: { score: { home: 1, away: 0 } } } })
      expect((await again.logPosition('idem')).lastSeq).toBe(1)
      // The same key with a different event, after the window: the record (a digest of the first
      // event's fingerprint, not the event again) still tells them apart.
      await expect(
        again.appendEvent('idem', { kind: 'goal', data: { score: { home: 2, away: 0 } } }, { idempotencyKey: 'late-retry' }),
      ).rejects.toBeInstanceOf(IdempotencyConflictError)
      const nc = await connect({ servers: [server.url] })
      try {
        const kv = await new Kvm(nc).open(again.names.idempotencyBucket)
        const keys: string[] = []
        for await (const k of await kv.keys()) keys.push(k)
        expect(keys).toHaveLength(1)
        const key = keys[0] as string
        const rec = (await kv.get(key))?.json<{ fp: string }>()
        expect(rec?.fp).toMatch(/^[A-Za-z0-9_-]{43}$/)
        // A record written before the digest (its fp the fingerprint JSON itself) still answers.
        await kv.put(key, JSON.stringify({ ...rec, fp: eventFingerprint('goal', { score: { home: 1, away: 0 } }) }))
        const old = await again.appendEvent(
          'idem',
          { kind: 'goal', data: { score: { home: 1, away: 0 } } },
          { idempotencyKey: 'late-retry' },
        )
        expect(old).toMatchObject({ duplicate: true, event: { seq: first.event.seq } })
      } finally {
        await nc.close()
      }
    } finally {
      await again.close()
    }
  })

  it('an event stored by a process that died before its live copy and record left: a retry in the window sends both, so a retry after it is still a duplicate', async () => {
    const prefix = freshPrefix()
    const bus = await open({ prefix, duplicateWindowMs: 1500 })
    const nc = await connect({ servers: [server.url] })
    try {
      await bus.createMatch(meta('died'))
      const live: number[] = []
      const sub = bus.subscribeEvents('died', (e) => live.push(e.seq))
      // All the dead process got done: the event stored as the bus stores it (README, "NATS
      // layout": body = the frame, Tl-Seq, Tl-At, Nats-Msg-Id = <match>:<sha256(key)>).
      const data = { score: { home: 1, away: 0 } }
      const h = natsHeaders()
      h.append('Tl-Seq', '1')
      h.append('Tl-At', String(Date.now()))
      const frame = encodeEventFrame({ matchId: 'died', seq: 1, kind: 'goal', at: new Date().toISOString(), data })
      await jetstream(nc).publish(bus.names.eventLog('died'), frame, { headers: h, msgID: `died:${hash('sha256', 'k-died', 'base64url')}` })

      const retry = await bus.appendEvent('died', { kind: 'goal', data }, { idempotencyKey: 'k-died' })
      expect(retry).toMatchObject({ duplicate: true, event: { seq: 1 } })
      await vi.waitFor(() => expect(live).toEqual([1]), { timeout: 3000 })
      sub.unsubscribe()
      await new Promise((r) => setTimeout(r, 1700)) // past the duplicate window
      const late = await bus.appendEvent('died', { kind: 'goal', data }, { idempotencyKey: 'k-died' })
      expect(late).toMatchObject({ duplicate: true, event: { seq: 1 } })
      expect((await bus.logPosition('died')).lastSeq).toBe(1)
    } finally {
      await nc.close()
      await bus.close()
    }
  })

  it('a UUIDv7 key made within the duplicate window skips the record lookup and is still exactly once; an older one is looked up', async () => {
    const prefix = freshPrefix()
    const bus = await open({ prefix, duplicateWindowMs: 1200 }) // fresh: made at most 800 ms ago
    const spy = await connect({ servers: [server.url] })
    // A second connection sees every direct get of the idempotency bucket (core NATS fan-out).
    let lookups = 0
    spy.subscribe(`$JS.API.DIRECT.GET.KV_${bus.names.idempotencyBucket}.>`, {
      callback: () => {
        lookups++
      },
    })
    await spy.flush()
    const seen = async () => {
      await spy.flush()
      await new Promise((r) => setTimeout(r, 50))
      return lookups
    }
    try {
      await bus.createMatch(meta('v7'))
      const goal = { kind: 'goal', data: { score: { home: 1, away: 0 } } }
      const fresh = newIdempotencyKey()
      const first = await bus.appendEvent('v7', goal, { idempotencyKey: fresh })
      const again = await bus.appendEvent('v7', goal, { idempotencyKey: fresh })
      expect(again).toMatchObject({ duplicate: true, event: { seq: first.event.seq } })
      await expect(
        bus.appendEvent('v7', { kind: 'goal', data: { score: { home: 2, away: 0 } } }, { idempotencyKey: fresh }),
      ).rejects.toBeInstanceOf(IdempotencyConflictError)
      expect(await seen()).toBe(0)
      // An opaque key, and a UUIDv7 made before the window, are looked up.
      await bus.appendEvent('v7', { kind: 'commentary', data: { text: 'a' } }, { idempotencyKey: 'opaque-1' })
      expect(await seen()).toBe(1)
      await bus.appendEvent('v7', { kind: 'commentary', data: { text: 'b' } }, { idempotencyKey: newIdempotencyKey(Date.now() - 5000) })
      expect(await seen()).toBe(2)
      // The fresh key, retried after JetStream's window has passed: now it is looked up, and the
      // record answers.
      await new Promise((r) => setTimeout(r, 1400))
      const late = await bus.appendEvent('v7', goal, { idempotencyKey: fresh })
      expect(late).toMatchObject({ duplicate: true, event: { seq: first.event.seq } })
      expect(await seen()).toBe(3)
      expect((await bus.logPosition('v7')).lastSeq).toBe(3)
    } finally {
      await spy.close()
      await bus.close()
    }
  })

  it('re-creates a deleted events stream: appends work, seqs continue, the epoch changes', async () => {
    const prefix = freshPrefix()
    const bus = await open({ prefix })
    const admin = await connect({ servers: [server.url] })
    try {
      await bus.createMatch(meta('gone'))
      for (let i = 0; i < 3; i++) await bus.appendEvent('gone', { kind: 'commentary', data: { i } })
      const before = await bus.logPosition('gone')
      const jsm = await jetstreamManager(admin)
      await boardCaughtUp(bus, 'gone', 3)
      await jsm.streams.delete(bus.names.eventsStream)
      const r = await bus.appendEvent('gone', { kind: 'commentary', data: { i: 3 } })
      expect(r.event.seq).toBe(4)
      const after = await bus.logPosition('gone')
      expect(after.epoch).not.toBe(before.epoch)
      expect(after).toMatchObject({ firstSeq: 4, lastSeq: 4 })
      expect((await bus.readEvents('gone', 0, 10)).events.map((e) => e.seq)).toEqual([4])

      // Re-created by another instance: this one continues the seqs and notices the new epoch.
      const other = await open({ prefix })
      try {
        await boardCaughtUp(bus, 'gone', 4)
        await jsm.streams.delete(bus.names.eventsStream)
        expect((await other.appendEvent('gone', { kind: 'commentary', data: { i: 4 } })).event.seq).toBe(5)
        expect((await bus.appendEvent('gone', { kind: 'commentary', data: { i: 5 } })).event.seq).toBe(6)
        expect((await bus.readEvents('gone', 0, 10)).events.map((e) => e.seq)).toEqual([5, 6])
        const epoch = (await other.logPosition('gone')).epoch
        expect(epoch).not.toBe(after.epoch)
        await vi.waitFor(async () => expect((await bus.logPosition('gone')).epoch).toBe(epoch), { timeout: 8000, interval: 200 })
      } finally {
        await other.close()
      }
    } finally {
      await admin.close()
      await bus.close()
    }
  })

  it('without stream advisories (subscription refused) caches nothing: a re-created stream still gets unique seqs', async () => {
    const dir = tempDir('nats-noadv')
    const port = await freePort()
    writeFileSync(
      join(dir, 'nats.conf'),
      `listen: 127.0.0.1:${port}\njetstream { store_dir: "${join(dir, 'js')}" }\n` +
        `authorization { users = [ { user: app, password: pw, permissions: { publish: ">", subscribe: { allow: ">", deny: "$JS.EVENT.>" } } } ] }\n` +
        `no_auth_user: app\n`,
    )
    const proc = startProcess('nats-server', ['-c', join(dir, 'nats.conf')])
    try {
      await waitFor('nats-server', async () => ((await canConnect(port)) ? true : undefined))
      const url = `nats://127.0.0.1:${port}`
      const prefix = freshPrefix()
      const bus = await connectNatsBus({ servers: [url], prefix, timeoutMs: 2000 })
      const other = await connectNatsBus({ servers: [url], prefix, timeoutMs: 2000 })
      const admin = await connect({ servers: [url] })
      try {
        const jsm = await jetstreamManager(admin)
        await bus.createMatch(meta('aba'))
        // Each time, bus's last append sits at the stream seq where other's last append lands in
        // the re-created stream: a cached position would pass the server's check (ABA).
        expect((await bus.appendEvent('aba', { kind: 'commentary', data: { i: 0 } })).event.seq).toBe(1)
        await boardCaughtUp(bus, 'aba', 1)
        await jsm.streams.delete(bus.names.eventsStream)
        expect((await other.appendEvent('aba', { kind: 'commentary', data: { i: 1 } })).event.seq).toBe(2)
        expect((await bus.appendEvent('aba', { kind: 'commentary', data: { i: 2 } })).event.seq).toBe(3)
        await boardCaughtUp(bus, 'aba', 3)
        await jsm.streams.delete(bus.names.eventsStream)
        expect((await other.appendEvent('aba', { kind: 'commentary', data: { i: 3 } })).event.seq).toBe(4)
        expect((await other.appendEvent('aba', { kind: 'commentary', data: { i: 4 } })).event.seq).toBe(5)
        expect((await bus.appendEvent('aba', { kind: 'commentary', data: { i: 5 } })).event.seq).toBe(6)
        expect((await bus.readEvents('aba', 0, 10)).events.map((e) => e.seq)).toEqual([4, 5, 6])
      } finally {
        await admin.close()
        await bus.close()
        await other.close()
      }
    } finally {
      await proc.stop()
    }
  })

  it('updates the stream limits when the configuration changes', async () => {
    const prefix = freshPrefix()
    const a = await open({ prefix, retention: { maxEventsPerMatch: 1000 } })
    const b = await open({ prefix, retention: { maxEventsPerMatch: 3 } })
    try {
      await b.createMatch(meta('lim'))
      for (let i = 0; i < 5; i++) await a.appendEvent('lim', { kind: 'commentary', data: { i } })
      expect(await b.logPosition('lim')).toMatchObject({ firstSeq: 3, lastSeq: 5 })
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('patches this nats.js version (coalesceWrites, cheapRequestCleanup find the internals they expect); requests behave as before', async () => {
    const nc = await connect({ servers: [server.url], noAsyncTraces: true })
    try {
      expect(coalesceWrites(nc)).toBe(true)
      expect(cheapRequestCleanup()).toBe(true)
      const sub = nc.subscribe('coalesce.echo', {
        callback: (_e, m) => {
          if (m.string() !== 'silent') m.respond(m.data)
        },
      })
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => nc.request('coalesce.echo', String(i), { timeout: 2000 })))
      expect(answers.map((m) => m.string())).toEqual(Array.from({ length: 20 }, (_, i) => String(i)))
      await expect(nc.request('coalesce.echo', 'silent', { timeout: 200 })).rejects.toMatchObject({ name: 'TimeoutError' })
      await expect(nc.request('coalesce.nobody', 'x', { timeout: 2000 })).rejects.toMatchObject({ name: 'RequestError' })
      expect((await nc.request('coalesce.echo', 'after', { timeout: 2000 })).string()).toBe('after')
      sub.unsubscribe()
      await nc.flush()
    } finally {
      await nc.close()
    }
  })

  it('fails fast with BusUnavailableError when no server answers at connect', async () => {
    await expect(connectNatsBus({ servers: ['nats://127.0.0.1:1'], timeoutMs: 500 })).rejects.toBeInstanceOf(BusUnavailableError)
  })
})

async function waitConnected(bus: Bus): Promise<void> {
  const deadline = Date.now() + 10_000
  while (bus.status().type !== 'connected') {
    if (Date.now() > deadline) throw new Error('bus did not reconnect')
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * The idempotency bucket's size bound (NatsBusOptions.idempotencyMaxBytes) on a real nats-server:
 * a full bucket drops its oldest records and never refuses a new one, a bucket made by an older
 * version is fixed up at start, and a bound the server cannot set aside stops the start.
 */
import { hash } from 'node:crypto'
import { DiscardPolicy, jetstreamManager, type JetStreamManager, StorageType } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import { names } from '@touchline/protocol'
import { startNats, type NatsServer } from '@touchline/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { IdempotencyBoundError, connectNatsBus, type NatsBus, type NatsBusOptions } from './nats.ts'
import type { MatchMeta } from './types.ts'
import { IDEMPOTENCY_TTL_MS } from './util.ts'

let server: NatsServer
let nc: NatsConnection
let jsm: JetStreamManager
let n = 0
const freshPrefix = () => `ib${process.pid}x${Date.now().toString(36)}x${++n}`
const KIB64 = 64 * 1024

beforeAll(async () => {
  server = await startNats()
  nc = await connect({ servers: [server.url] })
  jsm = await jetstreamManager(nc)
})
afterAll(async () => {
  await nc?.close()
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

function open(opts: Partial<NatsBusOptions> & { prefix: string }): Promise<NatsBus> {
  return connectNatsBus({ servers: [server.url], timeoutMs: 2000, ...opts })
}

const streamOf = (prefix: string) => `KV_${names(prefix).idempotencyBucket}`
/** The record key of a post's idempotency key (bus README, "NATS layout"): `<match>.<sha256(key)>`. */
const recordKey = (matchId: string, key: string) => `${matchId}.${hash('sha256', key, 'base64url')}`

/** The bucket as the versions before the bound made it: nats.js defaults (discard new, no max_bytes), 25 h. */
async function oldStyleBucket(prefix: string, records: number): Promise<void> {
  const kv = await new Kvm(nc).create(names(prefix).idempotencyBucket, {
    history: 1,
    storage: StorageType.File,
    replicas: 1,
    ttl: IDEMPOTENCY_TTL_MS + 3600_000,
  })
  for (let i = 0; i < records; i++) await kv.put(`m.r${i}`, JSON.stringify({ fp: 'x', frame: 'y'.repeat(500) }))
}

describe('the idempotency bucket bounded by size (idempotencyMaxBytes)', () => {
  it('a full bucket drops its oldest records, never a new one: appends go on, the stream stays within the bound, a late retry of a recent key is still a duplicate', async () => {
    const prefix = freshPrefix()
    const bus = await open({ prefix, duplicateWindowMs: 200, idempotencyMaxBytes: KIB64 })
    try {
      expect((await jsm.streams.info(streamOf(prefix))).config).toMatchObject({ max_bytes: KIB64, discard: DiscardPolicy.Old })
      await bus.createMatch(meta('full'))
      const post = (i: number) => ({ kind: 'commentary', data: { text: `${i} ${'x'.repeat(200)}` } })
      const POSTS = 400
      for (let i = 0; i < POSTS; i++) {
        const r = await bus.appendEvent('full', post(i), { idempotencyKey: `key-${i}` })
        expect(r).toMatchObject({ duplicate: false, event: { seq: i + 1 } })
      }
      // Records are published without an ack: wait until the stream has taken every one.
      const state = await vi.waitFor(
        async () => {
          const s = (await jsm.streams.info(streamOf(prefix))).state
          expect(s.last_seq).toBe(POSTS)
          return s
        },
        { timeout: 5000, interval: 20 },
      )
      expect(state.bytes).toBeLessThanOrEqual(KIB64)
      expect(state.messages).toBeLessThan(POSTS / 2)
      expect(state.first_seq).toBe(POSTS - state.messages + 1)
      const kv = await new Kvm(nc).open(names(prefix).idempotencyBucket)
      expect(await kv.get(recordKey('full', 'key-0'))).toBeNull()
      expect((await kv.get(recordKey('full', `key-${POSTS - 1}`)))?.json<{ streamSeq: number }>()).toMatchObject({ streamSeq: POSTS })

      // After JetStream's duplicate window only the records remember keys.
      await new Promise((r) => setTimeout(r, 400))
      const recent = await bus.appendEvent('full', post(POSTS - 1), { idempotencyKey: `key-${POSTS - 1}` })
      expect(recent).toMatchObject({ duplicate: true, event: { seq: POSTS } })
      // The price of the bound, as documented: the oldest key's record is gone, so its late retry
      // is stored again.
      const oldest = await bus.appendEvent('full', post(0), { idempotencyKey: 'key-0' })
      expect(oldest).toMatchObject({ duplicate: false, event: { seq: POSTS + 1 } })
      expect((await bus.logPosition('full')).lastSeq).toBe(POSTS + 1)
    } finally {
      await bus.close()
    }
  })

  it('a bucket made by an older version (discard new, no max_bytes) gets the bound and discard old at start, nothing else; a bus without the option leaves it be', async () => {
    const prefix = freshPrefix()
    await oldStyleBucket(prefix, 300)
    const before = await jsm.streams.info(streamOf(prefix))
    expect(before.config).toMatchObject({ discard: DiscardPolicy.New, max_bytes: -1 })
    expect(before.state.bytes).toBeGreaterThan(KIB64)

    const bus = await open({ prefix, idempotencyMaxBytes: KIB64 })
    try {
      const after = await jsm.streams.info(streamOf(prefix))
      expect(after.config).toEqual({ ...before.config, max_bytes: KIB64, discard: DiscardPolicy.Old })
      // Over the lowered bound: the oldest records went at once, the newest are there.
      expect(after.state.bytes).toBeLessThanOrEqual(KIB64)
      expect(after.state.last_seq).toBe(300)
      expect(after.state.first_seq).toBeGreaterThan(1)
      const kv = await new Kvm(nc).open(names(prefix).idempotencyBucket)
      expect(await kv.get('m.r0')).toBeNull()
      expect(await kv.get('m.r299')).not.toBeNull()

      // A process that writes no records (a gateway: no option) does not undo it.
      const gateway = await open({ prefix })
      await gateway.close()
      expect((await jsm.streams.info(streamOf(prefix))).config).toEqual(after.config)

      // -1: bounded by age only again, still discarding old.
      const ageOnly = await open({ prefix, idempotencyMaxBytes: -1 })
      await ageOnly.close()
      expect((await jsm.streams.info(streamOf(prefix))).config).toEqual({ ...before.config, max_bytes: -1, discard: DiscardPolicy.Old })
    } finally {
      await bus.close()
    }
  })

  it('a new bucket is created with the bound; a bus with the same bound changes nothing', async () => {
    const prefix = freshPrefix()
    // The server announces every update of a stream.
    let updates = 0
    const sub = nc.subscribe(`$JS.EVENT.ADVISORY.STREAM.UPDATED.${streamOf(prefix)}`, {
      callback: () => {
        updates++
      },
    })
    await nc.flush()
    const a = await open({ prefix, idempotencyMaxBytes: 1024 * 1024 })
    try {
      const created = await jsm.streams.info(streamOf(prefix))
      expect(created.config).toMatchObject({ max_bytes: 1024 * 1024, discard: DiscardPolicy.Old, max_msgs_per_subject: 1 })
      expect(updates).toBe(1) // discard new (nats.js) → old
      const b = await open({ prefix, idempotencyMaxBytes: 1024 * 1024 })
      await b.close()
      await nc.flush()
      expect(updates).toBe(1)
      expect((await jsm.streams.info(streamOf(prefix))).config).toEqual(created.config)
    } finally {
      sub.unsubscribe()
      await a.close()
    }
  })

  it('a bound nats-server cannot set aside in its store stops the start with IdempotencyBoundError and leaves the bucket as it was', async () => {
    const tooBig = 2 ** 50 // 1 PiB: more than any test store's max_file_store
    const prefix = freshPrefix()
    await oldStyleBucket(prefix, 3)
    const before = await jsm.streams.info(streamOf(prefix))
    const err = await open({ prefix, idempotencyMaxBytes: tooBig }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(IdempotencyBoundError)
    expect((err as IdempotencyBoundError).maxBytes).toBe(tooBig)
    expect((err as Error).message).toMatch(
      /bound the idempotency bucket .*_idempotency to 1125899906842624 bytes.*max_file_store.*insufficient storage/,
    )
    expect((await jsm.streams.info(streamOf(prefix))).config).toEqual(before.config)

    // No bucket yet: the creation is refused the same way, and none is left behind.
    const fresh = freshPrefix()
    await expect(open({ prefix: fresh, idempotencyMaxBytes: tooBig })).rejects.toBeInstanceOf(IdempotencyBoundError)
    await expect(jsm.streams.info(streamOf(fresh))).rejects.toThrow(/stream not found/)
  })

  it('ingest (with a bound) and a gateway (without) starting together on a new prefix both start, and the bound holds', async () => {
    // The stack runner and compose start them at once: both can find a bucket missing, and the
    // second create of it then differs from the first (max_bytes), which nats-server refuses.
    // Several fresh prefixes, each opened by both at the same moment, so that the race is met.
    for (let i = 0; i < 8; i++) {
      const prefix = freshPrefix()
      const results = await Promise.allSettled([open({ prefix, idempotencyMaxBytes: KIB64 }), open({ prefix })])
      for (const r of results) if (r.status === 'fulfilled') await r.value.close()
      expect(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))).toEqual(['ok', 'ok'])
      expect((await jsm.streams.info(streamOf(prefix))).config).toMatchObject({ max_bytes: KIB64, discard: DiscardPolicy.Old })
    }
  })

  it('refuses a bound that is not -1 or a positive whole number before connecting', async () => {
    for (const bad of [0, -2, 1.5, Number.NaN]) {
      await expect(open({ prefix: freshPrefix(), idempotencyMaxBytes: bad })).rejects.toThrow(
        /^idempotencyMaxBytes must be -1 \(age only\) or a positive whole number of bytes/,
      )
    }
  })
})

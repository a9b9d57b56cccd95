/**
 * The behaviour every PresenceStore must have, as vitest suites taking a factory: run on memory by
 * memory.test.ts and on a real Redis by redis.int.test.ts, so the two cannot drift apart.
 */
import { describe, expect, it } from 'vitest'
import type { PresenceStatus, PresenceStore } from './types.ts'

export interface PresenceHarness {
  store: PresenceStore
  cleanup(): Promise<void>
  /** Move time forward by `ms` (a fake clock); without it the suite really waits. */
  advance?(ms: number): Promise<void>
  /** Every key the store has written (Redis: SCAN of its prefix), to check nothing is left. */
  keys?(): Promise<string[]>
  /** Another store on the same data (another gateway process); default: the same store. */
  peer?(): Promise<PresenceStore>
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function withHarness(make: () => Promise<PresenceHarness>, fn: (h: PresenceHarness) => Promise<void>): Promise<void> {
  const h = await make()
  try {
    await fn(h)
  } finally {
    await h.cleanup()
  }
}

const wait = (h: PresenceHarness, ms: number) => (h.advance ? h.advance(ms) : sleep(ms))

export function presenceContract(make: () => Promise<PresenceHarness>): void {
  const run = (fn: (h: PresenceHarness) => Promise<void>) => () => withHarness(make, fn)

  describe('presence contract: nodes', () => {
    it(
      'join registers a node with its info; heartbeat reports its stats',
      run(async ({ store }) => {
        expect(store.status()).toEqual({ type: 'connected' })
        await store.join({ nodeId: 'n1', url: 'http://127.0.0.1:8081', startedAt: 1000 })
        await store.heartbeat('n1', { connections: 7 })
        const nodes = await store.liveNodes()
        expect(nodes).toHaveLength(1)
        expect(nodes[0]).toMatchObject({ nodeId: 'n1', url: 'http://127.0.0.1:8081', startedAt: 1000, connections: 7 })
        expect(typeof nodes[0]!.lastSeen).toBe('number')
        // A heartbeat without stats keeps the last reported ones.
        await store.heartbeat('n1')
        expect((await store.liveNodes())[0]!.connections).toBe(7)
      }),
    )

    it(
      'a node that stops heartbeating drops out of counts within its TTL; sweep deletes it',
      run(async (h) => {
        const { store } = h
        const ttl = store.ttlMs
        await store.join({ nodeId: 'alive', startedAt: 1 })
        await store.join({ nodeId: 'dead', startedAt: 1 })
        await store.add('alive', 'm1', 2)
        await store.add('dead', 'm1', 3)
        expect(await store.counts('m1')).toEqual({ total: 5, nodes: { alive: 2, dead: 3 } })

        // Half the TTL later the silent node still counts; 'alive' keeps heartbeating.
        const step = Math.floor(ttl / 4)
        await wait(h, step)
        await store.heartbeat('alive')
        await wait(h, step)
        await store.heartbeat('alive')
        expect((await store.counts('m1')).total).toBe(5)

        // Past the TTL (plus a small margin for a real clock) it is gone from every read.
        await wait(h, ttl - 2 * step + (h.advance ? 0 : 100))
        await store.heartbeat('alive')
        expect(await store.counts('m1')).toEqual({ total: 2, nodes: { alive: 2 } })
        expect((await store.totals(['m1'])).get('m1')).toBe(2)
        expect((await store.liveNodes()).map((n) => n.nodeId)).toEqual(['alive'])

        expect(await store.sweep()).toBe(1)
        expect(await store.sweep()).toBe(0)
        if (h.keys) expect((await h.keys()).filter((k) => k.includes('dead'))).toEqual([])
        expect(await store.counts('m1')).toEqual({ total: 2, nodes: { alive: 2 } })
      }),
    )

    it(
      'leave removes the node and its counts at once',
      run(async (h) => {
        const { store } = h
        await store.join({ nodeId: 'stay', startedAt: 1 })
        await store.join({ nodeId: 'going', startedAt: 1 })
        await store.add('stay', 'm1')
        await store.add('going', 'm1', 4)
        await store.add('going', 'm2', 2)
        await store.leave('going')
        expect(await store.counts('m1')).toEqual({ total: 1, nodes: { stay: 1 } })
        expect((await store.totals(['m1', 'm2'])).get('m2')).toBe(0)
        expect((await store.liveNodes()).map((n) => n.nodeId)).toEqual(['stay'])
        expect(await store.sweep()).toBe(0)
        if (h.keys) {
          const keys = await h.keys()
          expect(keys.filter((k) => k.includes('going'))).toEqual([])
          expect(keys.some((k) => k.includes('stay'))).toBe(true)
        }
      }),
    )

    it(
      'several sweeps at once remove each dead node exactly once',
      run(async (h) => {
        const { store } = h
        for (let i = 0; i < 5; i++) {
          await store.join({ nodeId: `d${i}`, startedAt: 1 })
          await store.add(`d${i}`, 'm', 1)
        }
        await wait(h, store.ttlMs + (h.advance ? 0 : 100))
        const peer = h.peer ? await h.peer() : store
        const removed = await Promise.all([store.sweep(), peer.sweep(), store.sweep(), peer.sweep()])
        expect(removed.reduce((a, b) => a + b, 0)).toBe(5)
        if (h.keys) expect(await h.keys()).toEqual([])
      }),
    )

    it(
      'a heartbeat after the node expired re-registers it and signals a resync',
      run(async (h) => {
        const { store } = h
        const seen: PresenceStatus['type'][] = []
        store.onStatus((s) => seen.push(s.type))
        await store.join({ nodeId: 'n1', startedAt: 1 })
        await store.add('n1', 'm', 3)
        await store.heartbeat('n1')
        expect(seen).toEqual([])
        await wait(h, store.ttlMs + (h.advance ? 0 : 100))
        await store.sweep()
        await store.heartbeat('n1')
        expect(seen).toEqual(['degraded', 'connected'])
        expect(store.status()).toEqual({ type: 'connected' })
        // The swept counts are gone until the node rewrites them.
        expect((await store.counts('m')).total).toBe(0)
        await store.replaceNode('n1', new Map([['m', 3]]))
        expect(await store.counts('m')).toEqual({ total: 3, nodes: { n1: 3 } })
      }),
    )
  })

  describe('presence contract: counts', () => {
    it(
      'add and remove per node and match; a count never goes below zero',
      run(async ({ store }) => {
        await store.join({ nodeId: 'a', startedAt: 1 })
        await store.join({ nodeId: 'b', startedAt: 1 })
        await store.add('a', 'm1')
        await store.add('a', 'm1')
        await store.add('b', 'm1', 5)
        await store.add('b', 'm2')
        expect(await store.counts('m1')).toEqual({ total: 7, nodes: { a: 2, b: 5 } })
        await store.remove('b', 'm1', 2)
        expect(await store.counts('m1')).toEqual({ total: 5, nodes: { a: 2, b: 3 } })

        // Removing more than there is (a late or repeated remove) stops at zero, and zero nodes are left out.
        await store.remove('a', 'm1', 10)
        await store.remove('a', 'm3')
        expect(await store.counts('m1')).toEqual({ total: 3, nodes: { b: 3 } })
        expect(await store.counts('m3')).toEqual({ total: 0, nodes: {} })
        await store.add('a', 'm1')
        expect(await store.counts('m1')).toEqual({ total: 4, nodes: { a: 1, b: 3 } })
        expect(await store.counts('nobody')).toEqual({ total: 0, nodes: {} })
        await expect(store.add('a', 'm1', -1)).rejects.toThrow(RangeError)
        await expect(store.add('a', 'm1', 1.5)).rejects.toThrow(RangeError)
      }),
    )

    it(
      'counts stay exact under 1,000 concurrent adds and removes over several nodes and matches',
      run(async (h) => {
        const { store } = h
        const peer = h.peer ? await h.peer() : store
        const nodes = ['g1', 'g2', 'g3', 'g4']
        const matches = ['m1', 'm2', 'm3', 'm4', 'm5']
        for (const n of nodes) await store.join({ nodeId: n, startedAt: 1 })
        // Pre-fill so that removes never hit zero (clamping would make the expected value ambiguous).
        for (const n of nodes) for (const m of matches) await store.add(n, m, 100)
        const expected = new Map<string, number>()
        for (const n of nodes) for (const m of matches) expected.set(`${n}/${m}`, 100)
        const ops: Promise<void>[] = []
        for (let i = 0; i < 1000; i++) {
          const n = nodes[i % nodes.length]!
          const m = matches[(i * 7) % matches.length]!
          const s = i % 2 === 0 ? store : peer
          const add = i % 3 !== 0
          expected.set(`${n}/${m}`, expected.get(`${n}/${m}`)! + (add ? 1 : -1))
          ops.push(add ? s.add(n, m) : s.remove(n, m))
        }
        await Promise.all(ops)
        for (const m of matches) {
          const c = await store.counts(m)
          const want: Record<string, number> = {}
          let total = 0
          for (const n of nodes) {
            want[n] = expected.get(`${n}/${m}`)!
            total += want[n]
          }
          expect(c).toEqual({ total, nodes: want })
        }
        const totals = await peer.totals(matches)
        for (const m of matches) expect(totals.get(m)).toBe((await store.counts(m)).total)
      }),
    )

    it(
      'totals for many matches in one call, unknown matches at zero',
      run(async ({ store }) => {
        const nodes = ['a', 'b', 'c']
        for (const n of nodes) await store.join({ nodeId: n, startedAt: 1 })
        const ids = Array.from({ length: 300 }, (_, i) => `match-${i}`)
        const writes: Promise<void>[] = []
        ids.forEach((id, i) => {
          nodes.forEach((n, j) => {
            if ((i + j) % 2 === 0) writes.push(store.add(n, id, i + 1))
          })
        })
        await Promise.all(writes)
        const totals = await store.totals([...ids, 'unknown'])
        expect(totals.size).toBe(301)
        expect(totals.get('unknown')).toBe(0)
        ids.forEach((id, i) => {
          const nodesWith = nodes.filter((_, j) => (i + j) % 2 === 0).length
          expect(totals.get(id)).toBe(nodesWith * (i + 1))
        })
        expect((await store.totals([])).size).toBe(0)
      }),
    )

    it(
      'replaceNode rewrites one node whole and leaves the others alone',
      run(async ({ store }) => {
        await store.join({ nodeId: 'a', startedAt: 1 })
        await store.join({ nodeId: 'b', startedAt: 1 })
        await store.add('a', 'm1', 3)
        await store.add('a', 'm2', 3)
        await store.add('b', 'm1', 1)
        await store.replaceNode(
          'a',
          new Map([
            ['m1', 10],
            ['m3', 4],
            ['m4', 0],
          ]),
        )
        expect(await store.counts('m1')).toEqual({ total: 11, nodes: { a: 10, b: 1 } })
        expect(await store.counts('m2')).toEqual({ total: 0, nodes: {} })
        expect(Object.fromEntries(await store.totals(['m1', 'm2', 'm3', 'm4']))).toEqual({ m1: 11, m2: 0, m3: 4, m4: 0 })
        // The table keeps working with add/remove afterwards.
        await store.add('a', 'm3')
        expect((await store.counts('m3')).total).toBe(5)
        await store.replaceNode('a', new Map())
        expect(await store.counts('m1')).toEqual({ total: 1, nodes: { b: 1 } })
        expect((await store.counts('m3')).total).toBe(0)
      }),
    )

    it(
      'a large table is replaced in one call',
      run(async ({ store }) => {
        await store.join({ nodeId: 'big', startedAt: 1 })
        const table = new Map(Array.from({ length: 5000 }, (_, i) => [`m${i}`, i + 1] as const))
        await store.replaceNode('big', table)
        const totals = await store.totals([...table.keys()])
        for (const [m, n] of table) expect(totals.get(m)).toBe(n)
      }),
    )

    it(
      'counts written before the node joined show once it is live',
      run(async ({ store }) => {
        await store.add('late', 'm', 2)
        expect((await store.counts('m')).total).toBe(0)
        await store.join({ nodeId: 'late', startedAt: 1 })
        expect(await store.counts('m')).toEqual({ total: 2, nodes: { late: 2 } })
      }),
    )
  })

  describe('presence contract: sweep of nodes that never heartbeat', () => {
    it(
      'counts of a node that never joined are swept, even after they went back to zero',
      run(async (h) => {
        const { store } = h
        await store.add('ghost', 'm', 2)
        await store.add('ghost2', 'm', 1)
        await store.remove('ghost2', 'm', 1)
        expect(await store.liveNodes()).toEqual([])
        expect(await store.sweep()).toBe(2)
        expect(await store.sweep()).toBe(0)
        if (h.keys) expect(await h.keys()).toEqual([])
      }),
    )
  })

  describe('presence contract: lifecycle', () => {
    it(
      'close reports closed to listeners and later calls reject',
      run(async ({ store }) => {
        const seen: PresenceStatus[] = []
        store.onStatus((s) => seen.push(s))
        await store.join({ nodeId: 'n', startedAt: 1 })
        await store.close()
        expect(store.status()).toEqual({ type: 'closed' })
        expect(seen).toEqual([{ type: 'closed' }])
        await expect(store.counts('m')).rejects.toThrow(/closed/)
        await store.close()
      }),
    )

    it(
      'onStatus returns an unsubscribe function',
      run(async ({ store }) => {
        const seen: string[] = []
        const off = store.onStatus((s) => seen.push(s.type))
        off()
        await store.close()
        expect(seen).toEqual([])
      }),
    )
  })
}

import { describe, expect, it } from 'vitest'
import { presenceContract } from './contract.ts'
import { MemoryPresence } from './memory.ts'

presenceContract(async () => {
  let now = 1_700_000_000_000
  const store = new MemoryPresence({ ttlMs: 6000, now: () => now })
  return {
    store,
    cleanup: () => store.close(),
    advance: async (ms: number) => {
      now += ms
    },
  }
})

describe('MemoryPresence', () => {
  it('uses the injected clock for lastSeen and expiry, exactly at the TTL', async () => {
    let now = 1000
    const store = new MemoryPresence({ ttlMs: 100, now: () => now })
    await store.join({ nodeId: 'n', startedAt: 0 })
    await store.add('n', 'm')
    expect((await store.liveNodes())[0]!.lastSeen).toBe(1000)
    now = 1099
    expect((await store.counts('m')).total).toBe(1)
    now = 1100
    expect((await store.counts('m')).total).toBe(0)
  })

  it('defaults to a 6 s TTL and a 2 s heartbeat', () => {
    const store = new MemoryPresence()
    expect(store.kind).toBe('memory')
    expect(store.ttlMs).toBe(6000)
    expect(store.heartbeatMs).toBe(2000)
  })
})

import { describe, expect, it } from 'vitest'
import { busContract } from './contract.ts'
import { MemoryBus } from './memory.ts'

busContract(async ({ retention }) => {
  const bus = new MemoryBus({ retention })
  return { bus, cleanup: () => bus.close() }
})

describe('MemoryBus specifics', () => {
  it('drops events older than maxAgeMs and keeps counting seqs', async () => {
    let now = 1_000_000
    const bus = new MemoryBus({ now: () => now, retention: { maxAgeMs: 1000 } })
    await bus.createMatch({
      id: 'a',
      title: 't',
      home: 'h',
      away: 'w',
      startsAt: '2026-01-01T00:00:00.000Z',
      createdAt: '2026-01-01T00:00:00.000Z',
    })
    await bus.appendEvent('a', { kind: 'commentary', data: {} })
    await bus.appendEvent('a', { kind: 'commentary', data: {} })
    now += 5000
    expect(await bus.logPosition('a')).toMatchObject({ firstSeq: 3, lastSeq: 2 })
    expect((await bus.appendEvent('a', { kind: 'commentary', data: {} })).event.seq).toBe(3)
    expect((await bus.readEvents('a', 0, 10)).events.map((e) => e.seq)).toEqual([3])
  })

  it('forgets idempotency keys after 24 hours', async () => {
    let now = 1_000_000
    const bus = new MemoryBus({ now: () => now })
    await bus.createMatch({
      id: 'a',
      title: 't',
      home: 'h',
      away: 'w',
      startsAt: '2026-01-01T00:00:00.000Z',
      createdAt: '2026-01-01T00:00:00.000Z',
    })
    await bus.appendEvent('a', { kind: 'commentary', data: {} }, { idempotencyKey: 'k' })
    now += 23 * 3600_000
    expect((await bus.appendEvent('a', { kind: 'commentary', data: {} }, { idempotencyKey: 'k' })).duplicate).toBe(true)
    now += 2 * 3600_000
    expect((await bus.appendEvent('a', { kind: 'commentary', data: {} }, { idempotencyKey: 'k' })).event.seq).toBe(2)
  })

  it('reports closed after close()', async () => {
    const bus = new MemoryBus()
    const seen: string[] = []
    bus.onStatus((s) => seen.push(s.type))
    await bus.close()
    expect(bus.status().type).toBe('closed')
    expect(seen).toEqual(['closed'])
  })
})

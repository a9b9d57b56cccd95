import { describe, expect, it } from 'vitest'
import { Feed } from './feed.ts'

const at = '2026-01-01T12:00:00.000Z'
const ev = (seq: number, kind: string, data: Record<string, unknown> = {}) => ({ seq, kind, at, data })

describe('Feed', () => {
  it('adds each seq once and lists newest first', () => {
    const f = new Feed()
    expect(f.add(ev(1, 'commentary', { text: 'kick-off' }))).toBe(true)
    expect(f.add(ev(2, 'goal', { text: 'GOAL', score: { home: 1, away: 0 } }))).toBe(true)
    expect(f.add(ev(2, 'goal', { text: 'GOAL again' }))).toBe(false)
    expect(f.entries().map((e) => e.seq)).toEqual([2, 1])
    expect(f.entries()[0]?.text).toBe('GOAL')
    expect(f.lastSeq).toBe(2)
  })

  it('a retraction withdraws its target and is not shown on its own', () => {
    const f = new Feed()
    f.add(ev(1, 'goal', { text: 'GOAL', score: { home: 1, away: 0 } }))
    f.add(ev(2, 'retraction', { refSeq: 1, text: 'VAR' }))
    const entries = f.entries()
    expect(entries.map((e) => e.seq)).toEqual([1])
    expect(entries[0]?.withdrawnBy).toBe(2)
  })

  it('a correction amends text, minute and score, in seq order', () => {
    const f = new Feed()
    f.add(ev(1, 'goal', { text: 'Goal by Smith', minute: 12, score: { home: 1, away: 0 } }))
    f.add(ev(3, 'correction', { refSeq: 1, minute: 14 }))
    f.add(ev(2, 'correction', { refSeq: 1, text: 'Goal by Smyth', minute: 13 }))
    const e = f.entry(1)
    expect(e?.text).toBe('Goal by Smyth')
    expect(e?.minute).toBe(14)
    expect(e?.correctedBy).toEqual([2, 3])
    expect(f.entries().map((x) => x.seq)).toEqual([1])
  })

  it('is order independent: an amendment before its target applies when the target arrives', () => {
    const a = new Feed()
    const b = new Feed()
    const events = [ev(1, 'commentary', { text: 'a' }), ev(2, 'correction', { refSeq: 1, text: 'b' }), ev(3, 'retraction', { refSeq: 1 })]
    for (const e of events) a.add(e)
    for (const e of [...events].reverse()) b.add(e)
    b.add(events[0] as (typeof events)[number])
    expect(b.entries()).toEqual(a.entries())
    expect(a.entry(1)?.text).toBe('b')
    expect(a.entry(1)?.withdrawnBy).toBe(3)
  })

  it('an amendment whose target is not held shows as a note', () => {
    const f = new Feed()
    f.add(ev(10, 'retraction', { refSeq: 4, text: 'offside' }))
    const [e] = f.entries()
    expect(e?.orphanRef).toBe(4)
    f.add(ev(4, 'goal', { text: 'GOAL' }))
    expect(f.entries().map((x) => x.seq)).toEqual([4])
  })

  it('a retracted correction no longer amends', () => {
    const f = new Feed()
    f.add(ev(1, 'commentary', { text: 'original' }))
    f.add(ev(2, 'correction', { refSeq: 1, text: 'wrong fix' }))
    f.add(ev(3, 'retraction', { refSeq: 2 }))
    expect(f.entry(1)?.text).toBe('original')
    expect(f.entry(1)?.withdrawnBy).toBeUndefined()
  })

  it('reads card colour and team from data', () => {
    const f = new Feed()
    f.add(ev(1, 'card', { text: 'Yellow card', card: 'yellow', team: 'home' }))
    expect(f.entry(1)).toMatchObject({ card: 'yellow', team: 'home' })
  })
})

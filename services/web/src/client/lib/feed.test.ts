import { describe, expect, it } from 'vitest'
import { Feed, FeedWindow } from './feed.ts'

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

describe('FeedWindow', () => {
  /** Add events to the feed one by one, as the page releases them, and apply each update to a model of the list. */
  function follow(max: number) {
    const feed = new Feed()
    const win = new FeedWindow(max)
    const shown = new Map<number, number>() // seq → times drawn
    const add = (...events: ReturnType<typeof ev>[]) => {
      const changed: number[] = []
      for (const e of events) if (feed.add(e)) changed.push(...feed.affected(e.seq))
      const { render, remove } = win.update(feed, changed)
      for (const seq of remove) shown.delete(seq)
      for (const seq of render) shown.set(seq, (shown.get(seq) ?? 0) + 1)
      return { render, remove }
    }
    return { feed, win, shown, add }
  }

  it('keeps the newest `max` items, newest first, each drawn once; older arrivals go below or nowhere', () => {
    const { feed, win, shown, add } = follow(3)
    for (let seq = 1; seq <= 5; seq++) expect(add(ev(seq, 'commentary', { text: `line ${seq}` })).render).toEqual([seq])
    expect(win.seqs).toEqual([5, 4, 3])
    expect([...shown.keys()].sort()).toEqual([3, 4, 5])
    expect([...shown.values()]).toEqual([1, 1, 1])
    // A duplicate changes nothing; an old event (a gap filled late) is below what a full window shows.
    expect(add(ev(5, 'commentary'))).toEqual({ render: [], remove: [] })
    expect(feed.size).toBe(5)
    // A gap filled in the middle goes in its place and pushes the oldest out.
    const g = follow(3)
    g.add(ev(1, 'commentary'), ev(2, 'commentary'), ev(4, 'commentary'))
    expect(g.add(ev(3, 'commentary'))).toEqual({ render: [3], remove: [1] })
    expect(g.win.seqs).toEqual([4, 3, 2])
  })

  it('a correction or retraction redraws the shown item it amends and is not an item of its own', () => {
    const { feed, win, add } = follow(3)
    add(ev(1, 'goal', { text: 'GOAL', score: { home: 1, away: 0 } }), ev(2, 'commentary'))
    expect(add(ev(3, 'correction', { refSeq: 1, text: 'GOAL (own goal)' })).render).toEqual([1])
    expect(add(ev(4, 'retraction', { refSeq: 1 })).render).toEqual([1])
    expect(win.seqs).toEqual([2, 1])
    expect(feed.entry(1)).toMatchObject({ text: 'GOAL (own goal)', withdrawnBy: 4 })
    // Retracting the correction brings the original text back: the goal is drawn again.
    expect(add(ev(5, 'retraction', { refSeq: 3 })).render).toContain(1)
    expect(feed.entry(1)?.text).toBe('GOAL')
  })

  it('an amendment that came before its target shows on its own, then moves onto it; older items refill the room', () => {
    const { win, add } = follow(3)
    add(ev(1, 'commentary'), ev(2, 'commentary'), ev(3, 'commentary'))
    // 6 retracts 5, which has not arrived (a replay out of order): a note of its own.
    add(ev(6, 'retraction', { refSeq: 5 }))
    expect(win.seqs).toEqual([6, 3, 2])
    const r = add(ev(5, 'goal', { text: 'GOAL' }))
    expect(r.remove).toContain(6)
    expect(win.seqs).toEqual([5, 3, 2])
    add(ev(4, 'commentary'))
    expect(win.seqs).toEqual([5, 4, 3])
  })

  it('reset shows the newest items of a feed', () => {
    const feed = new Feed()
    for (let seq = 1; seq <= 10; seq++) feed.add(ev(seq, seq === 10 ? 'correction' : 'commentary', seq === 10 ? { refSeq: 9 } : {}))
    const win = new FeedWindow(4)
    expect(win.reset(feed)).toEqual([9, 8, 7, 6])
    expect(feed.lastSeq).toBe(10)
    feed.clear()
    expect(feed.lastSeq).toBe(0)
  })
})

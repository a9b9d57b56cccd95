import { describe, expect, it } from 'vitest'
import { decodeFrame, encodeChatFrame, encodeEventFrame, encodeFrame, encodeSnapshot } from './encode.ts'
import type { SnapshotFrame } from './frames.ts'

const match = {
  id: 'm1',
  title: 'A v B',
  home: 'A',
  away: 'B',
  startsAt: '2026-01-01T15:00:00.000Z',
  createdAt: '2026-01-01T14:00:00.000Z',
  scoreboard: { home: 1, away: 0, period: '1H', minute: 12 },
  seq: 2,
}

describe('encode', () => {
  it('encodes an event frame with a fixed key order', () => {
    const bytes = encodeEventFrame({
      matchId: 'm1',
      seq: 3,
      kind: 'goal',
      at: '2026-01-01T15:12:00.000Z',
      data: { text: 'Goal!', score: { home: 1, away: 0 } },
    })
    expect(bytes.toString()).toBe(
      '{"type":"event","matchId":"m1","seq":3,"kind":"goal","at":"2026-01-01T15:12:00.000Z","data":{"text":"Goal!","score":{"home":1,"away":0}}}',
    )
  })

  it('assembles a snapshot from pre-encoded frames that equals encoding the whole frame', () => {
    const e1 = { matchId: 'm1', seq: 1, kind: 'commentary', at: '2026-01-01T15:00:00.000Z', data: { text: 'Kick-off "quoted" \u2028' } }
    const e2 = { matchId: 'm1', seq: 2, kind: 'goal', at: '2026-01-01T15:12:00.000Z', data: { score: { home: 1, away: 0 } } }
    const c1 = { matchId: 'm1', id: '7', user: { id: 'u', name: 'Ann' }, text: '<b>hi</b>', at: '2026-01-01T15:12:01.000Z' }
    const bytes = encodeSnapshot(
      { matchId: 'm1', match, seq: 2, epoch: 'e1' },
      [encodeEventFrame(e1), encodeEventFrame(e2)],
      [encodeChatFrame(c1)],
    )
    const whole: SnapshotFrame = {
      type: 'snapshot',
      matchId: 'm1',
      match,
      seq: 2,
      epoch: 'e1',
      events: [
        { type: 'event', ...e1 },
        { type: 'event', ...e2 },
      ],
      chat: [{ type: 'chat', ...c1 }],
    }
    expect(decodeFrame(bytes)).toEqual(whole)
    expect(bytes.toString()).toBe(encodeFrame(whole).toString())
  })

  it('marks a reset snapshot and handles empty lists', () => {
    const bytes = encodeSnapshot({ matchId: 'm1', match, seq: 0, epoch: 'e', reset: true }, [], [])
    expect(decodeFrame<SnapshotFrame>(bytes)).toMatchObject({ type: 'snapshot', reset: true, events: [], chat: [] })
  })
})

import { describe, expect, it } from 'vitest'
import { parseClientFrame } from './frames.ts'

describe('parseClientFrame', () => {
  it.each([
    ['{"type":"subscribe","matchId":"m-1"}', 'subscribe'],
    ['{"type":"subscribe","matchId":"m_1","since":10,"epoch":"abc"}', 'subscribe'],
    ['{"type":"unsubscribe","matchId":"m1"}', 'unsubscribe'],
    ['{"type":"chat","matchId":"m1","text":"hi","clientMsgId":"c1"}', 'chat'],
    ['{"type":"ping"}', 'ping'],
    ['{"type":"auth","token":"a.b"}', 'auth'],
  ])('accepts %s', (text, type) => {
    const r = parseClientFrame(text)
    expect(r.ok).toBe(true)
    if (r.ok) expect(r.frame.type).toBe(type)
  })

  it.each([
    ['not json', /not valid JSON/],
    ['[]', /JSON object/],
    ['null', /JSON object/],
    ['"str"', /JSON object/],
    ['{}', /unknown frame type/],
    ['{"type":"nope"}', /unknown frame type/],
    ['{"type":"__proto__"}', /unknown frame type/],
    ['{"type":"toString"}', /unknown frame type/],
    ['{"type":"subscribe"}', /invalid subscribe/],
    ['{"type":"subscribe","matchId":"a.b"}', /invalid subscribe/],
    ['{"type":"subscribe","matchId":"m","since":-1}', /invalid subscribe/],
    ['{"type":"subscribe","matchId":"m","since":1.5}', /invalid subscribe/],
    ['{"type":"subscribe","matchId":"m","extra":1}', /invalid subscribe/],
    ['{"type":"chat","matchId":"m","text":5,"clientMsgId":"c"}', /invalid chat/],
    ['{"type":"chat","matchId":"m","text":"x"}', /invalid chat/],
    ['{"type":"ping","x":1}', /invalid ping/],
  ])('refuses %s', (text, message) => {
    const r = parseClientFrame(text)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.message).toMatch(message)
  })

  it('echoes clientMsgId as ref on a refused chat frame', () => {
    const r = parseClientFrame('{"type":"chat","matchId":"bad id","text":"x","clientMsgId":"c9"}')
    expect(r).toMatchObject({ ok: false, ref: 'c9' })
  })
})

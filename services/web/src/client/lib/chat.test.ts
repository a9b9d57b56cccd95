import { describe, expect, it } from 'vitest'
import { PendingChats, prepareText } from './chat.ts'

describe('prepareText', () => {
  it('counts characters (code points) as the server does, not UTF-16 units', () => {
    // 300 emoji are 600 UTF-16 units, and 300 characters of the 500 allowed.
    expect(prepareText('😀'.repeat(300), 'chat')).toEqual({ text: '😀'.repeat(300) })
    expect(prepareText('😀'.repeat(501), 'chat').problem).toBe('Too long: a message has at most 500 characters.')
    // A name of 40 emoji is allowed as it is, not cut to 20 (or to half an emoji).
    expect(prepareText('⚽'.repeat(20) + '😀'.repeat(20), 'name')).toEqual({ text: '⚽'.repeat(20) + '😀'.repeat(20) })
    expect(prepareText('😀'.repeat(41), 'name').problem).toBe('Too long: a name has at most 40 characters.')
  })

  it('cleans as the server cleans, and refuses what has nothing visible', () => {
    expect(prepareText('  hello\n\tworld\u202e ', 'chat')).toEqual({ text: 'hello world' })
    expect(prepareText('\u200b\u200b', 'name').problem).toBe('The name has nothing visible in it.')
    expect(prepareText('   ', 'chat')).toEqual({ text: '' })
  })
})

describe('PendingChats', () => {
  it('an ack settles its message; the chat frame that follows it does not settle another one of the same text', () => {
    const p = new PendingChats<string>()
    p.add('a', 'hi', 'node-a', 0)
    p.add('b', 'hi', 'node-b', 0)
    expect(p.ack('a')?.node).toBe('node-a')
    expect(p.echo('hi')).toBeUndefined() // a's own frame
    expect(p.size).toBe(1)
    expect(p.echo('hi')?.node).toBe('node-b') // b's frame, its ack lost
    expect(p.size).toBe(0)
  })

  it('without an ack in time, or when the connection closed, a message is marked unconfirmed once, and still settles later', () => {
    const p = new PendingChats<string>()
    p.add('a', 'one', 'node-a', 1000)
    p.add('b', 'two', 'node-b', 5000)
    expect(p.expire(10_999, 10_000)).toEqual([])
    expect(p.expire(11_000, 10_000).map((x) => x.clientMsgId)).toEqual(['a'])
    expect(p.expire(12_000, 10_000)).toEqual([])
    // The connection drops: b's ack cannot come any more.
    expect(p.expire(12_000, 10_000, true).map((x) => x.clientMsgId)).toEqual(['b'])
    expect([...p.values()].every((x) => x.unconfirmed)).toBe(true)
    // Its own chat frame (a snapshot after a reset) still settles it; nothing is resent.
    expect(p.echo('two')?.node).toBe('node-b')
    expect(p.settle('a')?.node).toBe('node-a')
    expect(p.size).toBe(0)
  })
})

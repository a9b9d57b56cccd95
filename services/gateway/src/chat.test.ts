import { MemoryBus } from '@touchline/bus'
import { describe, expect, it } from 'vitest'
import { BannedWords, cleanChatText, MuteCache, TokenBucket, wordsOf } from './chat.ts'

describe('chat rules', () => {
  it('strips control characters and bidi overrides, trims, and measures in characters', () => {
    expect(cleanChatText('  hi\u0000 there\u0007\r\n ')).toEqual({ ok: true, text: 'hi there' })
    expect(cleanChatText('a\u202eb')).toEqual({ ok: true, text: 'ab' })
    expect(cleanChatText(' \t\u0001 ')).toMatchObject({ ok: false, code: 'bad_request' })
    expect(cleanChatText('⚽'.repeat(500))).toMatchObject({ ok: true })
    expect(cleanChatText('⚽'.repeat(501))).toMatchObject({ ok: false, code: 'too_large' })
    expect(cleanChatText('x'.repeat(100_000))).toMatchObject({ ok: false, code: 'too_large' })
  })

  it('refuses text with nothing visible, drops lone surrogates, keeps emoji sequences whole', () => {
    expect(cleanChatText('\u200b\u00ad\u2060')).toEqual({ ok: false, code: 'bad_request', message: 'chat text has no visible character' })
    expect(cleanChatText('goal\ud83d!')).toEqual({ ok: true, text: 'goal!' })
    const family = '\u{1F468}\u200d\u{1F469}\u200d\u{1F467}'
    expect(cleanChatText(` ${family} `)).toEqual({ ok: true, text: family })
  })

  it('masks banned words as whole words, case-insensitively, longest first', () => {
    const b = new BannedWords()
    expect(b.mask('anything')).toBe('anything')
    b.set(['darn', 'darn it', ' ', 'a.b'])
    expect(b.size).toBe(3)
    expect(b.mask('Darn it! darned DARN a.b axb')).toBe('*******! darned **** *** axb')
    expect(b.mask('ÉdarnÉ darn_x')).toBe('ÉdarnÉ darn_x')
    b.set([])
    expect(b.mask('darn')).toBe('darn')
  })

  it('reads the banned-words setting as an array or as { words }', () => {
    expect(wordsOf(['a', 1, 'b'])).toEqual(['a', 'b'])
    expect(wordsOf({ words: ['c'] })).toEqual(['c'])
    expect(wordsOf(null)).toEqual([])
  })

  it('token bucket: burst, then one per refill interval, with the wait', () => {
    const b = new TokenBucket(2, 1, 0)
    expect(b.take(0)).toBe(0)
    expect(b.take(0)).toBe(0)
    expect(b.take(0)).toBe(1000)
    expect(b.take(500)).toBe(500)
    expect(b.take(1000)).toBe(0)
  })

  it('mute cache: control messages apply at once; a negative answer is trusted for a second', async () => {
    const bus = new MemoryBus()
    const m = new MuteCache(bus, 1000)
    expect(await m.until('m', 'u', 0)).toBeNull()
    await bus.setMute('m', 'u', Date.now() + 60_000)
    // Within the negative TTL the cache still says "not muted" (no control message seen).
    expect(await m.until('m', 'u', 500)).toBeNull()
    m.apply('m', 'u', Date.now() + 60_000)
    expect(await m.until('m', 'u')).toBeGreaterThan(Date.now())
    m.apply('m', 'u', 0)
    await bus.setMute('m', 'u', 0)
    expect(await m.until('m', 'u')).toBeNull()
  })
})

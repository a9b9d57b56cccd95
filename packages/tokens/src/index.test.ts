import { describe, expect, it } from 'vitest'
import { issueViewerToken, signViewerToken, verifyViewerToken } from './index.ts'

describe('viewer tokens', () => {
  const secret = 'test-secret-0123456789'
  it('round-trips claims', () => {
    const { token, claims } = issueViewerToken('Ann', secret, 60)
    expect(verifyViewerToken(token, secret)).toEqual({ ok: true, claims })
  })
  it('refuses a token signed with another secret', () => {
    const { token } = issueViewerToken('Ann', secret, 60)
    expect(verifyViewerToken(token, 'other-secret')).toEqual({ ok: false, reason: 'bad_signature' })
  })
  it('refuses a tampered payload', () => {
    const { token } = issueViewerToken('Ann', secret, 60)
    const [, sig] = token.split('.')
    const forged = `${Buffer.from(JSON.stringify({ sub: 'x', name: 'Admin', exp: 9e9 })).toString('base64url')}.${sig}`
    expect(verifyViewerToken(forged, secret).ok).toBe(false)
  })
  it('refuses an expired token', () => {
    const token = signViewerToken({ sub: 'v', name: 'n', exp: 1000 }, secret)
    expect(verifyViewerToken(token, secret, 2_000_000)).toEqual({ ok: false, reason: 'expired' })
  })
  it('refuses a correctly signed body that is not an object, without throwing', () => {
    for (const body of [null, 7, 'x', [1]]) {
      const token = signViewerToken(body as never, secret)
      expect(verifyViewerToken(token, secret)).toEqual({ ok: false, reason: 'malformed' })
    }
  })
  it('refuses garbage', () => {
    for (const t of ['', '.', 'a.b.c', 'abc', 'x'.repeat(2000)]) expect(verifyViewerToken(t, secret).ok).toBe(false)
  })
})

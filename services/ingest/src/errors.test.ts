import { BusUnavailableError, IdempotencyConflictError, MatchExistsError, UnknownMatchError } from '@touchline/bus'
import { PresenceUnavailableError } from '@touchline/presence'
import { API_ERRORS, type ApiErrorCode } from '@touchline/protocol'
import { describe, expect, it } from 'vitest'
import { keyRing } from './auth.ts'
import { apiError, ERRORS, mapError } from './errors.ts'

describe('the errors table', () => {
  it('has exactly the protocol codes, each with its status and its own code', () => {
    expect(Object.keys(ERRORS).sort()).toEqual(Object.keys(API_ERRORS).sort())
    for (const [code, status] of Object.entries(API_ERRORS) as Array<[ApiErrorCode, number]>) {
      const err = new ERRORS[code]('m')
      expect(err.code).toBe(code.toUpperCase())
      expect(err.statusCode).toBe(status)
      expect(err.stack ?? '').not.toMatch(/errors\.test/) // no stack captured for answers
      expect(mapError(err)).toEqual({ status, body: { code, message: 'm' } })
    }
  })

  it('maps typed bus and presence errors, and never leaks an unknown error', () => {
    expect(mapError(new BusUnavailableError('timeout'))).toMatchObject({ status: 503, body: { code: 'unavailable' } })
    expect(mapError(new PresenceUnavailableError('down'))).toMatchObject({ status: 503, body: { code: 'unavailable' } })
    expect(mapError(new UnknownMatchError('m9'))).toEqual({ status: 404, body: { code: 'unknown_match', message: 'unknown match m9' } })
    expect(mapError(new MatchExistsError('m9'))).toMatchObject({ status: 409, body: { code: 'match_exists' } })
    expect(mapError(new IdempotencyConflictError('x'))).toMatchObject({ status: 409, body: { code: 'idempotency_conflict' } })
    const secret = mapError(new Error('ECONNREFUSED 10.1.2.3:4222 at /srv/app.ts:12'))
    expect(secret).toEqual({ status: 500, body: { code: 'internal', message: 'internal error: it has been logged' } })
    const foreign = Object.assign(new Error('x'), { code: 'NOT_FOUND' }) // a code that is not from our table
    expect(mapError(foreign).body.code).toBe('internal')
  })

  it('keeps details on bad_request', () => {
    const e = apiError('bad_request', 'body/x is bad', [{ path: 'body/x', message: 'is bad' }])
    expect(mapError(e)).toEqual({
      status: 400,
      body: { code: 'bad_request', message: 'body/x is bad', details: [{ path: 'body/x', message: 'is bad' }] },
    })
  })
})

describe('API keys', () => {
  const ring = keyRing([
    { role: 'commentator', key: 'comm-key-1' },
    { role: 'admin', key: 'admin-key-1' },
    { role: 'commentator', key: 'admin-key-1' },
  ])
  it('finds the role of a key (the best when a key is listed twice), null for anything else', () => {
    expect(ring.roleOf('comm-key-1')).toBe('commentator')
    expect(ring.roleOf('admin-key-1')).toBe('admin')
    for (const k of ['', 'comm-key-', 'comm-key-11', 'COMM-KEY-1', 'x'.repeat(600)]) expect(ring.roleOf(k)).toBeNull()
  })
})

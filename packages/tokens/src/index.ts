/**
 * Viewer tokens: short-lived, signed statements "this connection is viewer {id, name}" that ingest
 * issues and every gateway verifies without a shared store. Format: base64url(JSON payload) "."
 * base64url(HMAC-SHA256(secret, payload part)). Compared in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export interface ViewerClaims {
  /** viewer id, stable for the token's life */
  sub: string
  name: string
  /** expiry, seconds since epoch */
  exp: number
}

export type VerifyResult = { ok: true; claims: ViewerClaims } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' }

function mac(secret: string, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest()
}

export function signViewerToken(claims: ViewerClaims, secret: string): string {
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url')
  return `${body}.${mac(secret, body).toString('base64url')}`
}

export function issueViewerToken(
  name: string,
  secret: string,
  ttlSeconds: number,
  now = Date.now(),
): { token: string; claims: ViewerClaims } {
  const claims: ViewerClaims = { sub: `v_${randomBytes(9).toString('base64url')}`, name, exp: Math.floor(now / 1000) + ttlSeconds }
  return { token: signViewerToken(claims, secret), claims }
}

export function verifyViewerToken(token: string, secret: string, now = Date.now()): VerifyResult {
  const dot = token.indexOf('.')
  if (dot <= 0 || dot !== token.lastIndexOf('.') || token.length > 1024) return { ok: false, reason: 'malformed' }
  const body = token.slice(0, dot)
  const given = Buffer.from(token.slice(dot + 1), 'base64url')
  const expected = mac(secret, body)
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad_signature' }
  let claims: ViewerClaims
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as ViewerClaims
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  // A signed body that is not an object (`null`, a number) is as malformed as a bad field.
  if (typeof claims !== 'object' || claims === null) return { ok: false, reason: 'malformed' }
  if (typeof claims.sub !== 'string' || typeof claims.name !== 'string' || typeof claims.exp !== 'number') {
    return { ok: false, reason: 'malformed' }
  }
  if (claims.exp * 1000 <= now) return { ok: false, reason: 'expired' }
  return { ok: true, claims }
}

export function randomSecret(): string {
  return randomBytes(32).toString('base64url')
}

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBus } from '@touchline/bus'
import { keyRing } from '@touchline/ingest'
import { MemoryPresence } from '@touchline/presence'
import { MemoryRateLimiter } from '@touchline/ratelimit'
import { Registry } from 'prom-client'
import { rawExchange, rawJson, rawStatus } from '@touchline/testkit/fixtures'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildEmbeddedApp, type EmbeddedApp } from './app.ts'
import { DEMO_MATCH_ID, seedDemo } from './demo.ts'

const ADMIN = 'admin-embedded-unit'
const COMMENTATOR = 'commentator-embedded-unit'
let built: EmbeddedApp

beforeAll(async () => {
  const web = mkdtempSync(join(tmpdir(), 'touchline-web-'))
  mkdirSync(join(web, 'assets'))
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>spectator</title>')
  writeFileSync(join(web, 'console.html'), '<!doctype html><title>console</title>')
  writeFileSync(join(web, 'assets', 'app-abc123.js'), 'console.log(1)')
  writeFileSync(join(web, '.touchline-build.json'), '{}')
  built = await buildEmbeddedApp({
    bus: new MemoryBus(),
    presence: new MemoryPresence(),
    rateLimiter: new MemoryRateLimiter(),
    registry: new Registry(),
    tokenSecret: 'embedded-unit-token-secret-0123456789',
    keyRing: keyRing([
      { role: 'admin', key: ADMIN },
      { role: 'commentator', key: COMMENTATOR },
    ]),
    nodeId: 'embedded-unit',
    webRoot: web,
  })
  await built.app.ready()
})

afterAll(async () => {
  await built?.app.close()
})

describe('embedded app', () => {
  it('serves the pages at / with a CSP, HTML revalidated and hashed assets cached for good', async () => {
    const page = await built.app.inject({ method: 'GET', url: '/' })
    expect(page.statusCode).toBe(200)
    expect(page.body).toContain('spectator')
    expect(page.headers['cache-control']).toBe('no-cache')
    expect(page.headers['content-security-policy']).toContain("script-src 'self'")
    expect((await built.app.inject({ method: 'GET', url: '/console.html' })).body).toContain('console')
    const asset = await built.app.inject({ method: 'GET', url: '/assets/app-abc123.js' })
    expect(asset.headers['cache-control']).toContain('immutable')
    const missing = await built.app.inject({ method: 'GET', url: '/nope.html?x=1' })
    expect([missing.statusCode, missing.json()]).toEqual([404, { code: 'not_found', message: 'no route GET /nope.html' }])
    expect((await built.app.inject({ method: 'GET', url: '/.touchline-build.json' })).statusCode).toBe(404)
  })

  it('mounts the API under /api and the gateway at the root, with one metrics registry', async () => {
    expect((await built.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200)
    expect((await built.app.inject({ method: 'GET', url: '/healthz' })).json()).toMatchObject({ node: 'embedded-unit' })
    expect((await built.app.inject({ method: 'GET', url: '/api/healthz' })).statusCode).toBe(200)
    expect((await built.app.inject({ method: 'GET', url: '/api/v1/matches' })).json()).toEqual({ matches: [] })
    expect((await built.app.inject({ method: 'GET', url: '/api/v1/nope' })).json()).toMatchObject({ code: 'not_found' })
    const metrics = (await built.app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toContain('touchline_gateway_')
    expect(metrics).toContain('touchline_ingest_')
    const docs = await built.app.inject({ method: 'GET', url: '/api/docs' })
    expect([200, 302]).toContain(docs.statusCode)
  })

  it('answers a malformed URL, a path segment over 100 characters and a request Node refuses with the API body, pages and API alike', async () => {
    for (const url of ['/%ZZ', '/api/v1/matches/%ZZ', `/api/v1/matches/${'a'.repeat(101)}`]) {
      const r = await built.app.inject({ method: 'GET', url })
      expect([r.statusCode, r.json().code], url).toEqual([400, 'bad_request'])
    }
    const raw = await rawExchange(built.app, 'GET / HTTP/1.1\r\nhost: x\r\nx-bad: a\u0001b\r\n\r\n')
    expect([rawStatus(raw), rawJson(raw).code]).toEqual(['400', 'bad_request'])
  })

  it('guards writes with the API keys and seeds the demo match once', async () => {
    const body = { title: 't', home: 'a', away: 'b', startsAt: new Date().toISOString() }
    expect((await built.app.inject({ method: 'POST', url: '/api/v1/matches', payload: body })).statusCode).toBe(401)
    const asCommentator = await built.app.inject({
      method: 'POST',
      url: '/api/v1/matches',
      payload: body,
      headers: { authorization: `Bearer ${COMMENTATOR}` },
    })
    expect(asCommentator.statusCode).toBe(403)
    expect(await seedDemo(built.app, ADMIN)).toBe(true)
    expect(await seedDemo(built.app, ADMIN)).toBe(false)
    const demo = (await built.app.inject({ method: 'GET', url: `/api/v1/matches/${DEMO_MATCH_ID}` })).json()
    expect(demo).toMatchObject({ seq: 8, scoreboard: { home: 1, away: 1, period: '2nd half', minute: 63 } })
  })
})

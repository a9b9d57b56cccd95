/**
 * What a closing embedded process answers to a request that still reaches it: on a keep-alive
 * connection that was busy when the close began (a post whose append is held until the close has
 * started), so the close left it open. Over a raw socket, with the testkit's requestWhileClosing
 * (as ingest's and the gateway's closing tests).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MemoryBus } from '@touchline/bus'
import { keyRing } from '@touchline/ingest'
import { MemoryPresence } from '@touchline/presence'
import { MemoryRateLimiter } from '@touchline/ratelimit'
import {
  answeredWithJson,
  expectUnavailable,
  gate,
  type LateWhen,
  rawJson as json,
  rawRequest as anyRawRequest,
  rawStatus as status,
  requestWhileClosing as sendWhileClosing,
  UPGRADE_HEADERS,
} from '@touchline/testkit/fixtures'
import { Registry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { buildEmbeddedApp } from './app.ts'

const ADMIN = 'admin-embedded-closing'
const COMMENTATOR = 'commentator-embedded-closing'
const open: FastifyInstance[] = []
const webRoots: string[] = []

afterEach(async () => {
  // A test that failed half-way leaves its app open.
  await Promise.allSettled(open.splice(0).map((a) => a.close()))
  for (const dir of webRoots.splice(0)) rmSync(dir, { recursive: true, force: true })
})

interface Closing {
  /** Every answer on the connection, as raw HTTP: the held post's first. */
  answers: string[]
  /** The texts of the events stored in m1. */
  stored: unknown[]
}

/**
 * Holds a post on one connection, closes the app, then sends `late` on that connection: pipelined
 * behind the held post (`when: 'pipelined'`), or once its answer has arrived (`'after'`, as a
 * client reusing an idle keep-alive connection would). Resolves when the server has ended the
 * connection and the app has closed: neither may hang.
 */
async function requestWhileClosing(late: string, when: LateWhen = 'pipelined'): Promise<Closing> {
  const held = gate()
  const bus = new MemoryBus()
  bus.appendEvent = held.hold(bus.appendEvent.bind(bus))
  const web = mkdtempSync(join(tmpdir(), 'touchline-web-'))
  webRoots.push(web)
  writeFileSync(join(web, 'index.html'), '<!doctype html><title>spectator</title>')
  const { app } = await buildEmbeddedApp({
    bus,
    presence: new MemoryPresence(),
    rateLimiter: new MemoryRateLimiter(),
    registry: new Registry(),
    tokenSecret: 'embedded-closing-token-secret-0123456789',
    keyRing: keyRing([
      { role: 'admin', key: ADMIN },
      { role: 'commentator', key: COMMENTATOR },
    ]),
    nodeId: 'embedded-closing',
    webRoot: web,
    gatewaySettings: { drainSpreadMs: 20, drainGraceMs: 100 },
  })
  open.push(app)
  const match = { id: 'm1', title: 'Final', home: 'H', away: 'A', startsAt: new Date().toISOString() }
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/matches',
    headers: { authorization: `Bearer ${ADMIN}` },
    payload: match,
  })
  expect(created.statusCode).toBe(201)
  const first = {
    request: rawRequest('POST', '/api/v1/matches/m1/events', JSON.stringify({ kind: 'commentary', text: 'in flight' })),
    gate: held,
    answered: answeredWithJson(201),
  }
  const answers = await sendWhileClosing(app, first, late, when)
  const log = await bus.readEvents('m1', 0, 10)
  return { answers, stored: log.events.map((e) => (e.data as { text?: string }).text) }
}

/** A raw request as the commentator. */
const rawRequest = (method: string, path: string, payload = '', headers: Record<string, string> = {}) =>
  anyRawRequest(method, path, payload, { authorization: `Bearer ${COMMENTATOR}`, ...headers })
const upgrade = (path: string) => rawRequest('GET', path, '', UPGRADE_HEADERS)

describe('embedded: a request that reaches the process while it closes', () => {
  it('a post under /api answers 503 unavailable (ingest answers it) and stores nothing', async () => {
    const { answers, stored } = await requestWhileClosing(
      rawRequest('POST', '/api/v1/matches/m1/events', JSON.stringify({ kind: 'commentary', text: 'too late' })),
    )
    expect(answers.map(status)).toEqual(['201', '503'])
    expectUnavailable(answers[1])
    // ingest's own hook answered it (its message), not the root's.
    expect(json(answers[1]!).message).toContain('ingest')
    expect(stored).toEqual(['in flight'])
  })

  it('a page, an unknown path and an unknown /api path answer the same 503', async () => {
    for (const path of ['/', '/index.html', '/nope', '/api/v9/nope']) {
      const { answers } = await requestWhileClosing(rawRequest('GET', path))
      expect(answers.map(status), path).toEqual(['201', '503'])
      expectUnavailable(answers[1])
    }
  })

  it('an upgrade to /ws answers the same 503 and the connection is ended, pipelined or sent after the last answer', async () => {
    for (const when of ['pipelined', 'after'] as const) {
      const { answers } = await requestWhileClosing(upgrade('/ws?match=m1'), when)
      expect(answers.map(status), when).toEqual(['201', '503'])
      expectUnavailable(answers[1])
    }
  })

  it('the health routes answer for themselves: /readyz 503 draining, /healthz 200, /api/readyz 503 draining', async () => {
    const ready = await requestWhileClosing(rawRequest('GET', '/readyz'))
    expect([status(ready.answers[1]!), json(ready.answers[1]!).status]).toEqual(['503', 'draining'])
    const live = await requestWhileClosing(rawRequest('GET', '/healthz'))
    expect([status(live.answers[1]!), json(live.answers[1]!).status]).toEqual(['200', 'ok'])
    const apiReady = await requestWhileClosing(rawRequest('GET', '/api/readyz'))
    expect([status(apiReady.answers[1]!), json(apiReady.answers[1]!).status]).toEqual(['503', 'draining'])
    const metrics = await requestWhileClosing(rawRequest('GET', '/metrics'))
    expect(status(metrics.answers[1]!)).toBe('200')
    expect(metrics.answers[1]).toContain('touchline_gateway_')
  })
})

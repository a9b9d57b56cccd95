/**
 * The auth hook's per-connection memory of the last accepted key, over a real keep-alive
 * connection (inject makes a new fake socket per request, so it never exercises it).
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { MemoryBus } from '@touchline/bus'
import { MemoryPresence } from '@touchline/presence'
import { Registry } from 'prom-client'
import { afterEach, expect, it } from 'vitest'
import { buildIngestApp } from './app.ts'
import { keyRing } from './auth.ts'
import { ADMIN_KEY as ADMIN, COMMENTATOR_KEY as COMM, MATCH } from './bad-inputs.fixture.ts'

const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c()
})

async function serve() {
  const ring = keyRing([
    { role: 'admin', key: ADMIN },
    { role: 'commentator', key: COMM },
  ])
  const app = buildIngestApp({
    bus: new MemoryBus(),
    presence: new MemoryPresence(),
    apiKeys: [],
    keyRing: ring,
    tokenSecret: 'test-secret-0123456789abcdef',
    registry: new Registry(),
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  closers.push(() => app.close())
  // One keep-alive socket for every request: what a commentator's client holds open.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  closers.push(async () => agent.destroy())
  const { port } = app.server.address() as AddressInfo
  const sockets = new Set<unknown>()
  const call = (method: string, path: string, key: string, body?: unknown) =>
    new Promise<{ status: number; json: { code?: string } }>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body)
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path,
          agent,
          headers: { authorization: `Bearer ${key}`, ...(payload ? { 'content-type': 'application/json' } : {}) },
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (d) => (text += d))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : {} }))
        },
      )
      req.on('socket', (s) => sockets.add(s))
      req.on('error', reject)
      req.end(payload)
    })
  return { ring, call, sockets }
}

const event = { kind: 'commentary', text: 'kick-off' }

it('a connection that repeats an accepted key is not re-hashed, but a reload that removes the key refuses it on the next request', async () => {
  const { ring, call, sockets } = await serve()
  expect((await call('POST', '/v1/matches', ADMIN, MATCH)).status).toBe(201)
  expect((await call('POST', `/v1/matches/${MATCH.id}/events`, COMM, event)).status).toBe(201)
  const roleOf = ring.roleOf.bind(ring)
  let hashed = 0
  ring.roleOf = (k) => {
    hashed++
    return roleOf(k)
  }
  expect((await call('POST', `/v1/matches/${MATCH.id}/events`, COMM, event)).status).toBe(201)
  expect(hashed).toBe(0) // remembered for this connection
  // The commentator key is rotated out (SIGHUP reload): same socket, same header → 401.
  ring.replace([{ role: 'admin', key: ADMIN }])
  const r = await call('POST', `/v1/matches/${MATCH.id}/events`, COMM, event)
  expect(r).toMatchObject({ status: 401, json: { code: 'unauthorized' } })
  expect(hashed).toBe(1)
  expect(sockets.size).toBe(1)
})

it('another header on the same connection is checked in full; the route role is still enforced for a remembered key', async () => {
  const { call, sockets } = await serve()
  expect((await call('POST', '/v1/matches', ADMIN, MATCH)).status).toBe(201)
  expect((await call('POST', `/v1/matches/${MATCH.id}/events`, COMM, event)).status).toBe(201)
  // A wrong key after an accepted one: 401, not the remembered role.
  expect((await call('POST', `/v1/matches/${MATCH.id}/events`, `${COMM}x`, event)).status).toBe(401)
  expect((await call('POST', `/v1/matches/${MATCH.id}/events`, COMM, event)).status).toBe(201)
  // Remembered as commentator: an admin route still answers 403.
  const r = await call('POST', '/v1/matches', COMM, { ...MATCH, id: 'm2' })
  expect(r).toMatchObject({ status: 403, json: { code: 'forbidden' } })
  expect(sockets.size).toBe(1)
})

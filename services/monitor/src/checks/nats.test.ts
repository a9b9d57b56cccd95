/**
 * The NATS check against servers in this test: a silent one (accepts, never answers, like a frozen
 * nats-server) and a small fake speaking the client protocol. Real nats-server: nats.int.test.ts.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { natsCheck } from './nats.ts'

const servers: Server[] = []
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.close()
  }
})

interface Fake {
  url: string
  /** Server-side sockets still open. */
  open: Set<Socket>
  /** CONNECT options received. */
  connects: Array<Record<string, unknown>>
}

async function server(onSocket: (s: Socket, fake: Fake) => void): Promise<Fake> {
  const fake: Fake = { url: '', open: new Set(), connects: [] }
  const srv = createServer((s) => {
    fake.open.add(s)
    s.on('close', () => fake.open.delete(s))
    s.on('error', () => {})
    onSocket(s, fake)
  })
  servers.push(srv)
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  fake.url = `nats://127.0.0.1:${(srv.address() as AddressInfo).port}`
  return fake
}

/**
 * A NATS server as far as the check goes: INFO, CONNECT, PING/PONG; `reject` answers CONNECT with
 * -ERR; while `frozen()` it reads nothing and answers nothing.
 */
function natsLike(options: { reject?: string; frozen?: () => boolean } = {}) {
  return (s: Socket, fake: Fake) => {
    s.write('INFO {"server_id":"fake","version":"2.10.0","max_payload":1048576}\r\n')
    let buf = ''
    s.on('data', (d: Buffer) => {
      if (options.frozen?.()) return
      buf += d.toString()
      for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 2)
        if (line.startsWith('CONNECT ')) {
          fake.connects.push(JSON.parse(line.slice(8)) as Record<string, unknown>)
          if (options.reject) {
            s.end(`-ERR '${options.reject}'\r\n`)
            return
          }
        } else if (line === 'PING') s.write('PONG\r\n')
      }
    })
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('NATS check', () => {
  it('a silent (frozen) server: each check times out waiting for INFO and leaves no connection open', async () => {
    const silent = await server(() => {})
    const check = natsCheck(silent.url)
    for (let i = 0; i < 5; i++) {
      const obs = await check.run(AbortSignal.timeout(100))
      expect(obs).toMatchObject({ result: 'fail', error: expect.stringMatching(/^timed out waiting for INFO from 127\.0\.0\.1:\d+$/) })
    }
    await sleep(100)
    expect(silent.open.size).toBe(0)
  })

  it('a server that stops answering PING: the kept connection is dropped, not leaked', async () => {
    let frozen = false
    const fake = await server(natsLike({ frozen: () => frozen }))
    const check = natsCheck(fake.url)
    expect((await check.run(AbortSignal.timeout(500))).result).toBe('ok')
    frozen = true
    expect(await check.run(AbortSignal.timeout(100))).toMatchObject({
      result: 'fail',
      error: expect.stringMatching(/^timed out waiting for PONG/),
    })
    await sleep(100)
    expect(fake.open.size).toBe(0)
  })

  it('keeps one connection between checks; latency is measured in fractions of a ms', async () => {
    const fake = await server(natsLike())
    const check = natsCheck(fake.url)
    const latencies: number[] = []
    for (let i = 0; i < 4; i++) {
      const obs = await check.run(AbortSignal.timeout(500))
      expect(obs.result).toBe('ok')
      latencies.push(obs.latencyMs)
    }
    expect(fake.connects).toHaveLength(1)
    expect(fake.open.size).toBe(1)
    // Not whole milliseconds (nats.js's rtt() is): at least one of four has a fraction.
    expect(latencies.some((ms) => !Number.isInteger(ms))).toBe(true)
    await check.close?.()
    await sleep(50)
    expect(fake.open.size).toBe(0)
  })

  it('sends credentials from the URL in CONNECT; a refusal is the error, without the credentials', async () => {
    const fake = await server(natsLike())
    const ok = natsCheck(fake.url.replace('nats://', 'nats://alice:s3cr%40t@'))
    expect((await ok.run(AbortSignal.timeout(500))).result).toBe('ok')
    const token = natsCheck(fake.url.replace('nats://', 'nats://t0ken@'))
    expect((await token.run(AbortSignal.timeout(500))).result).toBe('ok')
    expect(fake.connects.map((c) => [c.user, c.pass, c.auth_token])).toEqual([
      ['alice', 's3cr@t', undefined],
      [undefined, undefined, 't0ken'],
    ])
    await Promise.all([ok.close?.(), token.close?.()])

    const refusing = await server(natsLike({ reject: 'Authorization Violation' }))
    const bad = natsCheck(refusing.url.replace('nats://', 'nats://alice:wrong@'))
    const obs = await bad.run(AbortSignal.timeout(500))
    expect(obs).toMatchObject({ result: 'fail', error: 'NATS: Authorization Violation' })
  })

  it('something that is not NATS fails with what it said', async () => {
    const http = await server((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'))
    expect(await natsCheck(http.url).run(AbortSignal.timeout(500))).toMatchObject({
      result: 'fail',
      error: 'not a NATS server (it said "HTTP/1.1 400 Bad Request")',
    })
  })
})

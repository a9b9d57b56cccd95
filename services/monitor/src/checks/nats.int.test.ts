/**
 * The NATS check against a real nats-server with a password and a WebSocket listener: the forms
 * NATS_URL takes in the services (nats://user:pass@…, ws://…). Needs the nats-server binary (its
 * own configuration, which the testkit's container does not take); without it the suite fails,
 * as every integration test does without the servers .ci/run installs.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canConnect, findBinary, freePort, type Proc, startProcess, tempDir, waitFor } from '@touchline/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { natsCheck } from './nats.ts'

const bin = findBinary('nats-server')
let proc: Proc | undefined
let port: number
let wsPort: number

beforeAll(async () => {
  if (!bin) throw new Error('nats-server is not on the PATH (Debian: apt-get install nats-server)')
  const dir = tempDir('monitor-nats')
  ;[port, wsPort] = [await freePort(), await freePort()]
  writeFileSync(
    join(dir, 'nats.conf'),
    `listen: 127.0.0.1:${port}
authorization { user: alice, password: "s3cr@t" }
websocket { listen: "127.0.0.1:${wsPort}", no_tls: true }
`,
  )
  proc = startProcess(bin, ['-c', join(dir, 'nats.conf')], { cwd: dir })
  await waitFor('nats-server', async () => ((await canConnect(port)) && (await canConnect(wsPort))) || undefined, 10_000, 20)
})
afterAll(async () => {
  await proc?.stop('SIGKILL')
})

async function twice(url: string) {
  const check = natsCheck(url)
  try {
    return [await check.run(AbortSignal.timeout(1000)), await check.run(AbortSignal.timeout(1000))]
  } finally {
    await check.close?.()
  }
}

describe('NATS check on nats-server', () => {
  it('nats:// with user and password; a wrong password or none is the server refusal', async () => {
    for (const obs of await twice(`nats://alice:s3cr%40t@127.0.0.1:${port}`)) expect(obs).toMatchObject({ result: 'ok' })
    expect((await twice(`nats://alice:wrong@127.0.0.1:${port}`))[0]).toMatchObject({
      result: 'fail',
      error: 'NATS: Authorization Violation',
    })
    expect((await twice(`nats://127.0.0.1:${port}`))[0]).toMatchObject({ result: 'fail', error: 'NATS: Authorization Violation' })
  })

  it('ws:// — the WebSocket listener, CONNECT and PING/PONG in frames', async () => {
    for (const obs of await twice(`ws://alice:s3cr%40t@127.0.0.1:${wsPort}`)) expect(obs).toMatchObject({ result: 'ok' })
    expect((await twice(`ws://alice:wrong@127.0.0.1:${wsPort}`))[0]).toMatchObject({
      result: 'fail',
      error: 'NATS: Authorization Violation',
    })
    // The client port is not a WebSocket listener.
    expect((await twice(`ws://127.0.0.1:${port}`))[0]).toMatchObject({
      result: 'fail',
      error: expect.stringMatching(/^not a WebSocket listener \(it said "INFO /),
    })
  })
})

/**
 * `node services/monitor/src/main.ts` as a process: signals while starting and while stopping,
 * with servers in this test that accept connections and never answer, or refuse them.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { freePort, type Proc, startProcess, waitFor } from '@touchline/testkit'
import { afterEach, describe, expect, it } from 'vitest'

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f()
})

/** Accepts TCP connections and never answers (a frozen server). */
async function silentServer(): Promise<{ port: number; accepted: number; open: Set<Socket> }> {
  const state = { port: 0, accepted: 0, open: new Set<Socket>() }
  const server: Server = createServer((s) => {
    state.accepted++
    state.open.add(s)
    s.on('close', () => state.open.delete(s))
    s.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanup.push(() => {
    for (const s of state.open) s.destroy()
    server.close()
  })
  state.port = (server.address() as AddressInfo).port
  return state
}

async function monitor(env: Record<string, string>): Promise<{ proc: Proc; port: number }> {
  const port = await freePort()
  const proc = startProcess(process.execPath, [MAIN], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', MONITOR_AUTO_TARGETS: 'false', ...env },
  })
  cleanup.push(() => proc.stop('SIGKILL'))
  return { proc, port }
}

function ready(port: number) {
  return waitFor(
    `monitor on ${port}`,
    async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok ? true : undefined),
    10_000,
    50,
  )
}

describe('monitor process', () => {
  it('SIGHUP while starting (Redis not answering yet) does not end it; the reload is applied once it runs', async () => {
    const redis = await silentServer()
    const closed = await freePort()
    const { proc, port } = await monitor({
      MONITOR_TARGETS: `tcp://127.0.0.1:${closed}`,
      MONITOR_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    })
    // It is connecting to the state store: up to 3 s of waiting.
    await waitFor('connecting to Redis', () => (redis.accepted > 0 ? true : undefined), 10_000, 10)
    proc.child.kill('SIGHUP')
    await ready(port)
    expect(proc.child.exitCode).toBeNull()
    expect(proc.child.signalCode).toBeNull()
    await waitFor('reload applied', () => (proc.output().includes('SIGHUP: configuration reloaded') ? true : undefined), 3000, 20)
    expect(proc.output()).toContain('SIGHUP while starting')
  })

  it('SIGTERM while an e-mail alert waits to be retried and SMTP is down: exit 0, the alert abandoned, nothing sent after', async () => {
    const closed = await freePort()
    const smtp = await freePort() // nothing listens: ECONNREFUSED
    const { proc, port } = await monitor({
      MONITOR_TARGETS: `dead=tcp://127.0.0.1:${closed}`,
      MONITOR_INTERVAL_MS: '100',
      MONITOR_SMTP_URL: `smtp://127.0.0.1:${smtp}`,
      MONITOR_EMAIL_TO: 'ops@example.org',
      MONITOR_SMTP_TIMEOUT_MS: '300',
      MONITOR_EMAIL_RETRIES: '5',
      MONITOR_FLUSH_MS: '200',
    })
    await ready(port)
    // The `down` e-mail failed once and waits 1 s for its retry.
    await waitFor(
      'e-mail retry pending',
      () => (/"channel":"email","alert":"dead:down:[^"]*".*"retrying":true/.test(proc.output()) ? true : undefined),
      5000,
      20,
    )
    proc.child.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    const lines = proc
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; channel?: string; alert?: string; err?: string })
    const email = lines.filter((l) => l.channel === 'email' && l.alert?.startsWith('dead:down:'))
    expect(email.map((l) => l.msg)).toEqual(['alert delivery failed; will retry', 'alert abandoned at shutdown (not delivered)'])
    expect(proc.output()).not.toMatch(/Unhandled|triggerUncaughtException|timed out/)
  })

  it('a frozen NATS target: no connection leaked per check, and SIGTERM exits 0 at once', async () => {
    const nats = await silentServer()
    const { proc, port } = await monitor({
      MONITOR_TARGETS: `nats=nats://127.0.0.1:${nats.port}`,
      MONITOR_INTERVAL_MS: '100',
      SHUTDOWN_GRACE_MS: '1500',
      MONITOR_FLUSH_MS: '200',
    })
    await ready(port)
    await waitFor('10 checks', () => (nats.accepted >= 10 ? true : undefined), 5000, 20)
    // Each check's connection is gone once the check timed out; at most the one in flight is open.
    expect(nats.open.size).toBeLessThanOrEqual(1)
    const stopAt = Date.now()
    proc.child.kill('SIGTERM')
    expect(await proc.exited).toBe(0)
    expect(Date.now() - stopAt).toBeLessThan(1500)
    expect(proc.output()).not.toContain('shutdown took too long')
  })
})

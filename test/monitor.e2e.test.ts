/**
 * The monitor as an operator runs it: `node services/monitor/src/main.ts` as a real process,
 * watching real gateway processes (stopped, killed, restarted), with a webhook receiver and an
 * SMTP sink in this test, and real Redis for state and presence.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  freePort,
  type RedisServer,
  type ServiceProcess,
  startNats,
  startProcess,
  startRedis,
  startService,
} from '../packages/testkit/src/index.ts'
import {
  type FakeGateway,
  getJson,
  mailText,
  sleep,
  startFakeGateway,
  startSmtpSink,
  startWebhookReceiver,
  waitFor,
} from '../services/monitor/src/testing/helpers.ts'
import type { StatusReply } from '../services/monitor/src/types.ts'

const MONITOR_MAIN = fileURLToPath(new URL('../services/monitor/src/main.ts', import.meta.url))
const HAVE_GATEWAY =
  existsSync(fileURLToPath(new URL('../services/gateway/src/main.ts', import.meta.url))) && !process.env.MONITOR_E2E_FAKE_GATEWAY

/** A gateway process: the real one when it exists, else a fake serving /readyz and /metrics. */
interface GatewayProc {
  url: string
  port: number
  stop(): Promise<void>
  kill(): Promise<void>
}

async function startGateway(port: number, env: Record<string, string> = {}): Promise<GatewayProc> {
  if (HAVE_GATEWAY) {
    const g: ServiceProcess = await startService('gateway', { port, env: { DRAIN_SPREAD_MS: '0', ...env } })
    return { url: g.url, port, stop: () => g.stop(), kill: () => g.kill() }
  }
  const f: FakeGateway = await startFakeGateway({ port })
  return { url: f.url, port, stop: () => f.stop(), kill: () => f.kill() }
}

const cleanup: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {})
})

function status(m: ServiceProcess): Promise<StatusReply> {
  return getJson<StatusReply>(`${m.url}/status`)
}

describe('monitor (real processes)', () => {
  it('a stopped gateway alerts down exactly once within 3 checks, by webhook and e-mail; restarted, recovered exactly once', async () => {
    const INTERVAL = 400
    const hook = await startWebhookReceiver()
    const smtp = await startSmtpSink()
    cleanup.push(hook.close, smtp.close)
    const gwPort = await freePort()
    let gw = await startGateway(gwPort)
    cleanup.push(() => gw.kill())
    const monitor = await startService('monitor', {
      env: {
        MONITOR_TARGETS: `gw=gateway+${gw.url}`,
        MONITOR_INTERVAL_MS: String(INTERVAL),
        MONITOR_WEBHOOK_URL: hook.url,
        MONITOR_SMTP_URL: smtp.url,
        MONITOR_EMAIL_TO: 'ops@example.org',
        MONITOR_EMAIL_FROM: 'monitor@example.org',
      },
    })
    cleanup.push(() => monitor.stop())
    await waitFor('gw up', async () => (await status(monitor)).targets.find((t) => t.name === 'gw')?.state === 'up' || undefined)
    /** The first webhook delivery of a `type` alert for gw, with when it arrived. */
    const delivered = (type: 'down' | 'recovered') =>
      waitFor(`${type} alert`, () => hook.received.find((r) => r.alert.target.name === 'gw' && r.alert.type === type), 5000, 10)

    const stoppedAt = Date.now()
    const stopping = gw.stop()
    const down = await delivered('down')
    expect(down.at - stoppedAt).toBeLessThanOrEqual(3 * INTERVAL)
    expect(down.alert).toMatchObject({ type: 'down', state: 'down', target: { name: 'gw', kind: 'gateway', target: gw.url } })
    expect(down.alert.error).toMatch(/draining|ECONNREFUSED/)
    expect(down.idempotencyKey).toBe(down.alert.id)
    await stopping

    // The e-mail names the target and the error.
    const mail = await waitFor('down e-mail', () => smtp.mails.find((m) => /DOWN: gw /.test(mailText(m.raw))), 5000, 20)
    const text = mailText(mail.raw)
    expect(mail.to).toEqual(['ops@example.org'])
    expect(text).toContain(`Subject: [touchline] DOWN: gw (${gw.url})`)
    expect(text).toContain('Target:   gw')
    expect(text).toMatch(/Error: {4}(draining \(HTTP 503\)|ECONNREFUSED 127\.0\.0\.1:\d+)/)

    await sleep(3 * INTERVAL)
    expect(hook.alerts({ target: 'gw' }).map((a) => a.type)).toEqual(['down'])
    const st = (await status(monitor)).targets.find((t) => t.name === 'gw')!
    expect(st).toMatchObject({ state: 'down', discovered: false, kind: 'gateway' })
    expect(st.lastError).toMatch(/ECONNREFUSED/)

    gw = await startGateway(gwPort)
    const readyAt = Date.now()
    const rec = await delivered('recovered')
    expect(rec.at - readyAt).toBeLessThanOrEqual(3 * INTERVAL)
    await sleep(3 * INTERVAL)
    expect(hook.alerts({ target: 'gw' }).map((a) => a.type)).toEqual(['down', 'recovered'])
    await waitFor('recovered e-mail', () => smtp.mails.find((m) => /RECOVERED: gw /.test(mailText(m.raw))), 5000, 20)
    expect((await status(monitor)).alerts).toMatchObject({ failed: 0, pending: 0 })
    await monitor.stop()
    expect(monitor.proc.child.exitCode).toBe(0)
  })

  it('stays on its 2 s schedule for 50 targets while the webhook is slow, then down; alerts are retried', async () => {
    // 50 targets on one HTTP server in this process; every request's arrival time is recorded.
    const arrivals = new Map<number, number[]>()
    const failing = new Set([3, 7, 11, 19, 23, 29, 31, 37, 41, 47])
    const targets = createServer((req, res) => {
      const i = Number(req.url?.split('/')[2])
      arrivals.set(i, [...(arrivals.get(i) ?? []), performance.now()])
      res.writeHead(failing.has(i) ? 500 : 200, { 'content-type': 'application/json' })
      res.end('{"status":"ok"}')
    })
    await new Promise<void>((r) => targets.listen(0, '127.0.0.1', r))
    cleanup.push(async () => {
      targets.closeAllConnections()
      targets.close()
    })
    const port = (targets.address() as AddressInfo).port
    const hook = await startWebhookReceiver()
    cleanup.push(hook.close)
    hook.delayMs = 10_000 // slower than the monitor's webhook timeout
    const list = Array.from({ length: 50 }, (_, i) => `t${i}=http://127.0.0.1:${port}/t/${i}`).join(',')
    const monitor = await startService('monitor', {
      env: {
        MONITOR_TARGETS: list,
        MONITOR_INTERVAL_MS: '2000',
        MONITOR_WEBHOOK_URL: hook.url,
        MONITOR_WEBHOOK_TIMEOUT_MS: '700',
        MONITOR_WEBHOOK_RETRIES: '8',
        MONITOR_WEBHOOK_BACKOFF_MS: '200',
        MONITOR_FLUSH_MS: '1000',
      },
    })
    cleanup.push(() => monitor.kill())
    const t0 = performance.now()
    // Slow webhook for ~6 s (the failing targets go down after 2 checks, alerts time out and are
    // retried), then the webhook goes away altogether.
    await waitFor('webhook retries', () => [...countBy(hook.attempts.map((a) => a.id)).values()].some((n) => n >= 2) || undefined, 9000, 50)
    await sleep(Math.max(0, 6000 - (performance.now() - t0)))
    await hook.close()
    await sleep(Math.max(0, 10_300 - (performance.now() - t0)))

    // Every interval after each target's first check (which also opens its connection).
    const gaps: number[] = []
    for (let i = 0; i < 50; i++) {
      const a = arrivals.get(i) ?? []
      expect(a.length, `target t${i} checks`).toBeGreaterThanOrEqual(5)
      for (let k = 2; k < a.length; k++) gaps.push(a[k]! - a[k - 1]!)
    }
    const worst = Math.max(...gaps.map((g) => Math.abs(g - 2000)))
    expect(gaps.length).toBeGreaterThanOrEqual(150)
    expect(worst, `worst interval deviation ${worst.toFixed(1)} ms over ${gaps.length} intervals`).toBeLessThanOrEqual(200)

    // The alerts were attempted, timed out and retried; none was delivered; the checks went on.
    const perAlert = countBy(hook.attempts.map((a) => a.id))
    expect(perAlert.size).toBeGreaterThanOrEqual(failing.size)
    expect(Math.max(...perAlert.values())).toBeGreaterThanOrEqual(2)
    expect(hook.received).toEqual([])
    const st = await status(monitor)
    expect(
      st.targets
        .filter((t) => t.state === 'down')
        .map((t) => t.name)
        .sort(),
    ).toEqual([...failing].map((i) => `t${i}`).sort())
    expect(st.targets.filter((t) => t.state === 'up')).toHaveLength(40)
    expect(st.alerts.sent).toBeGreaterThan(0) // the log channel
    expect(st.alerts.channels.webhook!.sent).toBe(0)
    expect(st.alerts.channels.webhook!.pending + st.alerts.channels.webhook!.failed).toBeGreaterThanOrEqual(failing.size)
    expect(st.targets.find((t) => t.name === 'alerts:webhook')).toMatchObject({ kind: 'channel', state: 'degraded' })
    const metrics = await (await fetch(`${monitor.url}/metrics`)).text()
    expect(metrics).toMatch(/touchline_monitor_schedule_drift_seconds_count \d+/)
    expect(metrics).toMatch(/touchline_monitor_alert_attempts_failed_total\{channel="webhook"\} [1-9]/)
    expect(metrics).toContain('touchline_monitor_target_state{target="t3",kind="http",state="down"} 1')

    // SIGTERM with alerts still pending: they get MONITOR_FLUSH_MS (1 s), then the process exits 0.
    const stopAt = Date.now()
    await monitor.stop()
    expect(Date.now() - stopAt).toBeLessThan(3000)
    expect(monitor.proc.child.exitCode).toBe(0)
    expect(monitor.output()).toMatch(/alerts still undelivered at exit were abandoned/)
  })

  it('bad configuration: a one-line start-up error naming the variable or target, exit 78', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { MONITOR_TARGETS: 'q=kafka+http://127.0.0.1:9092' },
        /^monitor: configuration error: MONITOR_TARGETS entry 1 \("q=kafka\+http:\/\/127\.0\.0\.1:9092"\) unknown target kind "kafka"/,
      ],
      [
        { MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_INTERVAL_MS: '-2000' },
        /^monitor: configuration error: MONITOR_INTERVAL_MS must be at least 10, got -2000$/,
      ],
      [
        { MONITOR_TARGETS: 'gw=gateway+http//10.0.0.1:8081' },
        /^monitor: configuration error: MONITOR_TARGETS entry 1 .* is not a valid URL/,
      ],
    ]
    await Promise.all(
      cases.map(async ([env, expected]) => {
        const p = startProcess(process.execPath, [MONITOR_MAIN], { env: { ...process.env, PORT: '0', ...env } })
        const code = await p.exited
        const out = p.output().trim()
        expect(code).toBe(78)
        expect(out.split('\n')).toHaveLength(1)
        expect(out).toMatch(expected)
      }),
    )
  })

  it('SIGHUP re-reads MONITOR_CONFIG: targets added and removed, state kept, a broken file ignored', async () => {
    const hook = await startWebhookReceiver()
    cleanup.push(hook.close)
    const dir = mkdtempSync(join(tmpdir(), 'monitor-e2e-'))
    const file = join(dir, 'monitor.json')
    const closed = await freePort()
    const write = (targets: unknown[]) => writeFileSync(file, JSON.stringify({ intervalMs: 200, targets }))
    const dead = { name: 'dead', kind: 'tcp', target: `127.0.0.1:${closed}` }
    write([dead])
    const monitor = await startService('monitor', { env: { MONITOR_CONFIG: file, MONITOR_WEBHOOK_URL: hook.url } })
    cleanup.push(() => monitor.kill())
    await waitFor('dead down', () => hook.alerts({ target: 'dead', type: 'down' })[0], 5000, 20)

    // Add a target, change the other's timing only (same address: keeps its state, no new alert).
    write([
      { ...dead, failThreshold: 3 },
      { name: 'self', kind: 'http', target: `${monitor.url}/healthz` },
    ])
    monitor.proc.child.kill('SIGHUP')
    await waitFor(
      'self up',
      async () => ((await status(monitor)).targets.find((t) => t.name === 'self')?.state === 'up' ? true : undefined),
      5000,
      20,
    )
    expect((await status(monitor)).targets.find((t) => t.name === 'dead')?.state).toBe('down')

    // A broken file: logged, the running configuration stays.
    writeFileSync(file, '{ "targets": [ { "name": "x", "kind": "kafka", "target": "x" } ] }')
    monitor.proc.child.kill('SIGHUP')
    await waitFor('reload refused', () => (monitor.output().includes('SIGHUP: configuration not reloaded') ? true : undefined), 3000, 20)
    expect(monitor.output()).toMatch(/unknown target kind \\"kafka\\"/)

    write([{ name: 'self', kind: 'http', target: `${monitor.url}/healthz` }])
    monitor.proc.child.kill('SIGHUP')
    await waitFor('dead removed', async () => ((await status(monitor)).targets.some((t) => t.name === 'dead') ? undefined : true), 3000, 20)
    expect(hook.alerts({ target: 'dead' }).map((a) => a.type)).toEqual(['down'])
    expect(monitor.proc.child.exitCode).toBeNull()
  })

  it('unreachable SMTP: the alerts:email channel is degraded, logged and alerted by webhook; no crash', async () => {
    const hook = await startWebhookReceiver()
    cleanup.push(hook.close)
    const closedPort = await freePort()
    const monitor = await startService('monitor', {
      env: {
        MONITOR_TARGETS: `dead=tcp://127.0.0.1:${closedPort}`,
        MONITOR_INTERVAL_MS: '300',
        MONITOR_WEBHOOK_URL: hook.url,
        MONITOR_SMTP_URL: `smtp://127.0.0.1:${closedPort}`,
        MONITOR_EMAIL_TO: 'ops@example.org',
        MONITOR_SMTP_CHECK_MS: '300',
        MONITOR_SMTP_TIMEOUT_MS: '300',
        MONITOR_EMAIL_RETRIES: '1',
      },
    })
    cleanup.push(() => monitor.kill())
    const degraded = await waitFor(
      'alerts:email degraded alert',
      () => hook.alerts({ target: 'alerts:email', type: 'degraded' })[0],
      5000,
      20,
    )
    expect(degraded.error).toMatch(/ECONNREFUSED/)
    expect(degraded.target.kind).toBe('channel')
    await waitFor('dead target alert by webhook', () => hook.alerts({ target: 'dead', type: 'down' })[0], 5000, 20)
    await sleep(1000)
    const st = await status(monitor)
    expect(st.targets.find((t) => t.name === 'alerts:email')).toMatchObject({
      state: 'degraded',
      lastError: expect.stringMatching(/ECONNREFUSED/),
    })
    expect(hook.alerts({ target: 'alerts:email' }).map((a) => a.type)).toEqual(['degraded'])
    const ready = await fetch(`${monitor.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ status: 'degraded', checks: { 'alerts:email': expect.stringMatching(/ECONNREFUSED/) } })
    expect(monitor.proc.child.exitCode).toBeNull()
    const logged = monitor
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg?: string; alert?: { target?: { name?: string }; type?: string } })
    expect(logged.some((l) => l.alert?.target?.name === 'alerts:email' && l.alert.type === 'degraded')).toBe(true)
    await monitor.stop()
    expect(monitor.proc.child.exitCode).toBe(0)
  })

  it('canary: a gateway answering /readyz 200 but delivering nothing is down; a delivering one stays up', async (ctx) => {
    if (!HAVE_GATEWAY) ctx.skip()
    // ingest and gw-ok share NATS A; gw-miswired is on NATS B: healthy, but it never sees an event.
    const [natsA, natsB] = await Promise.all([startNats(), startNats()])
    cleanup.push(
      () => natsA.stop(),
      () => natsB.stop(),
    )
    const secret = 'canary-test-secret-0123456789'
    const key = 'admin-key-0123456789' // an admin key may create the canary match
    const common = { TOUCHLINE_TOKEN_SECRET: secret, TOUCHLINE_API_KEYS: `admin:${key}` }
    const [ingest, ok, miswired] = await Promise.all([
      startService('ingest', { env: { ...common, NATS_URL: natsA.url } }),
      startService('gateway', { env: { ...common, NATS_URL: natsA.url } }),
      startService('gateway', { env: { ...common, NATS_URL: natsB.url } }),
    ])
    cleanup.push(
      () => ingest.kill(),
      () => ok.kill(),
      () => miswired.kill(),
    )
    expect((await fetch(`${miswired.url}/readyz`)).status).toBe(200)
    const hook = await startWebhookReceiver()
    cleanup.push(hook.close)
    const monitor = await startService('monitor', {
      env: {
        MONITOR_TARGETS: `ok=gateway+${ok.url} miswired=gateway+${miswired.url}`,
        MONITOR_INTERVAL_MS: '300',
        MONITOR_CANARY_URL: ingest.url,
        MONITOR_CANARY_KEY: key,
        MONITOR_CANARY_INTERVAL_MS: '300',
        MONITOR_CANARY_TIMEOUT_MS: '600',
        MONITOR_WEBHOOK_URL: hook.url,
      },
    })
    cleanup.push(() => monitor.kill())
    const down = await waitFor('miswired down', () => hook.alerts({ target: 'miswired', type: 'down' })[0], 8000, 20).catch(
      async (err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify((await status(monitor)).targets)}`)
      },
    )
    expect(down.error).toMatch(/canary/)
    const st = await status(monitor)
    expect(
      st.targets.find((t) => t.name === 'canary'),
      JSON.stringify(st.targets),
    ).toMatchObject({ kind: 'canary', state: 'up' })
    expect(st.targets.find((t) => t.name === 'ok')).toMatchObject({ state: 'up', lastError: null })
    expect(hook.alerts({ target: 'ok' })).toEqual([])
    expect((await fetch(`${miswired.url}/readyz`)).status).toBe(200)
  })

  describe('with real Redis', () => {
    let redis: RedisServer
    beforeAll(async () => {
      redis = await startRedis()
      cleanup.push(() => redis.stop())
    })

    it('no duplicate alert after a monitor restart (state in Redis)', async () => {
      const INTERVAL = 300
      const hook = await startWebhookReceiver()
      cleanup.push(hook.close)
      // The essence here is the monitor's restart: a fake gateway (a real process) starts faster.
      const gw = await startFakeGateway()
      cleanup.push(() => gw.kill())
      const env = {
        MONITOR_TARGETS: `gw=gateway+${gw.url}`,
        MONITOR_INTERVAL_MS: String(INTERVAL),
        MONITOR_WEBHOOK_URL: hook.url,
        MONITOR_REDIS_URL: redis.url,
      }
      let monitor = await startService('monitor', { env })
      cleanup.push(() => monitor.kill())
      await waitFor('gw up', async () => (await status(monitor)).targets.find((t) => t.name === 'gw')?.state === 'up' || undefined)
      await gw.kill()
      const down = await waitFor('down alert', () => hook.alerts({ target: 'gw', type: 'down' })[0], 5000, 10)

      await monitor.stop()
      monitor = await startService('monitor', { env })
      // The restarted monitor knows at once that gw is down, since when, and does not alert again.
      const st = (await status(monitor)).targets.find((t) => t.name === 'gw')!
      expect(st.state).toBe('down')
      expect(st.since).toBe(down.since)
      await sleep(4 * INTERVAL)
      expect(hook.alerts({ target: 'gw' }).map((a) => a.type)).toEqual(['down'])

      await gw.start()
      await waitFor('recovered alert', () => hook.alerts({ target: 'gw', type: 'recovered' })[0], 5000, 10)
      await monitor.stop()
      monitor = await startService('monitor', { env })
      await sleep(4 * INTERVAL)
      expect(hook.alerts({ target: 'gw' }).map((a) => a.type)).toEqual(['down', 'recovered'])
      expect((await status(monitor)).targets.find((t) => t.name === 'gw')?.state).toBe('up')
    })

    it('discovers gateways from presence; a clean scale-down is dropped silently, a crashed node alerts', async (ctx) => {
      if (!HAVE_GATEWAY) ctx.skip()
      const INTERVAL = 300
      const hook = await startWebhookReceiver()
      cleanup.push(hook.close)
      const gwEnv = { REDIS_URL: redis.url, REDIS_PREFIX: 'disc', PRESENCE_TTL_MS: '1500', PRESENCE_HEARTBEAT_MS: '300' }
      const [a, b] = await Promise.all([startGateway(await freePort(), gwEnv), startGateway(await freePort(), gwEnv)])
      cleanup.push(
        () => a!.kill(),
        () => b!.kill(),
      )
      const monitor = await startService('monitor', {
        env: { REDIS_URL: redis.url, REDIS_PREFIX: 'disc', MONITOR_INTERVAL_MS: String(INTERVAL), MONITOR_WEBHOOK_URL: hook.url },
      })
      cleanup.push(() => monitor.kill())
      const nameOf = (g: GatewayProc) => `gateway@127.0.0.1:${g.port}`
      const find = async (g: GatewayProc) => (await status(monitor)).targets.find((t) => t.name === nameOf(g))
      await waitFor(
        'both gateways discovered and up',
        async () => ((await find(a!))?.state === 'up' && (await find(b!))?.state === 'up') || undefined,
        5000,
      )
      expect(await find(a!)).toMatchObject({ kind: 'gateway', discovered: true, target: a!.url })
      expect((await status(monitor)).targets.find((t) => t.name === 'redis')).toMatchObject({
        kind: 'redis',
        state: 'up',
        discovered: false,
      })

      // Clean scale-down: drained, left presence, exited. Dropped without an alert.
      await a!.stop()
      await waitFor('a dropped', async () => ((await find(a!)) === undefined ? true : undefined), 5000)
      await sleep(4 * INTERVAL)
      expect(hook.alerts({ target: nameOf(a!) })).toEqual([])

      // Crash: still in presence until its TTL; the monitor alerts and keeps watching it after.
      const killedAt = Date.now()
      await b!.kill()
      const down = await waitFor(
        'b down alert',
        () => hook.received.find((r) => r.alert.target.name === nameOf(b!) && r.alert.type === 'down'),
        5000,
        10,
      )
      expect(down.at - killedAt).toBeLessThanOrEqual(3 * INTERVAL)
      expect(down.alert.target.discovered).toBe(true)
      await sleep(1800) // past the presence TTL
      expect(await find(b!)).toMatchObject({ state: 'down', discovered: true })
      expect(hook.alerts({ target: nameOf(b!) }).map((x) => x.type)).toEqual(['down'])
    })
  })
})

function countBy(xs: string[]): Map<string, number> {
  const m = new Map<string, number>()
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1)
  return m
}

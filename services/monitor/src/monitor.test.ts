/**
 * The engine in this process (buildMonitorApp) with scripted checks, a fake presence and channels
 * of the test's own; HTTP servers in this process where a real check matters.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import type { Channel } from './alerts/dispatcher.ts'
import { buildMonitorApp, type MonitorAppDeps } from './app.ts'
import { type MonitorConfig, loadMonitorConfig } from './config.ts'
import { sleep, statusOf, targetOf, waitFor } from './testing/helpers.ts'
import type { Alert, Observation, TargetSpec } from './types.ts'

const open: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of open.splice(0).reverse()) await f().catch(() => {})
})

async function start(deps: Partial<MonitorAppDeps> & { config: MonitorConfig }): Promise<FastifyInstance> {
  const app = buildMonitorApp({ logger: pino({ level: 'silent' }), ...deps })
  await app.ready()
  open.push(() => app.close())
  return app
}

const status = statusOf
const target = targetOf

/** A channel that keeps what it is given. */
function recorder(): Channel & { alerts: Alert[] } {
  const alerts: Alert[] = []
  return {
    name: 'hook',
    retries: 0,
    backoffMs: 1,
    timeoutMs: 1000,
    alerts,
    async send(a) {
      alerts.push(a)
    },
  }
}

/** A channel whose deliveries never finish (until the attempt is aborted). */
function stuck(): Channel {
  return {
    name: 'stuck',
    retries: 0,
    backoffMs: 1,
    timeoutMs: 60_000,
    send: (_a, signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
  }
}

/** Checks that answer what `results[name]` says at the time; `specs` records each check built. */
function scripted(results: Record<string, Observation>) {
  const specs: TargetSpec[] = []
  const runs: Record<string, number> = {}
  return {
    specs,
    runs,
    checkFor(spec: TargetSpec) {
      specs.push(spec)
      return {
        async run() {
          runs[spec.name] = (runs[spec.name] ?? 0) + 1
          return results[spec.name] ?? { result: 'ok' as const, latencyMs: 1 }
        },
      }
    },
  }
}

const OK: Observation = { result: 'ok', latencyMs: 1 }
const DRAINING: Observation = { result: 'fail', draining: true, error: 'draining (HTTP 503)', latencyMs: 1 }
const REFUSED: Observation = { result: 'fail', error: 'ECONNREFUSED 10.0.0.9:8082', latencyMs: 1 }

/** Discovery from a presence of the test's own (REDIS_URL only enables it; nothing connects). */
function discoveryConfig(env: Record<string, string> = {}): MonitorConfig {
  return loadMonitorConfig({ REDIS_URL: 'redis://127.0.0.1:1', MONITOR_AUTO_TARGETS: 'false', MONITOR_INTERVAL_MS: '50', ...env })
}

describe('discovered gateways', () => {
  const GW = 'gateway@10.0.0.9:8082'

  it('a clean scale-down that drains for a while is silent: draining does not count towards down', async () => {
    const hook = recorder()
    const results: Record<string, Observation> = { [GW]: OK }
    let nodes = [{ nodeId: 'gw-9', url: 'http://10.0.0.9:8082' }]
    const checks = scripted(results)
    const app = await start({
      config: discoveryConfig(),
      channels: [hook],
      presence: { liveNodes: async () => nodes },
      checkFor: checks.checkFor,
    })
    await waitFor('gateway up', async () => ((await target(app, GW))?.state === 'up' ? true : undefined), 3000, 10)
    // SIGTERM: /readyz says draining for many checks (well past the fail threshold of 2) …
    results[GW] = DRAINING
    await sleep(400)
    expect(await target(app, GW)).toMatchObject({ state: 'up', lastError: 'draining (HTTP 503)' })
    // … then it leaves presence and exits.
    nodes = []
    results[GW] = REFUSED
    await waitFor('gateway dropped', async () => ((await target(app, GW)) === undefined ? true : undefined), 3000, 10)
    await sleep(200)
    expect(hook.alerts.filter((a) => a.target.name === GW)).toEqual([])
  })

  it('a drain that never ends (stuck past SHUTDOWN_GRACE_MS) counts as failing', async () => {
    const hook = recorder()
    const results: Record<string, Observation> = { [GW]: OK }
    const app = await start({
      config: { ...discoveryConfig(), shutdownGraceMs: 300 },
      channels: [hook],
      presence: { liveNodes: async () => [{ nodeId: 'gw-9', url: 'http://10.0.0.9:8082' }] },
      checkFor: scripted(results).checkFor,
    })
    await waitFor('gateway up', async () => ((await target(app, GW))?.state === 'up' ? true : undefined), 3000, 10)
    const drainingAt = Date.now()
    results[GW] = DRAINING
    const down = await waitFor('down alert', () => hook.alerts.find((a) => a.target.name === GW && a.type === 'down'), 3000, 10)
    expect(Date.now() - drainingAt).toBeGreaterThanOrEqual(300)
    expect(down.error).toBe('draining (HTTP 503)')
  })

  it('SIGHUP: new global timings apply to discovered gateways (state kept) and to the discovery poll', async () => {
    const hook = recorder()
    let polls = 0
    const checks = scripted({})
    const slow = discoveryConfig({ MONITOR_INTERVAL_MS: '1000', MONITOR_FAIL_THRESHOLD: '2' })
    const app = await start({
      config: slow,
      channels: [hook],
      presence: {
        liveNodes: async () => {
          polls++
          return [{ nodeId: 'gw-9', url: 'http://10.0.0.9:8082' }]
        },
      },
      checkFor: checks.checkFor,
    })
    await waitFor('gateway up', async () => ((await target(app, GW))?.state === 'up' ? true : undefined), 3000, 10)
    const changes = app.monitor.reload(discoveryConfig({ MONITOR_INTERVAL_MS: '50', MONITOR_FAIL_THRESHOLD: '5' }))
    expect(changes.changed).toEqual([GW])
    expect(checks.specs.at(-1)).toMatchObject({ name: GW, intervalMs: 50, timeoutMs: 37, failThreshold: 5, discovered: true })
    const [runs, polled] = [checks.runs[GW] ?? 0, polls]
    await sleep(500)
    expect((checks.runs[GW] ?? 0) - runs).toBeGreaterThanOrEqual(5)
    expect(polls - polled).toBeGreaterThanOrEqual(5)
    expect(await target(app, GW)).toMatchObject({ state: 'up', discovered: true })
    expect(hook.alerts).toEqual([])
  })
})

describe('fan-out p99', () => {
  it('is cleared in /status and /metrics when a check has none (no traffic in the window)', async () => {
    const results: Record<string, Observation> = { gw: { result: 'ok', latencyMs: 1, p99Ms: 3.4 } }
    const app = await start({
      config: loadMonitorConfig({ MONITOR_TARGETS: 'gw=gateway+http://10.0.0.5:8082', MONITOR_INTERVAL_MS: '50' }),
      channels: [],
      checkFor: scripted(results).checkFor,
    })
    const metrics = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body
    await waitFor('p99', async () => ((await target(app, 'gw'))?.p99Ms === 3.4 ? true : undefined), 3000, 10)
    expect(await metrics()).toContain('touchline_monitor_gateway_fanout_p99_seconds{target="gw"} 0.0034')
    results.gw = OK
    await waitFor('no p99', async () => ((await target(app, 'gw'))?.p99Ms === null ? true : undefined), 3000, 10)
    expect(await metrics()).not.toContain('touchline_monitor_gateway_fanout_p99_seconds{target="gw"}')
  })
})

describe('alert metrics and shutdown', () => {
  it('a drop from a full queue is counted as dropped (and given up on), not as a failed delivery attempt', async () => {
    const app = await start({
      // Down, then a reminder every check: they queue behind the `down` that never finishes.
      config: {
        ...loadMonitorConfig({ MONITOR_TARGETS: 'dead=tcp://10.0.0.1:1', MONITOR_INTERVAL_MS: '20', MONITOR_REMINDER_MS: '1' }),
        alertQueueMax: 1,
        flushMs: 50,
      },
      channels: [stuck()],
      checkFor: scripted({ dead: REFUSED }).checkFor,
    })
    const metrics = async () => (await app.inject({ method: 'GET', url: '/metrics' })).body
    await waitFor(
      'a drop',
      async () => /touchline_monitor_alerts_dropped_total\{channel="stuck",reason="queue_full"\} [1-9]/.test(await metrics()) || undefined,
      3000,
      20,
    )
    const text = await metrics()
    expect(text).not.toMatch(/touchline_monitor_alert_attempts_failed_total\{channel="stuck"\} [1-9]/)
    expect(text).toMatch(/touchline_monitor_alerts_failed_total\{channel="stuck"\} [1-9]/)
  })

  it('/readyz answers 503 draining (and /status still answers) while pending alerts are flushed at stop', async () => {
    const app = buildMonitorApp({
      config: {
        ...loadMonitorConfig({ MONITOR_TARGETS: 'dead=tcp://10.0.0.1:1', MONITOR_INTERVAL_MS: '20' }),
        flushMs: 800,
      },
      logger: pino({ level: 'silent' }),
      channels: [stuck()],
      checkFor: scripted({ dead: REFUSED }).checkFor,
    })
    open.push(() => app.close())
    await app.listen({ port: 0, host: '127.0.0.1' })
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    await waitFor('an alert pending', async () => ((await status(app)).alerts.pending > 0 ? true : undefined), 3000, 10)
    const closing = app.close()
    await sleep(100)
    const ready = await fetch(`${base}/readyz`)
    expect(ready.status).toBe(503)
    expect(await ready.json()).toEqual({ status: 'draining' })
    expect((await fetch(`${base}/status`)).status).toBe(200)
    await closing
  })
})

describe('credentials in URLs', () => {
  const servers: Server[] = []
  afterEach(() => {
    for (const s of servers.splice(0)) s.close()
  })
  async function serve(handler: (req: IncomingMessage) => [number, string]): Promise<number> {
    const server = createServer((req, res) => {
      req.resume()
      req.on('end', () => {
        const [code, body] = handler(req)
        res.writeHead(code, { 'content-type': 'application/json' }).end(body)
      })
    })
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    return (server.address() as AddressInfo).port
  }
  const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`

  it('are sent as Basic authorization (targets, gateways, webhook) and appear nowhere', async () => {
    const port = await serve((req) =>
      req.headers.authorization !== basic('user', 'p@ss') ? [401, '{}'] : req.url === '/metrics' ? [200, ''] : [200, '{"status":"ok"}'],
    )
    const hooks: Array<{ authorization: string | undefined; body: string }> = []
    const hookPort = await serve((req) => {
      hooks.push({ authorization: req.headers.authorization, body: '' })
      return [200, '{}']
    })
    const app = await start({
      config: loadMonitorConfig({
        MONITOR_TARGETS: [
          `good=http://user:p%40ss@127.0.0.1:${port}/readyz`,
          `bad=http://user:wrong-secret@127.0.0.1:${port}/readyz`,
          `gw=gateway+http://user:p%40ss@127.0.0.1:${port}`,
        ].join(' '),
        MONITOR_INTERVAL_MS: '50',
        MONITOR_WEBHOOK_URL: `http://hook:h00k-secret@127.0.0.1:${hookPort}/alerts`,
      }),
    })
    await waitFor('bad down', async () => ((await target(app, 'bad'))?.state === 'down' ? true : undefined), 3000, 10)
    await waitFor('webhook got the alert', () => hooks[0], 3000, 10)
    const st = await status(app)
    expect(st.targets.find((t) => t.name === 'good')).toMatchObject({ state: 'up', target: `http://127.0.0.1:${port}/readyz` })
    expect(st.targets.find((t) => t.name === 'gw')).toMatchObject({ state: 'up', target: `http://127.0.0.1:${port}` })
    expect(st.targets.find((t) => t.name === 'bad')).toMatchObject({ lastError: 'HTTP 401' })
    expect(st.targets.find((t) => t.name === 'alerts:webhook')).toMatchObject({ target: `http://127.0.0.1:${hookPort}/alerts` })
    expect(hooks[0]!.authorization).toBe(basic('hook', 'h00k-secret'))
    const everything = JSON.stringify(st) + (await app.inject({ method: 'GET', url: '/readyz' })).body
    for (const secret of ['p%40ss', 'p@ss', 'wrong-secret', 'h00k-secret', 'user:']) expect(everything).not.toContain(secret)
  })
})

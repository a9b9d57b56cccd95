/**
 * The monitor app in this process (buildMonitorApp) against real servers: NATS, Redis and nginx
 * from the testkit, fake-gateway processes, a webhook receiver.
 */
import { freePort, startNats, startNginx, startRedis } from '@touchline/testkit'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { buildMonitorApp } from './app.ts'
import { loadMonitorConfig } from './config.ts'
import { connectRedisState, type StateStore } from './state.ts'
import { sleep, startFakeGateway, startWebhookReceiver, statusOf, targetOf, type WebhookReceiver, waitFor } from './testing/helpers.ts'
import type { StatusReply } from './types.ts'

const open: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const f of open.splice(0).reverse()) await f().catch(() => {})
})

async function startMonitor(env: Record<string, string>, state?: StateStore): Promise<FastifyInstance> {
  const config = loadMonitorConfig(env)
  const app = buildMonitorApp({ config, logger: pino({ level: 'silent' }), ...(state ? { state } : {}) })
  await app.ready()
  open.push(() => app.close())
  return app
}

const status = statusOf
const target = targetOf

function until(app: FastifyInstance, name: string, state: string, ms = 5000) {
  return waitFor(`${name} ${state}`, async () => ((await target(app, name))?.state === state ? true : undefined), ms, 25)
}

async function receiver(): Promise<WebhookReceiver> {
  const hook = await startWebhookReceiver()
  open.push(hook.close)
  return hook
}

describe('monitor checks on real servers', () => {
  it('NATS, Redis and nginx: down when stopped (with the reason), recovered when back, one alert each', async () => {
    const nats = await startNats()
    const redis = await startRedis()
    const gw = await startFakeGateway()
    open.push(
      () => nats.stop(),
      () => redis.stop(),
      () => gw.kill(),
    )
    const nginx = await startNginx(
      (ctx) => `worker_processes 1;
${ctx.user ? `user ${ctx.user};` : ''}
events { worker_connections 64; }
http {
  access_log off;
  server {
    listen 127.0.0.1:${ctx.port};
    location / { proxy_pass http://127.0.0.1:${gw.port}; proxy_connect_timeout 1s; }
  }
}
`,
    )
    open.push(() => nginx.stop())
    const hook = await receiver()
    const app = await startMonitor({
      MONITOR_TARGETS: `nats=${nats.url} redis=${redis.url} lb=nginx+${nginx.url}/readyz`,
      MONITOR_INTERVAL_MS: '250',
      MONITOR_WEBHOOK_URL: hook.url,
    })
    await Promise.all(['nats', 'redis', 'lb'].map((n) => until(app, n, 'up')))
    expect((await target(app, 'nats'))!.latencyMs).toBeGreaterThanOrEqual(0)

    await Promise.all([nats.stop(), redis.stop(), gw.stop()])
    await Promise.all(['nats', 'redis', 'lb'].map((n) => until(app, n, 'down')))
    const st = await status(app)
    expect(st.targets.find((t) => t.name === 'nats')!.lastError).toMatch(/ECONNREFUSED|CONNECTION_REFUSED|refused/i)
    expect(st.targets.find((t) => t.name === 'redis')!.lastError).toMatch(/ECONNREFUSED|Connection is closed|refused/i)
    expect(st.targets.find((t) => t.name === 'lb')!.lastError).toBe('HTTP 502')

    await Promise.all([nats.start(), redis.start(), gw.start()])
    await Promise.all(['nats', 'redis', 'lb'].map((n) => until(app, n, 'up')))
    await waitFor('3 recovered alerts', () => (hook.alerts({ type: 'recovered' }).length === 3 ? true : undefined), 3000, 20)
    for (const n of ['nats', 'redis', 'lb']) expect(hook.alerts({ target: n }).map((a) => a.type)).toEqual(['down', 'recovered'])
  })

  it('gateway latency objective: p99 from /metrics bucket deltas over the window; degraded above it, recovered below', async () => {
    const gw = await startFakeGateway()
    open.push(() => gw.kill())
    const hook = await receiver()
    const app = await startMonitor({
      MONITOR_TARGETS: `gw=gateway+${gw.url}`,
      MONITOR_INTERVAL_MS: '200',
      MONITOR_LATENCY_P99_MS: '100',
      MONITOR_LATENCY_WINDOW_MS: '1200',
      MONITOR_WEBHOOK_URL: hook.url,
    })
    await until(app, 'gw', 'up')
    // Fast traffic: p99 a few ms.
    await gw.control({ observe: { seconds: 0.004, count: 1000 } })
    await waitFor('p99', async () => ((await target(app, 'gw'))?.p99Ms ?? 0) > 0 || undefined, 3000, 25)
    expect((await target(app, 'gw'))!.p99Ms).toBeLessThan(10)

    // 5 % of the deliveries now take 400 ms: p99 above the 100 ms objective.
    await gw.control({ observe: { seconds: 0.4, count: 60 } })
    const degraded = await waitFor('degraded alert', () => hook.alerts({ target: 'gw', type: 'degraded' })[0], 3000, 20)
    expect(degraded.error).toMatch(/fan-out p99 \d+(\.\d+)? ms > objective 100 ms/)
    expect(degraded.p99Ms).toBeGreaterThan(100)
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toMatch(/touchline_monitor_gateway_fanout_p99_seconds\{target="gw"\} 0\.[2-5]/)

    // Only fast traffic from now on: once the slow burst leaves the window, recovered.
    for (let i = 0; i < 12; i++) {
      await gw.control({ observe: { seconds: 0.003, count: 200 } })
      await sleep(150)
      if (hook.alerts({ target: 'gw', type: 'recovered' }).length > 0) break
    }
    await waitFor('recovered alert', () => hook.alerts({ target: 'gw', type: 'recovered' })[0], 3000, 20)

    // A gateway whose /readyz says degraded (503) is degraded too.
    await gw.control({ mode: 'degraded' })
    const d2 = await waitFor('degraded by readyz', () => hook.alerts({ target: 'gw', type: 'degraded' })[1], 3000, 20)
    expect(d2.error).toBe('degraded (HTTP 503) bus=reconnecting')
    expect(hook.alerts({ target: 'gw' }).map((a) => a.type)).toEqual(['degraded', 'recovered', 'degraded'])
  })

  it('reminds while a target stays down; serves /status (CORS), /healthz, /readyz, /metrics', async () => {
    const hook = await receiver()
    const port = await freePort()
    const app = await startMonitor({
      MONITOR_TARGETS: `dead=tcp://127.0.0.1:${port}`,
      MONITOR_INTERVAL_MS: '100',
      MONITOR_REMINDER_MS: '400',
      MONITOR_WEBHOOK_URL: hook.url,
    })
    await waitFor('2 reminders', () => (hook.alerts({ target: 'dead', type: 'reminder' }).length >= 2 ? true : undefined), 3000, 20)
    const types = hook.alerts({ target: 'dead' }).map((a) => a.type)
    expect(types[0]).toBe('down')
    expect(types.slice(1).every((t) => t === 'reminder')).toBe(true)
    expect(hook.alerts({ target: 'dead', type: 'reminder' })[0]!.message).toMatch(
      /dead \(127\.0\.0\.1:\d+\) is STILL DOWN since .*ECONNREFUSED/,
    )

    const res = await app.inject({ method: 'GET', url: '/status', headers: { origin: 'http://ops.example' } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['access-control-allow-origin']).toBe('*')
    const body = res.json() as StatusReply
    expect(Object.keys(body)).toEqual(['monitor', 'targets', 'alerts'])
    expect(body.monitor).toEqual({ startedAt: expect.any(String), intervalMs: 100, version: '0.1.0' })
    const dead = body.targets.find((t) => t.name === 'dead')!
    expect(dead).toEqual({
      name: 'dead',
      kind: 'tcp',
      target: `127.0.0.1:${port}`,
      state: 'down',
      since: expect.any(String),
      lastError: `ECONNREFUSED 127.0.0.1:${port}`,
      latencyMs: expect.any(Number),
      lastCheck: expect.any(String),
      discovered: false,
    })
    expect(body.alerts).toMatchObject({ sent: expect.any(Number), failed: 0, pending: expect.any(Number) })
    const pre = await app.inject({
      method: 'OPTIONS',
      url: '/status',
      headers: { origin: 'http://ops.example', 'access-control-request-method': 'GET' },
    })
    expect(pre.statusCode).toBe(204)
    expect(pre.headers['access-control-allow-methods']).toContain('GET')
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' })
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({ status: 'ok' })
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
    expect(metrics).toContain('touchline_monitor_target_state{target="dead",kind="tcp",state="down"} 1')
    expect(metrics).toMatch(/touchline_monitor_check_duration_seconds_count\{target="dead",kind="tcp",result="fail"\} \d+/)
    expect(metrics).toMatch(/touchline_monitor_alerts_sent_total\{channel="webhook",type="down"\} 1/)
    expect(metrics).toMatch(/touchline_monitor_alerts_sent_total\{channel="webhook",type="reminder"\} [1-9]/)
    expect(metrics).toMatch(/touchline_monitor_schedule_drift_seconds_bucket/)
    expect(metrics).toMatch(/touchline_monitor_alerts_failed_total/)

    // Closing: no more checks, and /readyz says draining meanwhile.
    await app.close()
    const n = hook.received.length
    await sleep(300)
    expect(hook.received.length).toBe(n)
  })

  it('the Redis state store keeps writes while Redis is away and writes them when it is back', async () => {
    const redis = await startRedis()
    open.push(() => redis.stop())
    const store = await connectRedisState({ url: redis.url, prefix: 'it', commandTimeoutMs: 300 })
    open.push(() => store.close())
    await store.save('a', { state: 'down', since: 1, kind: 'tcp', target: '127.0.0.1:1', discovered: false })
    expect(store.health()).toEqual({ ok: true })
    await redis.kill()
    // Away is a problem (/readyz degraded) before any write fails.
    await waitFor('store unhealthy', () => (store.health().ok ? undefined : true), 3000, 20)
    expect(store.health().error).toMatch(/^Redis (connecting|reconnecting|close)/)
    await store.save('b', { state: 'up', since: 2, kind: 'tcp', target: '127.0.0.1:2', discovered: false })
    expect(store.health().ok).toBe(false)
    await redis.start() // empty again: nothing was persisted by Redis itself
    await waitFor('pending write flushed', () => (store.health().ok ? true : undefined), 8000, 50)
    const loaded = await store.load()
    expect([...loaded.keys()]).toEqual(['b'])
    expect(loaded.get('b')).toMatchObject({ state: 'up', since: 2 })
  })
})

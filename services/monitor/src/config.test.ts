import { ConfigError } from '@touchline/config'
import { describe, expect, it } from 'vitest'
import { gatewaySpec } from '../../gateway/src/config.ts'
import { ingestSpec } from '../../ingest/src/config.ts'
import { displayTarget, loadMonitorConfig, monitorSpec } from './config.ts'

function fails(env: Record<string, string>, files: Record<string, string> = {}): string {
  try {
    loadMonitorConfig(env, {
      readFile: (p) =>
        files[p] ??
        (() => {
          throw Object.assign(new Error('nope'), { code: 'ENOENT' })
        })(),
    })
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    return (err as Error).message
  }
  throw new Error('expected a ConfigError')
}

describe('monitor configuration', () => {
  it('reads a compact target list, inferring the kind from the scheme', () => {
    const c = loadMonitorConfig({
      MONITOR_TARGETS:
        'gw1=gateway+http://10.0.0.5:8082/readyz, ingest=http://10.0.0.6:8081/readyz nats://10.0.0.7:4222 redis://:secret@10.0.0.8:6379 lb=nginx+http://10.0.0.9/api/healthz port=10.0.0.5:8081 tcp://[::1]:22',
    })
    expect(c.targets.map((t) => [t.name, t.kind, t.target])).toEqual([
      ['gw1', 'gateway', 'http://10.0.0.5:8082'],
      ['ingest', 'http', 'http://10.0.0.6:8081/readyz'],
      ['nats:10.0.0.7:4222', 'nats', 'nats://10.0.0.7:4222'],
      ['redis:10.0.0.8:6379', 'redis', 'redis://:secret@10.0.0.8:6379'],
      ['lb', 'nginx', 'http://10.0.0.9/api/healthz'],
      ['port', 'tcp', '10.0.0.5:8081'],
      ['tcp:[::1]:22', 'tcp', '[::1]:22'],
    ])
    expect(c.intervalMs).toBe(2000)
    expect(c.timeoutMs).toBe(1500)
    expect(c.targets[0]).toMatchObject({ intervalMs: 2000, timeoutMs: 1500, failThreshold: 2, recoverThreshold: 2, discovered: false })
    expect(displayTarget('redis', c.targets[3]!.target)).toBe('redis://10.0.0.8:6379')
  })

  it('also reads kind:name=url entries', () => {
    const c = loadMonitorConfig({
      MONITOR_TARGETS:
        'http:ingest=http://ingest:8081/readyz,nats:nats=nats://nats:4222,redis:redis=redis://redis:6379,nginx:lb=http://nginx/api/healthz',
      NATS_URL: 'nats://nats:4222',
      REDIS_URL: 'redis://redis:6379',
    })
    // NATS_URL and REDIS_URL are the same servers: watched once.
    expect(c.targets.map((t) => [t.name, t.kind])).toEqual([
      ['ingest', 'http'],
      ['nats', 'nats'],
      ['redis', 'redis'],
      ['lb', 'nginx'],
    ])
    expect(fails({ MONITOR_TARGETS: 'kafka:q=http://x:1' })).toMatch(/unknown target kind "kafka"/)
  })

  it('merges the JSON file with the variables; a set variable wins', () => {
    const file = JSON.stringify({
      intervalMs: 1000,
      failThreshold: 3,
      targets: [{ name: 'gw', kind: 'gateway', target: 'http://127.0.0.1:8081', latencyP99Ms: 100, intervalMs: 500 }],
      webhook: { url: 'http://hooks.local/x', retries: 2 },
      email: { smtpUrl: 'smtp://mail.local:25', to: ['ops@example.org'] },
    })
    const c = loadMonitorConfig(
      { MONITOR_CONFIG: '/etc/m.json', MONITOR_FAIL_THRESHOLD: '4', MONITOR_TARGETS: 'n=nats://127.0.0.1:4222' },
      { readFile: () => file },
    )
    expect(c.intervalMs).toBe(1000)
    expect(c.failThreshold).toBe(4)
    expect(c.targets.map((t) => t.name)).toEqual(['gw', 'n'])
    expect(c.targets[0]).toMatchObject({ latencyP99Ms: 100, intervalMs: 500, timeoutMs: 375 })
    expect(c.webhook).toMatchObject({ urls: ['http://hooks.local/x'], retries: 2, timeoutMs: 3000 })
    expect(c.email).toMatchObject({ smtpUrl: 'smtp://mail.local:25', to: ['ops@example.org'] })
  })

  it('watches NATS_URL and REDIS_URL and discovers gateways when REDIS_URL is set', () => {
    const c = loadMonitorConfig({ NATS_URL: 'nats://127.0.0.1:4222', REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: 'x' })
    expect(c.targets.map((t) => [t.name, t.kind])).toEqual([
      ['nats', 'nats'],
      ['redis', 'redis'],
    ])
    expect(loadMonitorConfig({ NATS_URL: 'nats://10.0.0.1:4222,nats://10.0.0.2:4222' }).targets.map((t) => t.name)).toEqual([
      'nats',
      'nats:10.0.0.2:4222',
    ])
    expect(c.discovery).toEqual({ redisUrl: 'redis://127.0.0.1:6379', presencePrefix: 'x:presence', lostRetainMs: 900_000 })
    expect(c.stateRedisUrl).toBe('redis://127.0.0.1:6379')
    expect(c.statePrefix).toBe('x:monitor')
  })

  it('names an unknown target kind', () => {
    expect(fails({ MONITOR_TARGETS: 'a=http://x:1/readyz,ftp://files.local/' })).toMatch(
      /MONITOR_TARGETS entry 2 \("ftp:\/\/files.local\/"\) unknown target kind "ftp"/,
    )
    expect(fails({ MONITOR_TARGETS: 'b=smtp+http://x:1' })).toMatch(/MONITOR_TARGETS entry 1 .*unknown target kind "smtp"/)
    const file = JSON.stringify({ targets: [{ name: 'q', kind: 'kafka', target: 'kafka://x:9092' }] })
    expect(fails({ MONITOR_CONFIG: '/m.json' }, { '/m.json': file })).toMatch(
      /MONITOR_CONFIG targets\[0\] \("q"\) unknown target kind "kafka"/,
    )
  })

  it('refuses a negative or zero interval, naming the variable', () => {
    expect(fails({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_INTERVAL_MS: '-2000' })).toBe(
      'MONITOR_INTERVAL_MS must be at least 10, got -2000',
    )
    const file = JSON.stringify({ targets: [{ name: 'g', kind: 'http', target: 'http://x/readyz', intervalMs: -5 }] })
    expect(fails({ MONITOR_CONFIG: '/m.json' }, { '/m.json': file })).toMatch(
      /MONITOR_CONFIG targets\[0\] \("g"\) intervalMs must be at least 10, got -5/,
    )
  })

  it('refuses malformed URLs, naming the target', () => {
    expect(fails({ MONITOR_TARGETS: 'gw=gateway+http//nope' })).toMatch(/MONITOR_TARGETS entry 1 .*is not a valid URL/)
    expect(fails({ MONITOR_TARGETS: 'r=redis+http://127.0.0.1:6379' })).toMatch(/a redis target must use redis: or rediss:/)
    expect(fails({ MONITOR_TARGETS: 'p=127.0.0.1:99999' })).toMatch(/has a bad port/)
    expect(fails({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_WEBHOOK_URL: 'hooks.local/x' })).toMatch(
      /^MONITOR_WEBHOOK_URL is not a valid URL/,
    )
    expect(fails({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_SMTP_URL: 'smtp://mail:25' })).toMatch(/MONITOR_EMAIL_TO is required/)
    expect(fails({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_CANARY_URL: 'http://ingest:8081' })).toMatch(
      /MONITOR_CANARY_KEY is required/,
    )
    expect(
      loadMonitorConfig({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_CANARY_URL: 'http://lb/api', MONITOR_CANARY_KEY: 'k-12345678' })
        .canary,
    ).toEqual({ url: 'http://lb/api', key: 'k-12345678', matchId: 'monitor-canary', intervalMs: 10_000, timeoutMs: 3000 })
  })

  it('refuses a timeout longer than the interval, duplicate names, unknown file keys and no targets', () => {
    expect(fails({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_INTERVAL_MS: '500', MONITOR_TIMEOUT_MS: '800' })).toMatch(
      /MONITOR_TIMEOUT_MS \(800\) must not exceed/,
    )
    expect(fails({ MONITOR_TARGETS: 'a=tcp://127.0.0.1:1 a=tcp://127.0.0.1:2' })).toMatch(/target name "a" is already used/)
    expect(fails({ MONITOR_CONFIG: '/m.json' }, { '/m.json': '{"intervalMs": 1000, "targtes": []}' })).toMatch(/unknown key "targtes"/)
    expect(fails({ MONITOR_CONFIG: '/m.json' }, { '/m.json': '{ nope' })).toMatch(/MONITOR_CONFIG is not valid JSON/)
    expect(fails({ MONITOR_CONFIG: '/missing.json' })).toMatch(/MONITOR_CONFIG cannot be read \(\/missing.json\): ENOENT/)
    expect(fails({})).toMatch(/no targets/)
  })
})

describe('monitor configuration: what used to be accepted and fail later', () => {
  const withFile = (json: unknown, env: Record<string, string> = {}) =>
    fails({ MONITOR_CONFIG: '/m.json', MONITOR_TARGETS: 'tcp://127.0.0.1:1', ...env }, { '/m.json': JSON.stringify(json) })

  it('webhook headers: an array, a bad name, a non-string or multi-line value are refused (values never quoted)', () => {
    const hook = { url: 'http://hooks.local/x' }
    expect(withFile({ webhook: { ...hook, headers: [['authorization', 'Bearer x']] } })).toMatch(
      /^MONITOR_CONFIG webhook.headers must be an object of header names to string values/,
    )
    expect(withFile({ webhook: { ...hook, headers: { 'x bad': 'v' } } })).toBe(
      'MONITOR_CONFIG webhook.headers has an invalid header name "x bad"',
    )
    expect(withFile({ webhook: { ...hook, headers: { 'x-n': 5 } } })).toBe('MONITOR_CONFIG webhook.headers.x-n must be a string')
    const multiLine = withFile({ webhook: { ...hook, headers: { authorization: 'Bearer s3cret\r\nx-evil: 1' } } })
    expect(multiLine).toMatch(/^MONITOR_CONFIG webhook.headers.authorization is not a valid header value/)
    expect(multiLine).not.toContain('s3cret')
    expect(withFile({ webhook: { ...hook, headers: { Authorization: 'a', authorization: 'b' } } })).toMatch(/sets "authorization" twice/)
    // Valid ones are kept, lowercased (so they replace the defaults of the same name).
    const c = loadMonitorConfig(
      { MONITOR_CONFIG: '/m.json', MONITOR_TARGETS: 'tcp://127.0.0.1:1' },
      { readFile: () => JSON.stringify({ webhook: { ...hook, headers: { Authorization: 'Bearer x', 'X-Team': 'ops' } } }) },
    )
    expect(c.webhook?.headers).toEqual({ authorization: 'Bearer x', 'x-team': 'ops' })
  })

  it('a broken email or webhook section is an error, as the variables are, never silently off', () => {
    expect(withFile({ email: { smtpUrl: 25, to: ['ops@example.org'] } })).toMatch(/^MONITOR_CONFIG email.smtpUrl must be a string/)
    expect(withFile({ email: { to: ['ops@example.org'] } })).toBe('MONITOR_CONFIG email has no "smtpUrl" (and MONITOR_SMTP_URL is not set)')
    expect(withFile({ email: { smtpUrl: 'smtp://mail:25' } })).toMatch(/^MONITOR_CONFIG email.to is required/)
    expect(withFile({ email: { smtpUrl: 'smtp://mail:25', to: [42] } })).toMatch(/MONITOR_CONFIG email.to must be an address or a list/)
    expect(withFile({ webhook: { headers: { authorization: 'Bearer x' } } })).toBe(
      'MONITOR_CONFIG webhook has no "url" (and MONITOR_WEBHOOK_URL is not set)',
    )
  })

  it('credentials: accepted in target and webhook URLs (sent as Basic), never in an error; refused where they clash', () => {
    const c = loadMonitorConfig({
      MONITOR_TARGETS: 'gw=gateway+http://u:p%40ss@10.0.0.5:8082/readyz',
      MONITOR_WEBHOOK_URL: 'https://u:pw@hooks.local/x',
    })
    expect(c.targets[0]!.target).toBe('http://u:p%40ss@10.0.0.5:8082')
    expect(displayTarget('gateway', c.targets[0]!.target)).toBe('http://10.0.0.5:8082')
    expect(withFile({ webhook: { url: 'https://u:pw@hooks.local/x', headers: { authorization: 'Bearer x' } } })).toMatch(
      /sets "authorization" while a webhook URL holds credentials/,
    )
    expect(
      fails({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_CANARY_URL: 'http://u:pw@ingest:8081', MONITOR_CANARY_KEY: 'k-12345678' }),
    ).toMatch(/^MONITOR_CANARY_URL must not hold credentials/)
    for (const msg of [
      fails({ MONITOR_TARGETS: 'x=kafka+http://admin:hunter2@10.0.0.1:9092' }),
      fails({ MONITOR_TARGETS: 'tcp://127.0.0.1:1', MONITOR_WEBHOOK_URL: 'ftp://admin:hunter2@hooks.local/' }),
      fails({ MONITOR_TARGETS: 'r=redis+http://admin:hunter2@10.0.0.1:6379' }),
    ]) {
      expect(msg).toMatch(/admin|kafka|ftp|redis/)
      expect(msg).not.toContain('hunter2')
    }
  })

  it('default names are valid names, whatever the path holds', () => {
    const c = loadMonitorConfig({ MONITOR_TARGETS: 'http://10.0.0.6:8081/~ops/health%20check http://10.0.0.6:8081/a+b(c)' })
    expect(c.targets.map((t) => t.name)).toEqual(['http:10.0.0.6:8081/_ops/health_20check', 'http:10.0.0.6:8081/a_b_c_'])
  })

  it('NATS_URL with ws:// or wss:// (as the services take it) is watched', () => {
    const c = loadMonitorConfig({ NATS_URL: 'ws://10.0.0.7:8080,wss://nats.example.org' })
    expect(c.targets.map((t) => [t.name, t.kind, t.target])).toEqual([
      ['nats', 'nats', 'ws://10.0.0.7:8080'],
      ['nats:nats.example.org', 'nats', 'wss://nats.example.org'],
    ])
    expect(loadMonitorConfig({ MONITOR_TARGETS: 'n=nats+ws://10.0.0.7:8080' }).targets[0]).toMatchObject({ kind: 'nats' })
  })
})

// The README's monitor table is generated from monitorSpec: what it says must be what the monitor does.
describe('monitor variable descriptions', () => {
  const example = (describe: string) => /e\.g\. `?([^`\s)]+)/.exec(describe)?.[1] ?? ''

  it("the MONITOR_TARGETS example is a valid target list naming a gateway on the gateway's default port", () => {
    const c = loadMonitorConfig({ MONITOR_TARGETS: example(monitorSpec.MONITOR_TARGETS.describe) })
    const gw = c.targets.find((t) => t.kind === 'gateway')
    expect(gw).toBeDefined()
    expect(new URL(gw!.target).port).toBe(gatewaySpec.PORT.defaultText)
  })

  it("the MONITOR_CANARY_URL example is on ingest's default port", () => {
    expect(new URL(example(monitorSpec.MONITOR_CANARY_URL.describe)).port).toBe(ingestSpec.PORT.defaultText)
  })

  it('NATS_URL and REDIS_URL say what the monitor does with them (watch, discover, keep state), not an in-memory fallback', () => {
    for (const f of [monitorSpec.NATS_URL, monitorSpec.REDIS_URL]) {
      expect(f.describe).not.toMatch(/in-memory/)
      expect(f.describe).toMatch(/watched/)
    }
    expect(monitorSpec.REDIS_URL.describe).toMatch(/discovered.*alert state/)
    // Unset, nothing is watched and the alert state is in memory.
    const c = loadMonitorConfig({ MONITOR_TARGETS: 'http://127.0.0.1:1/readyz' })
    expect(c.targets.map((t) => t.kind)).toEqual(['http'])
    expect(c.stateRedisUrl).toBeUndefined()
    expect(c.discovery).toBeUndefined()
  })

  it('unset MONITOR_PRESENCE_PREFIX is listed with the prefix it falls back to', () => {
    const c = loadMonitorConfig({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_PREFIX: 'xy' })
    expect(c.discovery?.presencePrefix).toBe('xy:presence')
    expect(monitorSpec.MONITOR_PRESENCE_PREFIX.defaultText).toBe('`<REDIS_PREFIX>:presence`')
  })
})

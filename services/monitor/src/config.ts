/**
 * The monitor's configuration: environment variables (read through @touchline/config, the only
 * reader of process.env), an optional JSON file named by MONITOR_CONFIG, and a compact target list
 * in MONITOR_TARGETS. Anything wrong throws one ConfigError naming the variable, the file entry or
 * the target, so main can print one line and exit 78.
 *
 * Precedence: a variable that is set wins over the file, the file over the default. Targets from
 * the file and from MONITOR_TARGETS are combined (names must be unique).
 */
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { baseSpec, bool, ConfigError, type Field, int, loadConfig, optionalStr, str, urls } from '@touchline/config'
import type { CanaryConfig } from './checks/canary.ts'
import { redactCredentials } from './checks/util.ts'
import { type AnyKind, TARGET_KINDS, type TargetKind, type TargetSpec } from './types.ts'

/** An optional whole number: undefined when unset, so the file or the default can apply. */
function optInt(o: { min?: number; max?: number; describe: string; defaultText: string }): Field<number | undefined> {
  return {
    describe: o.describe,
    defaultText: o.defaultText,
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return undefined
      return checkInt(raw.trim(), o.min, o.max)
    },
  }
}

function checkInt(t: string | number, min?: number, max?: number): number {
  const n = typeof t === 'number' ? t : /^-?\d+$/.test(t) ? Number(t) : Number.NaN
  if (!Number.isSafeInteger(n)) throw new Error(`must be a whole number, got ${JSON.stringify(t)}`)
  if (min !== undefined && n < min) throw new Error(`must be at least ${min}, got ${n}`)
  if (max !== undefined && n > max) throw new Error(`must be at most ${max}, got ${n}`)
  return n
}

export const DEFAULTS = {
  intervalMs: 2000,
  failThreshold: 2,
  recoverThreshold: 2,
  reminderMs: 300_000,
  latencyP99Ms: 250,
  latencyWindowMs: 30_000,
  webhookTimeoutMs: 3000,
  webhookRetries: 5,
  webhookBackoffMs: 500,
  smtpTimeoutMs: 5000,
  smtpCheckMs: 60_000,
  emailRetries: 3,
} as const

/** Default check timeout for an interval: 75 % of it, at most 1.5 s. */
export function defaultTimeout(intervalMs: number): number {
  return Math.max(10, Math.min(1500, Math.floor(intervalMs * 0.75)))
}

export const monitorSpec = {
  PORT: int({ default: 8090, min: 0, max: 65535, describe: 'port of /status, /healthz, /readyz, /metrics' }),
  HOST: baseSpec.HOST,
  LOG_LEVEL: baseSpec.LOG_LEVEL,
  // The services' NATS_URL and REDIS_URL, parsed the same way, but the monitor has no bus and no
  // presence of its own: it watches these servers (and reads presence to find the gateways), so an
  // unset one is simply not watched, never an in-memory stand-in.
  NATS_URL: {
    ...baseSpec.NATS_URL,
    describe:
      'the NATS servers the services use, comma-separated: each is watched as a `nats` target (with MONITOR_AUTO_TARGETS); unset = not watched (the monitor has no bus)',
  },
  REDIS_URL: {
    ...baseSpec.REDIS_URL,
    describe:
      'the Redis the services use: watched as the `redis` target (with MONITOR_AUTO_TARGETS), where gateways are discovered (MONITOR_DISCOVERY) and where alert state is kept (unless MONITOR_REDIS_URL); unset = none of these, alert state in memory',
  },
  REDIS_PREFIX: baseSpec.REDIS_PREFIX,
  SHUTDOWN_GRACE_MS: baseSpec.SHUTDOWN_GRACE_MS,
  MONITOR_CONFIG: optionalStr({ describe: 'path of a JSON configuration file (targets, channels, timings); see README' }),
  MONITOR_TARGETS: optionalStr({
    // A gateway listens on 8082 by default (ingest on 8081); config.test.ts parses this example.
    describe: 'compact target list, comma- or space-separated `[name=][kind+]url` (see README), e.g. `gw1=gateway+http://10.0.0.5:8082`',
  }),
  MONITOR_AUTO_TARGETS: bool({ default: true, describe: 'also watch NATS_URL (as `nats`) and REDIS_URL (as `redis`) when set' }),
  MONITOR_INTERVAL_MS: optInt({ min: 10, max: 3_600_000, describe: 'time between two checks of a target', defaultText: '2000' }),
  MONITOR_TIMEOUT_MS: optInt({
    min: 10,
    max: 3_600_000,
    describe: 'timeout of one check; at most the interval',
    defaultText: '75 % of the interval, ≤ 1500',
  }),
  MONITOR_FAIL_THRESHOLD: optInt({ min: 1, max: 100, describe: 'consecutive failed checks before a target is down', defaultText: '2' }),
  MONITOR_RECOVER_THRESHOLD: optInt({
    min: 1,
    max: 100,
    describe: 'consecutive good (or degraded) checks before a target takes that state',
    defaultText: '2',
  }),
  MONITOR_REMINDER_MS: optInt({
    min: 0,
    max: 86_400_000 * 7,
    describe: 'repeat the alert while a target stays down; 0 = never',
    defaultText: '300000',
  }),
  MONITOR_LATENCY_P99_MS: optInt({
    min: 1,
    max: 600_000,
    describe: 'gateway fan-out p99 objective; above it the gateway is degraded',
    defaultText: '250',
  }),
  MONITOR_LATENCY_WINDOW_MS: optInt({
    min: 100,
    max: 3_600_000,
    describe: 'window of the p99 (bucket deltas over it)',
    defaultText: '30000',
  }),
  MONITOR_WEBHOOK_URL: urls({ protocols: ['http:', 'https:'], describe: 'webhook(s) receiving a JSON POST per alert, comma-separated' }),
  MONITOR_WEBHOOK_TIMEOUT_MS: optInt({ min: 10, max: 600_000, describe: 'timeout of one webhook POST', defaultText: '3000' }),
  MONITOR_WEBHOOK_RETRIES: optInt({
    min: 0,
    max: 50,
    describe: 'retries of a failed webhook POST (exponential back-off)',
    defaultText: '5',
  }),
  MONITOR_WEBHOOK_BACKOFF_MS: optInt({
    min: 1,
    max: 600_000,
    describe: 'first retry delay; doubles each retry, capped at 30 s',
    defaultText: '500',
  }),
  MONITOR_SMTP_URL: urls({ protocols: ['smtp:', 'smtps:'], describe: 'SMTP server for e-mail alerts, e.g. smtp://user:pass@mail:587' }),
  MONITOR_EMAIL_TO: optionalStr({ describe: 'recipients of e-mail alerts, comma-separated (required with MONITOR_SMTP_URL)' }),
  MONITOR_EMAIL_FROM: optionalStr({ describe: 'sender of e-mail alerts; default touchline-monitor@<host name>' }),
  MONITOR_SMTP_TIMEOUT_MS: optInt({
    min: 10,
    max: 600_000,
    describe: 'connection, greeting and socket timeout of SMTP',
    defaultText: '5000',
  }),
  MONITOR_SMTP_CHECK_MS: optInt({
    min: 10,
    max: 86_400_000,
    describe: 'how often the SMTP server is verified (the `alerts:email` channel)',
    defaultText: '60000',
  }),
  MONITOR_EMAIL_RETRIES: optInt({ min: 0, max: 50, describe: 'retries of a failed e-mail', defaultText: '3' }),
  MONITOR_REDIS_URL: urls({
    protocols: ['redis:', 'rediss:'],
    describe: 'Redis for the alert state (no repeat alert after a restart); default REDIS_URL; unset = memory',
  }),
  MONITOR_DISCOVERY: bool({ default: true, describe: 'watch gateways found in presence (needs REDIS_URL)' }),
  MONITOR_PRESENCE_PREFIX: {
    ...optionalStr({ describe: 'presence key prefix, if the gateways use another one than their default', pattern: /^[^{}\s]{1,64}$/ }),
    // Unset is not "none": loadMonitorConfig falls back to the gateways' own prefix.
    defaultText: '`<REDIS_PREFIX>:presence`',
  },
  MONITOR_LOST_RETAIN_MS: int({
    default: 900_000,
    min: 0,
    max: 86_400_000 * 7,
    describe: 'how long a gateway that vanished from presence without leaving (crash) stays watched',
  }),
  MONITOR_CANARY_URL: urls({
    protocols: ['http:', 'https:'],
    describe: 'ingest API base (e.g. http://ingest:8081 or http://lb/api): post a canary event there and expect it on every gateway',
  }),
  MONITOR_CANARY_KEY: optionalStr({ describe: 'commentator (or admin) API key for the canary (required with MONITOR_CANARY_URL)' }),
  MONITOR_CANARY_MATCH: str({ default: 'monitor-canary', pattern: /^[A-Za-z0-9_-]{1,64}$/, describe: 'match id the canary events go to' }),
  MONITOR_CANARY_INTERVAL_MS: int({ default: 10_000, min: 100, max: 3_600_000, describe: 'how often a canary event is posted' }),
  MONITOR_CANARY_TIMEOUT_MS: int({
    default: 3000,
    min: 50,
    max: 600_000,
    describe: 'a canary not on a gateway this long after it was posted fails that gateway',
  }),
  MONITOR_FLUSH_MS: int({ default: 5000, min: 0, max: 600_000, describe: 'on SIGTERM, how long pending alerts may still be delivered' }),
  MONITOR_ALERT_QUEUE_MAX: int({
    default: 1000,
    min: 1,
    max: 1_000_000,
    describe: 'deliveries waiting per channel before the oldest are dropped',
  }),
} as const

export interface WebhookConfig {
  urls: string[]
  timeoutMs: number
  retries: number
  backoffMs: number
  headers: Record<string, string>
}

export interface EmailConfig {
  smtpUrl: string
  to: string[]
  from: string
  timeoutMs: number
  checkMs: number
  retries: number
}

export interface DiscoveryConfig {
  redisUrl: string
  presencePrefix: string
  lostRetainMs: number
}

export interface MonitorConfig {
  port: number
  host: string
  logLevel: string
  intervalMs: number
  timeoutMs: number
  failThreshold: number
  recoverThreshold: number
  reminderMs: number
  latencyP99Ms: number
  latencyWindowMs: number
  targets: TargetSpec[]
  webhook?: WebhookConfig
  email?: EmailConfig
  /** Redis for the alert state; unset = in memory. */
  stateRedisUrl?: string
  statePrefix: string
  discovery?: DiscoveryConfig
  /** Post canary events through ingest and expect them on every gateway. */
  canary?: CanaryConfig
  flushMs: number
  shutdownGraceMs: number
  alertQueueMax: number
}

type Problem = { variable: string; problem: string }

const FILE_KEYS = [
  'intervalMs',
  'timeoutMs',
  'failThreshold',
  'recoverThreshold',
  'reminderMs',
  'latencyP99Ms',
  'latencyWindowMs',
  'targets',
  'webhook',
  'email',
] as const
const TARGET_KEYS = [
  'name',
  'kind',
  'target',
  'url',
  'intervalMs',
  'timeoutMs',
  'failThreshold',
  'recoverThreshold',
  'latencyP99Ms',
  'latencyWindowMs',
]
const NAME = /^[A-Za-z0-9[][A-Za-z0-9_.:@/[\]-]{0,127}$/

interface RawTarget {
  where: string
  name?: string
  kind: string
  target: string
  intervalMs?: number
  timeoutMs?: number
  failThreshold?: number
  recoverThreshold?: number
  latencyP99Ms?: number
  latencyWindowMs?: number
}

export interface LoadOptions {
  readFile?: (path: string) => string
}

export function loadMonitorConfig(env: Record<string, string | undefined> = process.env, options: LoadOptions = {}): MonitorConfig {
  let v: ReturnType<typeof loadConfig<typeof monitorSpec>>
  try {
    v = loadConfig(monitorSpec, env)
  } catch (err) {
    throw err instanceof ConfigError ? redacted(err.problems) : err
  }
  const problems: Problem[] = []
  const file = v.MONITOR_CONFIG ? readConfigFile(v.MONITOR_CONFIG, options.readFile, problems) : {}
  const fromFile = (key: string, min: number, max: number): number | undefined => {
    const raw = file[key]
    if (raw === undefined) return undefined
    try {
      return checkInt(raw as number, min, max)
    } catch (err) {
      problems.push({ variable: `MONITOR_CONFIG ${key}`, problem: (err as Error).message })
      return undefined
    }
  }

  const intervalMs = v.MONITOR_INTERVAL_MS ?? fromFile('intervalMs', 10, 3_600_000) ?? DEFAULTS.intervalMs
  const timeoutMs = v.MONITOR_TIMEOUT_MS ?? fromFile('timeoutMs', 10, 3_600_000) ?? defaultTimeout(intervalMs)
  if (timeoutMs > intervalMs) {
    problems.push({
      variable: v.MONITOR_TIMEOUT_MS !== undefined ? 'MONITOR_TIMEOUT_MS' : 'MONITOR_CONFIG timeoutMs',
      problem: `(${timeoutMs}) must not exceed the check interval (${intervalMs})`,
    })
  }
  const failThreshold = v.MONITOR_FAIL_THRESHOLD ?? fromFile('failThreshold', 1, 100) ?? DEFAULTS.failThreshold
  const recoverThreshold = v.MONITOR_RECOVER_THRESHOLD ?? fromFile('recoverThreshold', 1, 100) ?? DEFAULTS.recoverThreshold
  const reminderMs = v.MONITOR_REMINDER_MS ?? fromFile('reminderMs', 0, 86_400_000 * 7) ?? DEFAULTS.reminderMs
  const latencyP99Ms = v.MONITOR_LATENCY_P99_MS ?? fromFile('latencyP99Ms', 1, 600_000) ?? DEFAULTS.latencyP99Ms
  const latencyWindowMs = v.MONITOR_LATENCY_WINDOW_MS ?? fromFile('latencyWindowMs', 100, 3_600_000) ?? DEFAULTS.latencyWindowMs

  // Targets: file, then MONITOR_TARGETS, then NATS_URL / REDIS_URL.
  const raws: RawTarget[] = []
  if (file.targets !== undefined) {
    if (!Array.isArray(file.targets)) problems.push({ variable: 'MONITOR_CONFIG targets', problem: 'must be an array' })
    else
      file.targets.forEach((t, i) => {
        fileTarget(t, i, problems, raws)
      })
  }
  if (v.MONITOR_TARGETS) parseCompactTargets(v.MONITOR_TARGETS, problems, raws)
  if (v.MONITOR_AUTO_TARGETS) {
    const taken = new Set(raws.map((r) => r.name))
    for (const url of v.NATS_URL ?? []) {
      raws.push({ where: 'NATS_URL', name: taken.has('nats') ? undefined : 'nats', kind: 'nats', target: url })
      taken.add('nats')
    }
    const redis = v.REDIS_URL?.[0]
    if (redis) raws.push({ where: 'REDIS_URL', name: taken.has('redis') ? undefined : 'redis', kind: 'redis', target: redis })
  }

  const targets: TargetSpec[] = []
  const names = new Map<string, string>()
  const seen = new Set<string>()
  for (const r of raws) {
    const where = r.where
    const spec = buildTarget(r, where, problems, { intervalMs, timeoutMs, failThreshold, recoverThreshold, latencyP99Ms, latencyWindowMs })
    if (!spec) continue
    // NATS_URL / REDIS_URL already listed explicitly: watch them once.
    const key = `${spec.kind} ${spec.target}`
    if ((r.where === 'NATS_URL' || r.where === 'REDIS_URL') && seen.has(key)) continue
    seen.add(key)
    const prev = names.get(spec.name)
    if (prev) {
      problems.push({ variable: r.where, problem: `target name "${spec.name}" is already used by ${prev}` })
      continue
    }
    names.set(spec.name, r.where)
    targets.push(spec)
  }

  const webhook = webhookConfig(v, file.webhook, problems)
  const email = emailConfig(v, file.email, problems)

  const presenceRedis = v.REDIS_URL?.[0]
  const discovery: DiscoveryConfig | undefined =
    v.MONITOR_DISCOVERY && presenceRedis
      ? {
          redisUrl: presenceRedis,
          presencePrefix: v.MONITOR_PRESENCE_PREFIX ?? `${v.REDIS_PREFIX}:presence`,
          lostRetainMs: v.MONITOR_LOST_RETAIN_MS,
        }
      : undefined

  let canary: CanaryConfig | undefined
  const canaryUrl = v.MONITOR_CANARY_URL?.[0]
  if (canaryUrl) {
    if (hasCredentials(canaryUrl))
      problems.push({
        variable: 'MONITOR_CANARY_URL',
        problem: 'must not hold credentials: the canary authenticates with MONITOR_CANARY_KEY (Authorization: Bearer)',
      })
    else if (!v.MONITOR_CANARY_KEY)
      problems.push({
        variable: 'MONITOR_CANARY_KEY',
        problem: 'is required when MONITOR_CANARY_URL is set (a commentator or admin API key)',
      })
    else
      canary = {
        url: canaryUrl,
        key: v.MONITOR_CANARY_KEY,
        matchId: v.MONITOR_CANARY_MATCH,
        intervalMs: v.MONITOR_CANARY_INTERVAL_MS,
        timeoutMs: v.MONITOR_CANARY_TIMEOUT_MS,
      }
  }

  if (problems.length === 0 && targets.length === 0 && !discovery) {
    problems.push({
      variable: 'MONITOR_TARGETS',
      problem:
        'no targets: set MONITOR_TARGETS or MONITOR_CONFIG, or REDIS_URL / NATS_URL (watched, and gateways discovered from presence)',
    })
  }
  if (problems.length > 0) throw redacted(problems)

  return {
    port: v.PORT,
    host: v.HOST,
    logLevel: v.LOG_LEVEL,
    intervalMs,
    timeoutMs,
    failThreshold,
    recoverThreshold,
    reminderMs,
    latencyP99Ms,
    latencyWindowMs,
    targets,
    webhook,
    email,
    stateRedisUrl: v.MONITOR_REDIS_URL?.[0] ?? v.REDIS_URL?.[0],
    statePrefix: `${v.REDIS_PREFIX}:monitor`,
    discovery,
    ...(canary ? { canary } : {}),
    flushMs: v.MONITOR_FLUSH_MS,
    shutdownGraceMs: v.SHUTDOWN_GRACE_MS,
    alertQueueMax: v.MONITOR_ALERT_QUEUE_MAX,
  }
}

function readConfigFile(path: string, readFile: ((p: string) => string) | undefined, problems: Problem[]): Record<string, unknown> {
  let text: string
  try {
    text = (readFile ?? ((p: string) => readFileSync(p, 'utf8')))(path)
  } catch (err) {
    problems.push({
      variable: 'MONITOR_CONFIG',
      problem: `cannot be read (${path}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    })
    return {}
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    problems.push({ variable: 'MONITOR_CONFIG', problem: `is not valid JSON (${path}): ${(err as Error).message}` })
    return {}
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    problems.push({ variable: 'MONITOR_CONFIG', problem: `must hold a JSON object (${path})` })
    return {}
  }
  const obj = json as Record<string, unknown>
  for (const k of Object.keys(obj)) {
    if (!(FILE_KEYS as readonly string[]).includes(k)) {
      problems.push({ variable: 'MONITOR_CONFIG', problem: `has an unknown key "${k}" (known: ${FILE_KEYS.join(', ')})` })
    }
  }
  return obj
}

function fileTarget(t: unknown, i: number, problems: Problem[], out: RawTarget[]): void {
  const where = `MONITOR_CONFIG targets[${i}]`
  if (typeof t !== 'object' || t === null || Array.isArray(t)) {
    problems.push({ variable: where, problem: 'must be an object with name, kind and target' })
    return
  }
  const o = t as Record<string, unknown>
  const label = typeof o.name === 'string' ? `${where} ("${o.name}")` : where
  for (const k of Object.keys(o)) {
    if (!TARGET_KEYS.includes(k)) problems.push({ variable: label, problem: `has an unknown key "${k}"` })
  }
  if (typeof o.name !== 'string') problems.push({ variable: where, problem: 'needs a "name" (string)' })
  if (typeof o.kind !== 'string') {
    problems.push({ variable: label, problem: `needs a "kind" (one of ${TARGET_KINDS.join(', ')})` })
    return
  }
  const target = o.target ?? o.url
  if (typeof target !== 'string') {
    problems.push({ variable: label, problem: 'needs a "target" (URL, or host:port for tcp)' })
    return
  }
  const raw: RawTarget = { where: label, name: typeof o.name === 'string' ? o.name : undefined, kind: o.kind, target }
  const ints: Array<[keyof RawTarget & string, number, number]> = [
    ['intervalMs', 10, 3_600_000],
    ['timeoutMs', 10, 3_600_000],
    ['failThreshold', 1, 100],
    ['recoverThreshold', 1, 100],
    ['latencyP99Ms', 1, 600_000],
    ['latencyWindowMs', 100, 3_600_000],
  ]
  for (const [k, min, max] of ints) {
    if (o[k] === undefined) continue
    try {
      ;(raw as unknown as Record<string, number>)[k] = checkInt(o[k] as number, min, max)
    } catch (err) {
      problems.push({ variable: `${label} ${k}`, problem: (err as Error).message })
    }
  }
  out.push(raw)
}

/**
 * `[name=][kind+]url` (or `kind:name=url`), comma- or space-separated. The kind may be left out
 * when the URL scheme says it: http(s) → http, nats/tls → nats, redis(s) → redis, tcp://host:port
 * or bare host:port → tcp.
 */
export function parseCompactTargets(text: string, problems: Problem[], out: RawTarget[]): void {
  const entries = text.split(/[\s,]+/).filter((e) => e !== '')
  entries.forEach((entry, i) => {
    const where = `MONITOR_TARGETS entry ${i + 1}`
    let rest = entry
    let name: string | undefined
    const eq = rest.indexOf('=')
    const scheme = rest.indexOf('://')
    if (eq > 0 && (scheme < 0 || eq < scheme)) {
      name = rest.slice(0, eq)
      rest = rest.slice(eq + 1)
    }
    let kind: string | undefined
    // `kind:name=url` is accepted too (e.g. `http:ingest=http://ingest:8081/readyz`).
    const kn = name ? /^([A-Za-z]+):(.+)$/.exec(name) : null
    if (kn) {
      kind = kn[1]!.toLowerCase()
      name = kn[2]!
    }
    const plus = kind ? null : /^([A-Za-z][A-Za-z0-9_-]*)\+(.*)$/.exec(rest)
    if (plus) {
      kind = plus[1]!.toLowerCase()
      rest = plus[2]!
    } else if (!kind) {
      const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(rest)
      const s = m?.[1]?.toLowerCase()
      if (s === undefined) kind = 'tcp'
      else if (s === 'http' || s === 'https') kind = 'http'
      else if (s === 'nats' || s === 'tls') kind = 'nats'
      else if (s === 'redis' || s === 'rediss') kind = 'redis'
      else if (s === 'tcp') kind = 'tcp'
      else {
        problems.push({
          variable: `${where} (${JSON.stringify(entry)})`,
          problem: `unknown target kind "${s}" (expected one of ${TARGET_KINDS.join(', ')}; write kind+url, e.g. nginx+http://host/)`,
        })
        return
      }
    }
    out.push({ where: `${where} (${JSON.stringify(entry)})`, name, kind, target: rest })
  })
}

function buildTarget(
  r: RawTarget,
  where: string,
  problems: Problem[],
  g: {
    intervalMs: number
    timeoutMs: number
    failThreshold: number
    recoverThreshold: number
    latencyP99Ms: number
    latencyWindowMs: number
  },
): TargetSpec | undefined {
  if (!(TARGET_KINDS as readonly string[]).includes(r.kind)) {
    problems.push({ variable: where, problem: `unknown target kind "${r.kind}" (expected one of ${TARGET_KINDS.join(', ')})` })
    return undefined
  }
  const kind = r.kind as TargetKind
  let target: string
  try {
    target = normalizeTarget(kind, r.target)
  } catch (err) {
    problems.push({ variable: where, problem: (err as Error).message })
    return undefined
  }
  const name = r.name ?? defaultName(kind, target)
  if (!NAME.test(name)) {
    problems.push({ variable: where, problem: `target name ${JSON.stringify(name)} must match ${NAME}` })
    return undefined
  }
  const intervalMs = r.intervalMs ?? g.intervalMs
  const timeoutMs = r.timeoutMs ?? (r.intervalMs !== undefined ? Math.min(g.timeoutMs, defaultTimeout(intervalMs)) : g.timeoutMs)
  if (timeoutMs > intervalMs) {
    problems.push({ variable: where, problem: `timeoutMs (${timeoutMs}) must not exceed intervalMs (${intervalMs})` })
    return undefined
  }
  return {
    name,
    kind,
    target,
    intervalMs,
    timeoutMs,
    failThreshold: r.failThreshold ?? g.failThreshold,
    recoverThreshold: r.recoverThreshold ?? g.recoverThreshold,
    latencyP99Ms: r.latencyP99Ms ?? g.latencyP99Ms,
    latencyWindowMs: r.latencyWindowMs ?? g.latencyWindowMs,
    discovered: false,
  }
}

const PROTOCOLS: Record<Exclude<TargetKind, 'tcp'>, string[]> = {
  http: ['http:', 'https:'],
  nginx: ['http:', 'https:'],
  gateway: ['http:', 'https:'],
  // ws(s): the server's WebSocket listener, as the services accept it in NATS_URL.
  nats: ['nats:', 'tls:', 'ws:', 'wss:'],
  redis: ['redis:', 'rediss:'],
}

/** Validate a target for its kind; returns the canonical form (host:port for tcp, a URL otherwise). */
export function normalizeTarget(kind: TargetKind, raw: string): string {
  const t = raw.trim()
  if (kind === 'tcp') {
    const hp = t.replace(/^tcp:\/\//i, '').replace(/\/$/, '')
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(hp)
    if (!m) throw new Error(`is not host:port: ${JSON.stringify(raw)} (e.g. 127.0.0.1:8081 or tcp://127.0.0.1:8081)`)
    const port = Number(m[2])
    if (port < 1 || port > 65535) throw new Error(`has a bad port: ${JSON.stringify(raw)}`)
    return `${m[1]}:${port}`
  }
  let u: URL
  try {
    u = new URL(t)
  } catch {
    throw new Error(`is not a valid URL: ${JSON.stringify(raw)} (expected e.g. ${PROTOCOLS[kind][0]}//127.0.0.1:port)`)
  }
  if (!PROTOCOLS[kind].includes(u.protocol))
    throw new Error(`a ${kind} target must use ${PROTOCOLS[kind].join(' or ')}, got ${JSON.stringify(raw)}`)
  if (!u.hostname) throw new Error(`has no host: ${JSON.stringify(raw)}`)
  if (kind === 'gateway') return gatewayBase(t)
  return t
}

/**
 * A gateway target is its base URL; /readyz and /metrics are appended. A trailing /readyz is
 * dropped. Credentials stay (sent as Basic authorization, see checks/http.ts).
 */
export function gatewayBase(url: string): string {
  const u = new URL(url)
  const path = u.pathname.replace(/\/readyz\/?$/, '').replace(/\/+$/, '')
  const auth = u.username || u.password ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''
  return `${u.protocol}//${auth}${u.host}${path}`
}

/** A name made of what target names may hold (NAME): anything else becomes `_` (e.g. `%`, `~` in a path). */
export function targetName(text: string): string {
  return text.replace(/[^A-Za-z0-9_.:@/[\]-]/g, '_').slice(0, 128)
}

function defaultName(kind: TargetKind, target: string): string {
  if (kind === 'tcp') return `tcp:${target}`
  const u = new URL(target)
  const path = u.pathname === '/' ? '' : u.pathname
  return targetName(`${kind}:${u.host}${path}`)
}

/** A target as shown in /status, alerts, logs and the state store: credentials removed. */
export function displayTarget(_kind: AnyKind, target: string): string {
  return redactCredentials(target)
}

function hasCredentials(url: string): boolean {
  try {
    const u = new URL(url)
    return u.username !== '' || u.password !== ''
  } catch {
    return false
  }
}

/** The ConfigError to throw: no credentials in it (it is printed on stderr, or logged on SIGHUP). */
function redacted(problems: Problem[]): ConfigError {
  return new ConfigError(problems.map((p) => ({ variable: redactCredentials(p.variable), problem: redactCredentials(p.problem) })))
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function webhookConfig(v: ReturnType<typeof loadConfig<typeof monitorSpec>>, raw: unknown, problems: Problem[]): WebhookConfig | undefined {
  const f = objectOrEmpty(raw, 'MONITOR_CONFIG webhook', ['url', 'urls', 'timeoutMs', 'retries', 'backoffMs', 'headers'], problems)
  const fileUrls: string[] = []
  const rawUrls = f.urls ?? f.url
  if (rawUrls !== undefined) {
    const list = Array.isArray(rawUrls) ? rawUrls : [rawUrls]
    for (const u of list) {
      try {
        const parsed = new URL(String(u))
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error()
        fileUrls.push(String(u))
      } catch {
        problems.push({ variable: 'MONITOR_CONFIG webhook', problem: `has a malformed URL ${JSON.stringify(u)} (expected http(s)://…)` })
      }
    }
  }
  const urlsList = v.MONITOR_WEBHOOK_URL ?? fileUrls
  if (urlsList.length === 0) {
    // A webhook section without a URL would be silently no webhook at all.
    if (Object.keys(f).length > 0 && rawUrls === undefined)
      problems.push({ variable: 'MONITOR_CONFIG webhook', problem: 'has no "url" (and MONITOR_WEBHOOK_URL is not set)' })
    return undefined
  }
  const headers = webhookHeaders(f.headers, problems)
  if (headers.authorization !== undefined && urlsList.some(hasCredentials))
    problems.push({
      variable: 'MONITOR_CONFIG webhook.headers',
      problem: 'sets "authorization" while a webhook URL holds credentials (sent as Basic authorization): keep one of them',
    })
  return {
    urls: urlsList,
    timeoutMs:
      v.MONITOR_WEBHOOK_TIMEOUT_MS ?? fileInt(f, 'timeoutMs', 'MONITOR_CONFIG webhook', 10, 600_000, problems) ?? DEFAULTS.webhookTimeoutMs,
    retries: v.MONITOR_WEBHOOK_RETRIES ?? fileInt(f, 'retries', 'MONITOR_CONFIG webhook', 0, 50, problems) ?? DEFAULTS.webhookRetries,
    backoffMs:
      v.MONITOR_WEBHOOK_BACKOFF_MS ?? fileInt(f, 'backoffMs', 'MONITOR_CONFIG webhook', 1, 600_000, problems) ?? DEFAULTS.webhookBackoffMs,
    headers,
  }
}

/**
 * Header names and values as fetch would take them, checked now rather than at the first alert.
 * Names are lowercased, so a configured header replaces the default of the same name. Values are
 * never quoted in errors (they are often secrets).
 */
function webhookHeaders(raw: unknown, problems: Problem[]): Record<string, string> {
  const headers: Record<string, string> = {}
  if (raw === undefined) return headers
  const where = 'MONITOR_CONFIG webhook.headers'
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push({ variable: where, problem: 'must be an object of header names to string values, e.g. {"authorization": "Bearer …"}' })
    return headers
  }
  for (const [name, value] of Object.entries(raw)) {
    const key = name.toLowerCase()
    if (!HEADER_NAME.test(name)) problems.push({ variable: where, problem: `has an invalid header name ${JSON.stringify(name)}` })
    else if (typeof value !== 'string') problems.push({ variable: `${where}.${name}`, problem: 'must be a string' })
    else if (!validHeaderValue(name, value))
      problems.push({
        variable: `${where}.${name}`,
        problem: 'is not a valid header value (a line break or control character, or a character beyond Latin-1)',
      })
    else if (key in headers) problems.push({ variable: where, problem: `sets ${JSON.stringify(name)} twice (names are case-insensitive)` })
    else headers[key] = value
  }
  return headers
}

function validHeaderValue(name: string, value: string): boolean {
  try {
    new Headers([[name, value]])
    return true
  } catch {
    return false
  }
}

function emailConfig(v: ReturnType<typeof loadConfig<typeof monitorSpec>>, raw: unknown, problems: Problem[]): EmailConfig | undefined {
  const f = objectOrEmpty(raw, 'MONITOR_CONFIG email', ['smtpUrl', 'to', 'from', 'timeoutMs', 'checkMs', 'retries'], problems)
  let smtpUrl = v.MONITOR_SMTP_URL?.[0]
  if (f.smtpUrl !== undefined && typeof f.smtpUrl !== 'string')
    problems.push({ variable: 'MONITOR_CONFIG email.smtpUrl', problem: 'must be a string (smtp://host:port or smtps://host:465)' })
  if (f.to !== undefined && typeof f.to !== 'string' && !(Array.isArray(f.to) && f.to.every((x) => typeof x === 'string')))
    problems.push({ variable: 'MONITOR_CONFIG email.to', problem: 'must be an address or a list of addresses' })
  if (f.from !== undefined && typeof f.from !== 'string')
    problems.push({ variable: 'MONITOR_CONFIG email.from', problem: 'must be a string' })
  if (!smtpUrl && typeof f.smtpUrl === 'string') {
    try {
      const u = new URL(f.smtpUrl)
      if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error()
      smtpUrl = f.smtpUrl
    } catch {
      problems.push({
        variable: 'MONITOR_CONFIG email.smtpUrl',
        problem: `is malformed: ${JSON.stringify(f.smtpUrl)} (expected smtp://host:port)`,
      })
    }
  }
  const toRaw = v.MONITOR_EMAIL_TO ?? (Array.isArray(f.to) ? f.to.join(',') : typeof f.to === 'string' ? f.to : undefined)
  const to = (toRaw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const toWhere = v.MONITOR_EMAIL_TO ? 'MONITOR_EMAIL_TO' : 'MONITOR_CONFIG email.to'
  if (!smtpUrl) {
    // As with the variables: recipients (or any e-mail setting) without a server is a mistake,
    // not "no e-mail".
    if (v.MONITOR_EMAIL_TO) problems.push({ variable: 'MONITOR_EMAIL_TO', problem: 'is set but MONITOR_SMTP_URL is not' })
    else if (Object.keys(f).length > 0 && f.smtpUrl === undefined)
      problems.push({ variable: 'MONITOR_CONFIG email', problem: 'has no "smtpUrl" (and MONITOR_SMTP_URL is not set)' })
    return undefined
  }
  if (to.length === 0) {
    problems.push(
      v.MONITOR_SMTP_URL
        ? { variable: 'MONITOR_EMAIL_TO', problem: 'is required when MONITOR_SMTP_URL is set (comma-separated addresses)' }
        : { variable: 'MONITOR_CONFIG email.to', problem: 'is required with smtpUrl (or set MONITOR_EMAIL_TO)' },
    )
    return undefined
  }
  for (const addr of to) {
    if (!/^[^\s@<>]+@[^\s@<>]+$/.test(addr))
      problems.push({ variable: toWhere, problem: `has a malformed address ${JSON.stringify(addr)}` })
  }
  return {
    smtpUrl,
    to,
    from: v.MONITOR_EMAIL_FROM ?? (typeof f.from === 'string' ? f.from : `touchline-monitor@${hostname()}`),
    timeoutMs:
      v.MONITOR_SMTP_TIMEOUT_MS ?? fileInt(f, 'timeoutMs', 'MONITOR_CONFIG email', 10, 600_000, problems) ?? DEFAULTS.smtpTimeoutMs,
    checkMs: v.MONITOR_SMTP_CHECK_MS ?? fileInt(f, 'checkMs', 'MONITOR_CONFIG email', 10, 86_400_000, problems) ?? DEFAULTS.smtpCheckMs,
    retries: v.MONITOR_EMAIL_RETRIES ?? fileInt(f, 'retries', 'MONITOR_CONFIG email', 0, 50, problems) ?? DEFAULTS.emailRetries,
  }
}

function objectOrEmpty(raw: unknown, where: string, keys: string[], problems: Problem[]): Record<string, unknown> {
  if (raw === undefined) return {}
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    problems.push({ variable: where, problem: 'must be an object' })
    return {}
  }
  const o = raw as Record<string, unknown>
  for (const k of Object.keys(o))
    if (!keys.includes(k)) problems.push({ variable: where, problem: `has an unknown key "${k}" (known: ${keys.join(', ')})` })
  return o
}

function fileInt(
  f: Record<string, unknown>,
  key: string,
  where: string,
  min: number,
  max: number,
  problems: Problem[],
): number | undefined {
  if (f[key] === undefined) return undefined
  try {
    return checkInt(f[key] as number, min, max)
  } catch (err) {
    problems.push({ variable: `${where}.${key}`, problem: (err as Error).message })
    return undefined
  }
}

/**
 * Checks a description (possibly straight from JSON) and returns it normalized, or throws one
 * NginxConfigError listing every problem. Nothing here knows nginx syntax beyond what is needed to
 * refuse values that would break the file or could not work.
 */
import { NginxConfigError, type NginxProblem, type NginxProblemCode } from './errors.ts'
import { STRATEGIES, type NginxDescription, type Strategy, type UpstreamDescription, type UpstreamServer } from './types.ts'

/** A server after validation: times in nginx syntax, flags explicit. */
export interface NormalServer {
  address: string
  weight: number | undefined
  maxFails: number | undefined
  failTimeout: string | undefined
  backup: boolean
  down: boolean
  resolve: boolean
}

export interface NormalUpstream {
  strategy: Strategy
  hashKey: string | undefined
  consistent: boolean
  servers: NormalServer[]
  keepalive: number | undefined
}

export interface NormalDescription {
  listen: string
  serverName: string
  stateDir: string | undefined
  logDir: string | undefined
  accessLog: boolean
  user: string | undefined
  workerProcesses: number | 'auto'
  workerConnections: number
  workerShutdownTimeout: string | undefined
  nginxVersion: string
  resolver: string[]
  gateways: NormalUpstream
  ingest: NormalUpstream
  monitor: NormalUpstream | undefined
  webRoot: string | undefined
  heartbeatMs: number | undefined
  wsReadTimeoutSeconds: number
  wsConnectTimeoutSeconds: number
  trustedProxies: string[]
  statusAllow: string[]
  clientMaxBodySize: string
}

export const DEFAULT_NGINX_VERSION = '1.22.1'
/** First open-source nginx with the `resolve` server parameter. */
export const RESOLVE_MIN_VERSION = '1.27.3'

const TOP_FIELDS = new Set([
  'listen',
  'serverName',
  'stateDir',
  'logDir',
  'accessLog',
  'user',
  'workerProcesses',
  'workerConnections',
  'workerShutdownTimeout',
  'nginxVersion',
  'resolver',
  'gateways',
  'ingest',
  'monitor',
  'webRoot',
  'websocket',
  'trustedProxies',
  'statusAllow',
  'clientMaxBodySize',
])
const UPSTREAM_FIELDS = new Set(['strategy', 'hashKey', 'consistent', 'servers', 'keepalive'])
const SERVER_FIELDS = new Set(['address', 'weight', 'maxFails', 'failTimeout', 'backup', 'down', 'resolve'])
const WS_FIELDS = new Set(['heartbeatMs', 'readTimeoutSeconds', 'connectTimeoutSeconds'])

/** Compare dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0)
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

const HOST_PORT = /^([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):(\d{1,5})$/
const V6_PORT = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/
const UNIX = /^unix:\/[^\s;{}'"$\\]+$/
const TIME = /^\d+(ms|s|m|h|d)?$/
const SIZE = /^\d+[kKmMgG]?$/
const CIDR = /^(?:\d{1,3}(?:\.\d{1,3}){3}(?:\/\d{1,2})?|[0-9A-Fa-f:]+(?:\/\d{1,3})?|unix:|all)$/
/** Safe hash key: nginx variables and literal separators, no whitespace, quotes or `;{}` outside `${…}`. */
const HASH_KEY = /^(?:\$\{[A-Za-z_][A-Za-z0-9_]*\}|\$[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9_:./@-])+$/

function isIpv4(host: string): boolean {
  const parts = host.split('.')
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)
}

export function validateDescription(input: unknown): NormalDescription {
  const problems: NginxProblem[] = []
  const add = (code: NginxProblemCode, path: string, message: string) => problems.push({ code, path, message })

  if (!isObject(input)) throw new NginxConfigError([{ code: 'invalid_value', path: '(root)', message: 'must be an object' }])
  const d = input as Partial<NginxDescription> & Record<string, unknown>
  unknownFields(d, TOP_FIELDS, '', add)

  // listen
  let listen = '80'
  if (typeof d.listen === 'number') {
    if (!validPort(d.listen)) add('invalid_value', 'listen', `must be a port 1-65535, got ${d.listen}`)
    listen = String(d.listen)
  } else if (typeof d.listen === 'string') {
    const m = HOST_PORT.exec(d.listen) ?? V6_PORT.exec(d.listen)
    if (/^\d+$/.test(d.listen) && validPort(Number(d.listen))) listen = d.listen
    else if (!m || !validPort(Number(m[2]))) add('invalid_value', 'listen', `must be a port or host:port, got ${JSON.stringify(d.listen)}`)
    else listen = d.listen
  } else {
    add('invalid_value', 'listen', 'is required: a port or host:port')
  }

  const serverName = optString(d, 'serverName', add, /^[A-Za-z0-9_.*~-]+$/) ?? '_'
  const stateDir = optPath(d, 'stateDir', add)
  const logDir = optPath(d, 'logDir', add) ?? stateDir
  const webRoot = optPath(d, 'webRoot', add)
  const user = optString(d, 'user', add, /^[A-Za-z0-9_.-]+(?: [A-Za-z0-9_.-]+)?$/)
  const accessLog = optBool(d, 'accessLog', add) ?? true
  const nginxVersion = optString(d, 'nginxVersion', add, /^\d+\.\d+(\.\d+)?$/) ?? DEFAULT_NGINX_VERSION

  let workerProcesses: number | 'auto' = 'auto'
  if (d.workerProcesses !== undefined) {
    if (d.workerProcesses === 'auto') workerProcesses = 'auto'
    else if (isInt(d.workerProcesses, 1, 1024)) workerProcesses = d.workerProcesses
    else add('invalid_value', 'workerProcesses', `must be "auto" or a whole number 1-1024, got ${JSON.stringify(d.workerProcesses)}`)
  }
  let workerConnections = 4096
  if (d.workerConnections !== undefined) {
    if (isInt(d.workerConnections, 16, 1_000_000)) workerConnections = d.workerConnections
    else add('invalid_value', 'workerConnections', `must be a whole number 16-1000000, got ${JSON.stringify(d.workerConnections)}`)
  }
  const workerShutdownTimeout = optTime(d.workerShutdownTimeout, 'workerShutdownTimeout', add)

  const resolver: string[] = []
  if (d.resolver !== undefined) {
    if (!Array.isArray(d.resolver) || d.resolver.some((r) => typeof r !== 'string' || !/^[A-Za-z0-9.:[\]-]+$/.test(r))) {
      add('invalid_value', 'resolver', 'must be a list of DNS server addresses')
    } else resolver.push(...(d.resolver as string[]))
  }

  const trustedProxies = cidrList(d.trustedProxies, 'trustedProxies', add) ?? []
  const statusAllow = cidrList(d.statusAllow, 'statusAllow', add) ?? ['127.0.0.1', '::1']
  const clientMaxBodySize = optString(d, 'clientMaxBodySize', add, SIZE) ?? '1m'

  // websocket timeouts
  let heartbeatMs: number | undefined
  let wsReadTimeoutSeconds = 120
  let wsConnectTimeoutSeconds = 3
  if (d.websocket !== undefined) {
    if (!isObject(d.websocket)) add('invalid_value', 'websocket', 'must be an object')
    else {
      const ws = d.websocket as Record<string, unknown>
      unknownFields(ws, WS_FIELDS, 'websocket.', add)
      if (ws.heartbeatMs !== undefined) {
        if (isInt(ws.heartbeatMs, 100, 3_600_000)) heartbeatMs = ws.heartbeatMs
        else add('invalid_value', 'websocket.heartbeatMs', 'must be a whole number of milliseconds (100-3600000)')
      }
      if (ws.readTimeoutSeconds !== undefined) {
        if (isInt(ws.readTimeoutSeconds, 1, 86_400)) wsReadTimeoutSeconds = ws.readTimeoutSeconds
        else add('invalid_value', 'websocket.readTimeoutSeconds', 'must be a whole number of seconds (1-86400)')
      }
      if (ws.connectTimeoutSeconds !== undefined) {
        if (isInt(ws.connectTimeoutSeconds, 1, 75)) wsConnectTimeoutSeconds = ws.connectTimeoutSeconds
        else add('invalid_value', 'websocket.connectTimeoutSeconds', 'must be a whole number of seconds (1-75)')
      }
    }
  }
  if (heartbeatMs !== undefined && wsReadTimeoutSeconds * 1000 < 2 * heartbeatMs) {
    add(
      'timeout_too_short',
      'websocket.readTimeoutSeconds',
      `${wsReadTimeoutSeconds}s is less than twice the gateway heartbeat (${heartbeatMs} ms): nginx would close idle but healthy ` +
        `WebSockets between two heartbeats; use at least ${Math.ceil((2 * heartbeatMs) / 1000)}`,
    )
  }

  const ctx: UpstreamCtx = { add, nginxVersion, resolver }
  const gateways = upstream(d.gateways, 'gateways', ctx, true)
  const ingest = upstream(d.ingest, 'ingest', ctx, true)
  const monitor = d.monitor === undefined ? undefined : upstream(d.monitor, 'monitor', ctx, false)

  if (problems.length > 0) throw new NginxConfigError(problems)
  return {
    listen,
    serverName,
    stateDir,
    logDir,
    accessLog,
    user,
    workerProcesses,
    workerConnections,
    workerShutdownTimeout,
    nginxVersion,
    resolver,
    gateways: gateways!,
    ingest: ingest!,
    monitor,
    webRoot,
    heartbeatMs,
    wsReadTimeoutSeconds,
    wsConnectTimeoutSeconds,
    trustedProxies,
    statusAllow,
    clientMaxBodySize,
  }
}

type Add = (code: NginxProblemCode, path: string, message: string) => void
interface UpstreamCtx {
  add: Add
  nginxVersion: string
  resolver: string[]
}

function upstream(raw: unknown, path: string, ctx: UpstreamCtx, required: boolean): NormalUpstream | undefined {
  const { add } = ctx
  if (raw === undefined) {
    if (required) add('no_servers', path, 'is required: an object with `servers`')
    return undefined
  }
  if (!isObject(raw)) {
    add('invalid_value', path, 'must be an object with `servers`')
    return undefined
  }
  const u = raw as Partial<UpstreamDescription> & Record<string, unknown>
  unknownFields(u, UPSTREAM_FIELDS, `${path}.`, add)

  let strategy: Strategy = 'round_robin'
  if (u.strategy !== undefined) {
    if (typeof u.strategy === 'string' && (STRATEGIES as readonly string[]).includes(u.strategy)) strategy = u.strategy as Strategy
    else add('unknown_strategy', `${path}.strategy`, `must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(u.strategy)}`)
  }

  let hashKey: string | undefined
  if (u.hashKey !== undefined) {
    if (strategy !== 'hash') add('hash_only_option', `${path}.hashKey`, `only applies to strategy "hash" (strategy is "${strategy}")`)
    else if (typeof u.hashKey !== 'string' || !HASH_KEY.test(u.hashKey)) {
      add(
        'hash_key_invalid',
        `${path}.hashKey`,
        `must be nginx variables and plain characters (e.g. $arg_match), got ${JSON.stringify(u.hashKey)}`,
      )
    } else if (!u.hashKey.includes('$')) {
      add(
        'hash_key_invalid',
        `${path}.hashKey`,
        `${JSON.stringify(u.hashKey)} has no variable: every request would hash to the same server`,
      )
    } else hashKey = u.hashKey
  } else if (strategy === 'hash') {
    add(
      'hash_key_required',
      `${path}.hashKey`,
      'strategy "hash" needs a key, e.g. "$arg_match" (all spectators of one match on one gateway)',
    )
  }
  let consistent = false
  if (u.consistent !== undefined) {
    if (typeof u.consistent !== 'boolean') add('invalid_value', `${path}.consistent`, 'must be true or false')
    else if (u.consistent && strategy !== 'hash')
      add('hash_only_option', `${path}.consistent`, `only applies to strategy "hash" (strategy is "${strategy}")`)
    else consistent = u.consistent
  }
  let keepalive: number | undefined
  if (u.keepalive !== undefined) {
    if (isInt(u.keepalive, 1, 10_000)) keepalive = u.keepalive
    else add('invalid_value', `${path}.keepalive`, 'must be a whole number 1-10000')
  }

  const servers: NormalServer[] = []
  if (u.servers !== undefined && !Array.isArray(u.servers)) {
    add('invalid_value', `${path}.servers`, `must be an array of servers, got ${JSON.stringify(u.servers)}`)
    return { strategy, hashKey, consistent, servers, keepalive }
  }
  if (!Array.isArray(u.servers) || u.servers.length === 0) {
    add('no_servers', `${path}.servers`, 'must list at least one server')
    return { strategy, hashKey, consistent, servers, keepalive }
  }
  const seen = new Set<string>()
  u.servers.forEach((s: unknown, i: number) => {
    const sp = `${path}.servers[${i}]`
    const srv = server(s, sp, ctx)
    if (!srv) return
    const k = srv.address.toLowerCase()
    if (seen.has(k)) add('duplicate_address', `${sp}.address`, `${srv.address} is listed twice`)
    seen.add(k)
    servers.push(srv)
  })
  if (servers.length === u.servers.length) {
    if (servers.every((s) => s.backup)) {
      add('no_primary', `${path}.servers`, 'every server is a backup: mark at least one server as a primary (backup: false)')
    } else if (servers.every((s) => s.down)) {
      add('no_usable_server', `${path}.servers`, 'every server is down: nothing could serve a request')
    }
  }
  return { strategy, hashKey, consistent, servers, keepalive }
}

function server(raw: unknown, path: string, ctx: UpstreamCtx): NormalServer | undefined {
  const { add } = ctx
  if (typeof raw === 'string') raw = { address: raw }
  if (!isObject(raw)) {
    add('invalid_value', path, 'must be an object with `address` (or an address string)')
    return undefined
  }
  const s = raw as Partial<UpstreamServer> & Record<string, unknown>
  unknownFields(s, SERVER_FIELDS, `${path}.`, add)
  let ok = true
  const address = typeof s.address === 'string' ? s.address.trim() : ''
  if (!validAddress(address)) {
    add('invalid_address', `${path}.address`, `must be host:port, [ipv6]:port or unix:/path, got ${JSON.stringify(s.address)}`)
    ok = false
  }
  let weight: number | undefined
  if (s.weight !== undefined) {
    if (isInt(s.weight, 1, 1000)) weight = s.weight
    else {
      add('invalid_value', `${path}.weight`, `must be a whole number 1-1000, got ${JSON.stringify(s.weight)}`)
      ok = false
    }
  }
  let maxFails: number | undefined
  if (s.maxFails !== undefined) {
    if (isInt(s.maxFails, 0, 1000)) maxFails = s.maxFails
    else {
      add('invalid_value', `${path}.maxFails`, `must be a whole number 0-1000, got ${JSON.stringify(s.maxFails)}`)
      ok = false
    }
  }
  const failTimeout = optTime(s.failTimeout, `${path}.failTimeout`, add)
  if (s.failTimeout !== undefined && failTimeout === undefined) ok = false
  const backup = optBool(s, 'backup', add, path) ?? false
  const down = optBool(s, 'down', add, path) ?? false
  const resolve = optBool(s, 'resolve', add, path) ?? false
  if (resolve) {
    if (compareVersions(ctx.nginxVersion, RESOLVE_MIN_VERSION) < 0) {
      add(
        'resolve_unsupported',
        `${path}.resolve`,
        `needs nginx ${RESOLVE_MIN_VERSION} or later (nginxVersion is ${ctx.nginxVersion}); on older nginx, reload to re-resolve names`,
      )
      ok = false
    } else if (ctx.resolver.length === 0) {
      add('resolver_required', `${path}.resolve`, 'needs `resolver` (the DNS servers nginx should ask)')
      ok = false
    }
  }
  if (!ok) return undefined
  return { address, weight, maxFails, failTimeout, backup, down, resolve }
}

function validAddress(a: string): boolean {
  if (UNIX.test(a)) return true
  const v6 = V6_PORT.exec(a)
  if (v6) return validPort(Number(v6[2]))
  const m = HOST_PORT.exec(a)
  if (!m || !validPort(Number(m[2]))) return false
  const host = m[1] as string
  // Something that looks like an IPv4 address must be one.
  if (/^[\d.]+$/.test(host)) return isIpv4(host)
  return true
}

function validPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function unknownFields(o: Record<string, unknown>, known: Set<string>, prefix: string, add: Add): void {
  for (const k of Object.keys(o)) {
    if (!known.has(k)) add('unknown_field', `${prefix}${k}`, `is not a known field (known: ${[...known].join(', ')})`)
  }
}

function optString(o: Record<string, unknown>, key: string, add: Add, pattern: RegExp): string | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !pattern.test(v)) {
    add('invalid_value', key, `must match ${pattern}, got ${JSON.stringify(v)}`)
    return undefined
  }
  return v
}

function optBool(o: Record<string, unknown>, key: string, add: Add, prefix = ''): boolean | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'boolean') {
    add('invalid_value', prefix ? `${prefix}.${key}` : key, `must be true or false, got ${JSON.stringify(v)}`)
    return undefined
  }
  return v
}

/** Absolute paths without characters that would need nginx escaping or be read as variables. */
function optPath(o: Record<string, unknown>, key: string, add: Add): string | undefined {
  const v = o[key]
  if (v === undefined) return undefined
  if (typeof v !== 'string' || !v.startsWith('/') || /[\s;{}'"$\\#]/.test(v)) {
    add('invalid_value', key, `must be an absolute path without spaces, quotes, ';', '{}', '#', '$' or '\\', got ${JSON.stringify(v)}`)
    return undefined
  }
  return v.length > 1 ? v.replace(/\/+$/, '') : v
}

function optTime(v: unknown, path: string, add: Add): string | undefined {
  if (v === undefined) return undefined
  if (typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= 86_400) {
    return Number.isInteger(v) ? `${v}s` : `${Math.round(v * 1000)}ms`
  }
  if (typeof v === 'string' && TIME.test(v) && !/^0+(ms|s|m|h|d)?$/.test(v)) return v
  add('invalid_value', path, `must be seconds (a number > 0) or an nginx time such as "10s" or "500ms", got ${JSON.stringify(v)}`)
  return undefined
}

function cidrList(v: unknown, path: string, add: Add): string[] | undefined {
  if (v === undefined) return undefined
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !CIDR.test(x))) {
    add('invalid_value', path, 'must be a list of addresses or CIDR ranges (e.g. "10.0.0.0/8")')
    return undefined
  }
  return v as string[]
}

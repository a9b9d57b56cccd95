/**
 * The local stack runner, as a library: `up`, `scale`, `status`, `down`. The CLI
 * (infra/local/stack.ts) is a thin wrapper; tests call these functions directly.
 *
 * `up` starts Redis, NATS (JetStream, file store in the state directory), ingest, N gateways, the
 * monitor (when services/monitor/src/main.ts exists) and nginx in front of them, as detached
 * processes that outlive the command, with every log in `<state>/logs`. Everything listens on
 * 127.0.0.1; only nginx has a chosen port (`port`), the rest take free ports. What was started is
 * recorded in `<state>/state.json`; secrets live in `<state>/secrets.json` (mode 0600).
 *
 * `scale` starts or drains gateways and reloads nginx with SIGHUP (no connection dropped);
 * removed gateways are taken out of nginx first, then get SIGTERM and close their sockets with
 * 1012, and their spectators resume on the others.
 */
import { randomBytes } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import {
  accessSync,
  chmodSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { reloadAndWait, testConfig } from '../../../nginx/src/control.ts'
import { NginxConfigError } from '../../../nginx/src/errors.ts'
import { GENERATION_PATH, renderNginxConfig } from '../../../nginx/src/render.ts'
import type { NginxDescription, Strategy } from '../../../nginx/src/types.ts'
import {
  canConnect,
  findBinary,
  freePort,
  httpGet,
  isRunning,
  owns,
  redisPing,
  sleep,
  spawnDetached,
  stopProcess,
  tail,
  waitUntil,
} from './procs.ts'

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

/** The Node flags a service is started with: `touchline.nodeFlags` of its package.json (e.g. the gateway's young-generation cap). */
export function nodeFlagsOf(role: string): string[] {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'services', role, 'package.json'), 'utf8'))
  return pkg.touchline?.nodeFlags ?? []
}

export class StackError extends Error {
  override name = 'StackError'
}

/** Required binaries that are not installed; `message` says how to install them. */
export class MissingBinariesError extends StackError {
  override name = 'MissingBinariesError'
  readonly missing: Array<{ binary: string; aptPackage: string }>
  constructor(missing: Array<{ binary: string; aptPackage: string }>) {
    super(
      `missing ${missing.map((m) => m.binary).join(', ')}: install with\n  apt-get install -y ${missing.map((m) => m.aptPackage).join(' ')}\n` +
        '(or put the binaries on PATH)',
    )
    this.missing = missing
  }
}

export type Role = 'redis' | 'nats' | 'ingest' | 'gateway' | 'monitor' | 'nginx'

interface ProcRecord {
  name: string
  role: Role
  pid: number
  port: number
  /** Text found in /proc/<pid>/cmdline or environ: proves the pid is still ours. */
  marker: string
  log: string
  nodeId?: string
  /** NATS monitoring port. */
  monitorPort?: number
}

interface StackState {
  version: 1
  createdAt: string
  stateDir: string
  host: string
  publicPort: number
  publicUrl: string
  balancing: { strategy: Strategy; hashKey?: string; consistent?: boolean; maxFails: number; failTimeout: number }
  webRoot?: string
  /** Extra environment given to every service at `up` (and to gateways started by `scale`). */
  env: Record<string, string>
  procs: ProcRecord[]
  nextGateway: number
  generation: string
}

interface Secrets {
  tokenSecret: string
  /** Only when generated here; keys from TOUCHLINE_API_KEYS are never written to disk. */
  apiKeys?: string
}

export interface UpOptions {
  /** Default `.stack` (relative paths resolve against the current directory). */
  stateDir?: string
  /** nginx's public port; default 8080. */
  port?: number
  /** Address nginx listens on; default 127.0.0.1. */
  host?: string
  gateways?: number
  strategy?: Strategy
  /** For `hash`; default `$arg_match`. */
  hashKey?: string
  /** For `hash`; default true. */
  consistent?: boolean
  /** Passive health checks per gateway (defaults 1 and 2 s; see docs/operations.md). */
  maxFails?: number
  failTimeout?: number
  /** Build and serve the pages (default true). */
  web?: boolean
  /** Start the monitor when it exists (default true). */
  monitor?: boolean
  /** Extra environment for every service (e.g. LOG_LEVEL, DRAIN_SPREAD_MS). */
  env?: Record<string, string>
  /** Where the runner reports progress. */
  log?: (line: string) => void
  /** Told the pid (and process group) of every process started; tests guard them. */
  onSpawn?: (pid: number) => void
  /** The environment to read TOUCHLINE_API_KEYS / TOUCHLINE_TOKEN_SECRET from (default process.env). */
  processEnv?: NodeJS.ProcessEnv
  /**
   * Abort a start in progress (the CLI aborts on Ctrl-C, SIGTERM, SIGHUP): nothing more is
   * started, everything already started is stopped, and `up` rejects with a StackError.
   */
  signal?: AbortSignal
}

export interface ProcessStatus {
  name: string
  role: Role
  pid: number
  port: number
  running: boolean
  health: 'ok' | 'unhealthy' | 'down'
  detail?: string
  nodeId?: string
  log: string
}

export interface StackStatus {
  stateDir: string
  running: boolean
  healthy: boolean
  publicUrl?: string
  strategy?: Strategy
  gateways: number
  processes: ProcessStatus[]
}

export interface UpResult extends StackStatus {
  publicUrl: string
  adminKey: string | undefined
  commentatorKey: string | undefined
  keysFrom: 'env' | 'generated'
  notes: string[]
}

const MONITOR_MAIN = join(repoRoot, 'services/monitor/src/main.ts')
const REQUIRED = [
  { binary: 'redis-server', aptPackage: 'redis-server' },
  { binary: 'nats-server', aptPackage: 'nats-server' },
  { binary: 'nginx', aptPackage: 'nginx' },
]

export function resolveStateDir(dir: string | undefined): string {
  const d = dir ?? '.stack'
  return isAbsolute(d) ? d : resolve(process.cwd(), d)
}

/** Which required binaries are missing (empty when all are installed). */
export function missingBinaries(): Array<{ binary: string; aptPackage: string }> {
  return REQUIRED.filter((r) => !findBinary(r.binary))
}

// ---- up --------------------------------------------------------------------------------------

export async function up(options: UpOptions = {}): Promise<UpResult> {
  const stateDir = resolveStateDir(options.stateDir)
  const log = options.log ?? (() => {})
  const host = options.host ?? '127.0.0.1'
  const publicPort = options.port ?? 8080
  const count = options.gateways ?? 2
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new StackError(`--gateways must be 1-64, got ${count}`)
  if (!Number.isInteger(publicPort) || publicPort < 1 || publicPort > 65535)
    throw new StackError(`--port must be 1-65535, got ${publicPort}`)
  const strategy = options.strategy ?? 'round_robin'
  if (strategy !== 'hash' && (options.hashKey !== undefined || options.consistent !== undefined))
    throw new StackError(`--hash-key and --no-consistent only apply to --strategy hash (got --strategy ${strategy})`)
  const balancing: StackState['balancing'] = {
    strategy,
    ...(strategy === 'hash' ? { hashKey: options.hashKey ?? '$arg_match', consistent: options.consistent ?? true } : {}),
    // 0: never mark a gateway failed (nginx/src/render.ts WS_DEFAULT_MAX_FAILS says why).
    maxFails: options.maxFails ?? 0,
    failTimeout: options.failTimeout ?? 2,
  }
  // Refuse what nginx would refuse (a hash key without a variable, a bad --host) before starting anything.
  checkDescription(stateDir, host, publicPort, balancing, options.env ?? {})
  if (options.signal?.aborted) throw new StackError('interrupted; nothing was started')
  const missing = missingBinaries()
  if (missing.length > 0) throw new MissingBinariesError(missing)

  for (const d of ['', 'logs', 'nats', 'redis', 'nginx']) ensureDir(join(stateDir, d))
  return withLock(stateDir, async () => {
    const previous = readState(stateDir)
    if (previous?.procs.some((p) => owns(p.pid, p.marker))) {
      throw new StackError(
        `a stack is already running in ${stateDir} (${previous.publicUrl}); run \`pnpm stack down\` first, or use --state-dir`,
      )
    }
    if (await canConnect(publicPort, host === '0.0.0.0' ? '127.0.0.1' : host)) {
      throw new StackError(`port ${publicPort} is already in use on ${host}; choose another with --port`)
    }

    const penv = options.processEnv ?? process.env
    const { secrets, apiKeys, keysFrom } = loadSecrets(stateDir, penv)
    const extraEnv = options.env ?? {}
    const state: StackState = {
      version: 1,
      createdAt: new Date().toISOString(),
      stateDir,
      host,
      publicPort,
      publicUrl: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${publicPort}`,
      balancing,
      env: extraEnv,
      procs: [],
      nextGateway: 1,
      generation: '',
    }
    const ctx: Ctx = { stateDir, state, secrets, apiKeys, log, onSpawn: options.onSpawn, recordEachStart: true }

    // On abort: no further process is launched (launch() checks ctx.aborted), and the start in
    // progress is abandoned so that what was started is stopped at once.
    let onAbort = () => {}
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        ctx.aborted = true
        reject(new StackError('interrupted'))
      }
    })
    aborted.catch(() => {})
    options.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const start = async () => {
        // Pages build in the background while the servers start.
        const web = options.web === false ? Promise.resolve(undefined) : buildWeb(log)

        await Promise.all([startRedis(ctx), startNats(ctx)])
        await Promise.all([
          startIngest(ctx),
          ...Array.from({ length: count }, () => startGateway(ctx)),
          options.monitor !== false && existsSync(MONITOR_MAIN) ? startMonitor(ctx) : undefined,
        ])
        state.webRoot = await web
        return startNginx(ctx)
      }
      const started = start()
      started.catch(() => {})
      const notes = await Promise.race([started, aborted])
      writeState(stateDir, state)
      const st = await status({ stateDir })
      const keys = parseKeys(apiKeys)
      log(`touchline is up at ${state.publicUrl}`)
      return { ...st, publicUrl: state.publicUrl, adminKey: keys.admin, commentatorKey: keys.commentator, keysFrom, notes }
    } catch (err) {
      ctx.aborted = true
      log(`start failed: ${(err as Error).message}; stopping what was started`)
      await stopAll(state.procs, log)
      rmSync(join(stateDir, 'state.json'), { force: true })
      throw err instanceof StackError ? err : new StackError((err as Error).message)
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  })
}

// ---- scale -----------------------------------------------------------------------------------

export interface ScaleOptions {
  stateDir?: string
  gateways: number
  log?: (line: string) => void
  onSpawn?: (pid: number) => void
}

export async function scale(options: ScaleOptions): Promise<StackStatus> {
  const stateDir = resolveStateDir(options.stateDir)
  const log = options.log ?? (() => {})
  const n = options.gateways
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new StackError(`--gateways must be 1-64, got ${n}`)
  requireState(stateDir)
  return withLock(stateDir, async () => {
    const state = requireState(stateDir)
    const nginx = state.procs.find((p) => p.role === 'nginx')
    if (!nginx || !owns(nginx.pid, nginx.marker))
      throw new StackError(`nginx of the stack in ${stateDir} is not running; run \`pnpm stack up\` again`)
    const secrets = readSecrets(stateDir)
    const ctx: Ctx = { stateDir, state, secrets, apiKeys: undefined, log, onSpawn: options.onSpawn }
    // A gateway that died is replaced, not counted (and taken out of nginx).
    const dead = state.procs.filter((p) => p.role === 'gateway' && !owns(p.pid, p.marker))
    for (const d of dead) log(`${d.name} (pid ${d.pid}) is not running: replacing it`)
    state.procs = state.procs.filter((p) => !dead.includes(p))
    const current = state.procs.filter((p) => p.role === 'gateway')

    if (n > current.length) {
      const before = state.procs.length
      try {
        await Promise.all(Array.from({ length: n - current.length }, () => startGateway(ctx)))
      } catch (err) {
        await stopAll(state.procs.slice(before))
        state.procs = state.procs.slice(0, before)
        writeState(stateDir, state)
        throw err instanceof StackError ? err : new StackError((err as Error).message)
      }
      await reloadNginx(ctx, nginx)
      writeState(stateDir, state)
      log(`scaled up to ${n} gateways`)
    } else if (n < current.length) {
      // Newest first. Out of nginx first (no new connections), then drained (1012 → clients resume).
      const removed = current.slice(n)
      state.procs = state.procs.filter((p) => !removed.includes(p))
      await reloadNginx(ctx, nginx)
      writeState(stateDir, state)
      await Promise.all(
        removed.map(async (g) => {
          log(`draining ${g.name} (pid ${g.pid})`)
          if (owns(g.pid, g.marker)) await stopProcess(g.pid, 20_000)
        }),
      )
      log(`scaled down to ${n} gateways`)
    } else if (dead.length > 0) {
      await reloadNginx(ctx, nginx)
      writeState(stateDir, state)
    } else {
      log(`already ${n} gateways`)
    }
    return status({ stateDir })
  })
}

// ---- status ----------------------------------------------------------------------------------

export async function status(options: { stateDir?: string } = {}): Promise<StackStatus> {
  const stateDir = resolveStateDir(options.stateDir)
  const state = readState(stateDir)
  if (!state) return { stateDir, running: false, healthy: false, gateways: 0, processes: [] }
  const order: Role[] = ['redis', 'nats', 'ingest', 'gateway', 'monitor', 'nginx']
  const procs = [...state.procs].sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role))
  const processes = await Promise.all(procs.map((p) => probe(p, state)))
  const running = processes.some((p) => p.running)
  return {
    stateDir,
    running,
    healthy: processes.length > 0 && processes.every((p) => p.health === 'ok'),
    publicUrl: state.publicUrl,
    strategy: state.balancing.strategy,
    gateways: state.procs.filter((p) => p.role === 'gateway').length,
    processes,
  }
}

async function probe(p: ProcRecord, state: StackState): Promise<ProcessStatus> {
  const base = { name: p.name, role: p.role, pid: p.pid, port: p.port, log: p.log, ...(p.nodeId ? { nodeId: p.nodeId } : {}) }
  if (!owns(p.pid, p.marker)) return { ...base, running: false, health: 'down', detail: 'not running' }
  let ok = false
  let detail: string | undefined
  switch (p.role) {
    case 'redis':
      ok = await redisPing(p.port)
      if (!ok) detail = 'no PONG'
      break
    case 'nats': {
      const r = await httpGet(`http://127.0.0.1:${p.monitorPort}/healthz`)
      ok = r.status === 200
      if (!ok) detail = `healthz ${r.status || 'unreachable'}`
      break
    }
    case 'nginx': {
      const r = await httpGet(`http://127.0.0.1:${p.port}${GENERATION_PATH}`)
      ok = r.status === 200 && r.body.includes(state.generation)
      if (!ok) detail = r.status === 200 ? 'serving another configuration' : `${GENERATION_PATH} ${r.status || 'unreachable'}`
      break
    }
    default: {
      const r = await httpGet(`http://127.0.0.1:${p.port}/readyz`)
      ok = r.status === 200
      if (!ok) detail = `readyz ${r.status || 'unreachable'}`
    }
  }
  return { ...base, running: true, health: ok ? 'ok' : 'unhealthy', ...(detail ? { detail } : {}) }
}

// ---- down ------------------------------------------------------------------------------------

/** Stop the stack; true when a stack was recorded (and is now stopped), false when there was none. */
export async function down(options: { stateDir?: string; purge?: boolean; log?: (line: string) => void } = {}): Promise<boolean> {
  const stateDir = resolveStateDir(options.stateDir)
  const log = options.log ?? (() => {})
  if (!existsSync(stateDir)) {
    log(`nothing running in ${stateDir}`)
    return false
  }
  if (!statSync(stateDir).isDirectory()) throw new StackError(`${stateDir} is not a directory (not a stack's state directory)`)
  const stopped = await withLock(stateDir, async () => {
    const state = readState(stateDir)
    if (state) {
      await stopAll(state.procs, log)
      rmSync(join(stateDir, 'state.json'), { force: true })
      return true
    }
    log(`nothing running in ${stateDir}`)
    return false
  })
  if (options.purge) {
    rmSync(stateDir, { recursive: true, force: true })
    log(`removed ${stateDir}`)
  }
  return stopped
}

/** Stop in dependency order: nginx first (no new connections), gateways drain, then the rest. */
async function stopAll(procs: ProcRecord[], log: (line: string) => void = () => {}): Promise<void> {
  const order: Role[][] = [
    ['nginx', 'monitor'],
    ['gateway', 'ingest'],
    ['nats', 'redis'],
  ]
  for (const roles of order) {
    await Promise.all(
      procs
        .filter((p) => roles.includes(p.role))
        .map(async (p) => {
          if (!owns(p.pid, p.marker)) return
          log(`stopping ${p.name} (pid ${p.pid})`)
          await stopProcess(p.pid, p.role === 'gateway' || p.role === 'ingest' ? 20_000 : 10_000)
        }),
    )
  }
}

// ---- starting each piece ---------------------------------------------------------------------

interface Ctx {
  stateDir: string
  state: StackState
  secrets: Secrets
  apiKeys: string | undefined
  log: (line: string) => void
  onSpawn: ((pid: number) => void) | undefined
  /** `up` in progress was interrupted or failed: start nothing more. */
  aborted?: boolean
  /** `up`: write state.json after every start, so that `down` finds the processes even if the runner is killed. */
  recordEachStart?: boolean
}

function launch(ctx: Ctx, rec: Omit<ProcRecord, 'pid'>, command: string, args: string[], env: NodeJS.ProcessEnv): ProcRecord {
  if (ctx.aborted) throw new StackError(`not starting ${rec.name}: interrupted`)
  const { pid } = spawnDetached(command, args, { cwd: repoRoot, env, logFile: rec.log })
  ctx.onSpawn?.(pid)
  const full: ProcRecord = { ...rec, pid }
  ctx.state.procs.push(full)
  if (ctx.recordEachStart) writeState(ctx.stateDir, ctx.state)
  ctx.log(`started ${rec.name} (pid ${pid}${rec.port ? `, port ${rec.port}` : ''})`)
  return full
}

const died = (p: ProcRecord) => () => (isRunning(p.pid) ? undefined : `${p.name} exited; last lines of ${p.log}:\n${tail(p.log)}`)

/** The environment of a node service: ours only, plus PATH and friends from this process. */
function serviceEnv(ctx: Ctx, own: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(PATH|HOME|LANG|LC_\w+|TZ|TMPDIR|NODE_OPTIONS|NODE_EXTRA_CA_CERTS|USER)$/.test(k)) env[k] = v
  }
  const redis = ctx.state.procs.find((p) => p.role === 'redis')
  const nats = ctx.state.procs.find((p) => p.role === 'nats')
  Object.assign(env, {
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    NATS_URL: nats ? `nats://127.0.0.1:${nats.port}` : undefined,
    REDIS_URL: redis ? `redis://127.0.0.1:${redis.port}` : undefined,
    TOUCHLINE_TOKEN_SECRET: ctx.secrets.tokenSecret,
    // Only nginx (on loopback) may set X-Forwarded-For.
    TRUST_PROXY: '127.0.0.1',
    ...ctx.state.env,
    ...own,
    TOUCHLINE_STACK_DIR: ctx.stateDir,
  })
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  return env
}

async function startRedis(ctx: Ctx): Promise<void> {
  const port = await freePort()
  const dir = join(ctx.stateDir, 'redis')
  const p = launch(
    ctx,
    { name: 'redis', role: 'redis', port, marker: `127.0.0.1:${port}`, log: join(ctx.stateDir, 'logs', 'redis.log') },
    findBinary('redis-server')!,
    // Presence and rate limits only: nothing worth persisting.
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
    { PATH: process.env.PATH },
  )
  await waitUntil('redis', () => redisPing(port), 15_000, died(p))
}

async function startNats(ctx: Ctx): Promise<void> {
  const dir = join(ctx.stateDir, 'nats')
  const conf = join(dir, 'nats.conf')
  for (const f of readdirSync(dir)) if (f.endsWith('.ports')) rmSync(join(dir, f), { force: true })
  const bin = findBinary('nats-server')!
  // 2.10+ can fsync every write before the ack (survives a power loss, not only a process crash);
  // 2.9 does not know the option and always writes before the ack (docs/operations.md, Durability).
  const version = /v?(\d+)\.(\d+)\./.exec(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout ?? '')
  const syncAlways = version ? Number(version[1]) > 2 || (Number(version[1]) === 2 && Number(version[2]) >= 10) : false
  writeFileSync(
    conf,
    [
      'listen: 127.0.0.1:-1',
      'http: 127.0.0.1:-1',
      `ports_file_dir: "${dir}"`,
      'max_payload: 1MB',
      `jetstream {\n  store_dir: "${join(dir, 'js')}"\n  max_memory_store: 256MB\n  max_file_store: 4GB\n${syncAlways ? '  sync_interval: always\n' : ''}}`,
      '',
    ].join('\n'),
  )
  const rec = launch(
    ctx,
    { name: 'nats', role: 'nats', port: 0, marker: conf, log: join(ctx.stateDir, 'logs', 'nats.log') },
    bin,
    ['-c', conf],
    {
      PATH: process.env.PATH,
    },
  )
  const portsFile = join(dir, `nats-server_${rec.pid}.ports`)
  await waitUntil('nats ports file', () => existsSync(portsFile) && readFileSync(portsFile, 'utf8').length > 0, 15_000, died(rec))
  const ports = JSON.parse(readFileSync(portsFile, 'utf8')) as { nats: string[]; monitoring?: string[] }
  rec.port = Number(new URL(ports.nats[0] as string).port)
  rec.monitorPort = Number(new URL((ports.monitoring?.[0] as string) ?? 'http://x:0').port)
  await waitUntil(
    'nats /healthz',
    async () => (await httpGet(`http://127.0.0.1:${rec.monitorPort}/healthz`)).status === 200,
    15_000,
    died(rec),
  )
}

async function startNodeService(
  ctx: Ctx,
  role: 'ingest' | 'gateway' | 'monitor',
  name: string,
  own: Record<string, string | undefined>,
): Promise<ProcRecord> {
  const port = await freePort()
  const entry = join(repoRoot, 'services', role, 'src', 'main.ts')
  const rec = launch(
    ctx,
    {
      name,
      role,
      port,
      marker: `TOUCHLINE_STACK_DIR=${ctx.stateDir}`,
      log: join(ctx.stateDir, 'logs', `${name}.log`),
      ...(role === 'gateway' ? { nodeId: name } : {}),
    },
    process.execPath,
    [...nodeFlagsOf(role), entry],
    serviceEnv(ctx, { ...own, PORT: String(port) }),
  )
  await waitUntil(`${name} /readyz`, async () => (await httpGet(`http://127.0.0.1:${port}/readyz`)).status === 200, 30_000, died(rec))
  return rec
}

function startIngest(ctx: Ctx): Promise<ProcRecord> {
  return startNodeService(ctx, 'ingest', 'ingest', { TOUCHLINE_API_KEYS: ctx.apiKeys })
}

function startGateway(ctx: Ctx): Promise<ProcRecord> {
  const id = `gw-${ctx.state.nextGateway++}`
  return startNodeService(ctx, 'gateway', id, { NODE_ID: id })
}

async function startMonitor(ctx: Ctx): Promise<void> {
  // Gateways are found in presence (they come and go with `scale`); ingest is reached through
  // nginx, which checks nginx and the /api route at once.
  const targets = [`nginx=nginx+${ctx.state.publicUrl}${GENERATION_PATH}`, `ingest=http+${ctx.state.publicUrl}/api/readyz`]
  try {
    await startNodeService(ctx, 'monitor', 'monitor', { MONITOR_TARGETS: targets.join(',') })
  } catch (err) {
    // The stack is usable without its monitor: report it, keep going.
    ctx.log(`warning: the monitor did not become ready: ${(err as Error).message}`)
  }
}

async function buildWeb(log: (line: string) => void): Promise<string | undefined> {
  try {
    const web = (await import('../../../services/web/src/index.ts')) as {
      ensureWebBuilt: (o?: { log?: (m: string) => void }) => Promise<string>
    }
    return await web.ensureWebBuilt({ log })
  } catch (err) {
    log(`warning: pages not served (build failed: ${(err as Error).message.split('\n')[0]})`)
    return undefined
  }
}

function description(ctx: Ctx): NginxDescription {
  const { state } = ctx
  const b = state.balancing
  const ingest = state.procs.filter((p) => p.role === 'ingest')
  const monitor = state.procs.filter((p) => p.role === 'monitor')
  return {
    listen: `${state.host}:${state.publicPort}`,
    stateDir: join(ctx.stateDir, 'nginx'),
    logDir: join(ctx.stateDir, 'logs'),
    ...(process.getuid?.() === 0 ? { user: 'root' } : {}),
    workerProcesses: 2,
    workerConnections: 8192,
    gateways: {
      strategy: b.strategy,
      ...(b.hashKey ? { hashKey: b.hashKey } : {}),
      ...(b.consistent !== undefined ? { consistent: b.consistent } : {}),
      servers: state.procs
        .filter((p) => p.role === 'gateway')
        .map((g) => ({ address: `127.0.0.1:${g.port}`, maxFails: b.maxFails, failTimeout: b.failTimeout })),
    },
    ingest: { keepalive: 16, servers: ingest.map((p) => ({ address: `127.0.0.1:${p.port}` })) },
    ...(monitor.length > 0 ? { monitor: { servers: monitor.map((p) => ({ address: `127.0.0.1:${p.port}` })) } } : {}),
    ...(state.webRoot ? { webRoot: state.webRoot } : {}),
    websocket: { heartbeatMs: Number(state.env.WS_HEARTBEAT_MS ?? 15_000), readTimeoutSeconds: 120 },
  }
}

/** Render, validate with nginx -t, write; returns the rendered generation and notes. */
function writeNginxConfig(ctx: Ctx): { generation: string; notes: string[] } {
  const d = description(ctx)
  const rendered = renderNginxConfig(d)
  testConfig(rendered.text, { prefix: d.stateDir })
  writeFileSync(join(ctx.stateDir, 'nginx', 'nginx.conf'), rendered.text)
  // The description too, so an operator can re-render it by hand (node nginx/render.ts --config).
  writeFileSync(join(ctx.stateDir, 'nginx', 'stack.json'), `${JSON.stringify(d, null, 2)}\n`)
  ctx.state.generation = rendered.generation
  return { generation: rendered.generation, notes: rendered.notes }
}

async function startNginx(ctx: Ctx): Promise<string[]> {
  const { notes } = writeNginxConfig(ctx)
  const prefix = join(ctx.stateDir, 'nginx')
  const conf = join(prefix, 'nginx.conf')
  const rec = launch(
    ctx,
    { name: 'nginx', role: 'nginx', port: ctx.state.publicPort, marker: conf, log: join(ctx.stateDir, 'logs', 'nginx.log') },
    findBinary('nginx')!,
    ['-p', prefix, '-e', join(ctx.stateDir, 'logs', 'nginx-error.log'), '-c', conf, '-g', 'daemon off;'],
    { PATH: process.env.PATH },
  )
  await waitUntil('nginx', () => generationServed(ctx, rec.port), 15_000, died(rec))
  return notes
}

async function generationServed(ctx: Ctx, port: number): Promise<boolean> {
  const r = await httpGet(`http://127.0.0.1:${port}${GENERATION_PATH}`)
  return r.status === 200 && r.body.includes(`"generation":"${ctx.state.generation}"`)
}

async function reloadNginx(ctx: Ctx, nginx: ProcRecord): Promise<void> {
  writeNginxConfig(ctx)
  await reloadAndWait(nginx.pid, 15_000)
  await waitUntil('nginx to serve the new configuration', () => generationServed(ctx, nginx.port), 10_000)
  ctx.log(`nginx reloaded (generation ${ctx.state.generation}, ${ctx.state.procs.filter((p) => p.role === 'gateway').length} gateways)`)
}

/** Render the description the stack would get (with placeholder servers): a refusal becomes a StackError before anything starts. */
function checkDescription(
  stateDir: string,
  host: string,
  publicPort: number,
  balancing: StackState['balancing'],
  env: Record<string, string>,
): void {
  const placeholder = (role: Role, port: number): ProcRecord => ({ name: role, role, pid: 0, port, marker: '', log: '' })
  const state = { host, publicPort, balancing, env, procs: [placeholder('gateway', 1), placeholder('ingest', 2)] } as unknown as StackState
  try {
    renderNginxConfig(description({ stateDir, state } as Ctx))
  } catch (err) {
    if (err instanceof NginxConfigError)
      throw new StackError(`these options give a configuration nginx cannot use (nothing was started): ${err.message}`)
    throw err
  }
}

/** mkdir -p with one-line errors (a path that is a file, an unwritable parent), instead of a stack trace. */
function ensureDir(dir: string): void {
  let isDir: boolean | undefined
  try {
    isDir = statSync(dir).isDirectory()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'ENOTDIR')
      throw new StackError(`cannot use ${dir}: ${(err as Error).message}`)
  }
  if (isDir === false) throw new StackError(`${dir} exists and is not a directory; choose another --state-dir`)
  if (isDir === undefined) {
    const parent = dirname(dir)
    if (parent !== dir) ensureDir(parent)
    try {
      mkdirSync(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StackError(`cannot create ${dir}: ${(err as Error).message}`)
    }
  }
  try {
    accessSync(dir, constants.W_OK)
  } catch {
    throw new StackError(`${dir} is not writable; choose another --state-dir`)
  }
}

// ---- state, secrets, lock --------------------------------------------------------------------

function readState(stateDir: string): StackState | undefined {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as StackState
  } catch {
    return undefined
  }
}

function requireState(stateDir: string): StackState {
  const s = readState(stateDir)
  if (!s) throw new StackError(`no stack in ${stateDir}; start one with \`pnpm stack up\``)
  return s
}

function writeState(stateDir: string, state: StackState): void {
  const tmp = join(stateDir, `state.json.${process.pid}`)
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`)
  // rename is atomic: a concurrent `status` never reads half a file.
  renameSync(tmp, join(stateDir, 'state.json'))
}

function secret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url')
}

function readSecrets(stateDir: string): Secrets {
  try {
    return JSON.parse(readFileSync(join(stateDir, 'secrets.json'), 'utf8')) as Secrets
  } catch {
    throw new StackError(`${join(stateDir, 'secrets.json')} is missing or unreadable; run \`pnpm stack down\` and \`up\` again`)
  }
}

function loadSecrets(stateDir: string, penv: NodeJS.ProcessEnv): { secrets: Secrets; apiKeys: string; keysFrom: 'env' | 'generated' } {
  const file = join(stateDir, 'secrets.json')
  let stored: Secrets | undefined
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as Secrets
  } catch {}
  const secrets: Secrets = {
    tokenSecret: penv.TOUCHLINE_TOKEN_SECRET?.trim() || stored?.tokenSecret || secret(32),
  }
  let apiKeys: string
  let keysFrom: 'env' | 'generated'
  if (penv.TOUCHLINE_API_KEYS?.trim()) {
    apiKeys = penv.TOUCHLINE_API_KEYS.trim()
    keysFrom = 'env'
  } else {
    apiKeys = stored?.apiKeys ?? `admin:${secret()},commentator:${secret()}`
    secrets.apiKeys = apiKeys
    keysFrom = 'generated'
  }
  writeFileSync(file, `${JSON.stringify(secrets, null, 2)}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return { secrets, apiKeys, keysFrom }
}

function parseKeys(apiKeys: string | undefined): { admin?: string; commentator?: string } {
  const out: { admin?: string; commentator?: string } = {}
  for (const pair of (apiKeys ?? '').split(',')) {
    const i = pair.indexOf(':')
    const role = pair.slice(0, i).trim()
    if ((role === 'admin' || role === 'commentator') && !out[role]) out[role] = pair.slice(i + 1).trim()
  }
  return out
}

/** One command at a time per state directory (a lock directory holding the owner's pid). */
async function withLock<T>(stateDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(stateDir, 'stack.lock')
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      mkdirSync(lock)
      writeFileSync(join(lock, 'pid'), String(process.pid))
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      let holder = 0
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'))
      } catch {}
      if (holder > 0 && !isRunning(holder)) rmSync(lock, { recursive: true, force: true })
      else if (Date.now() > deadline) throw new StackError(`another stack command (pid ${holder}) holds ${lock}`)
      else await sleep(100)
    }
  }
  try {
    return await fn()
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

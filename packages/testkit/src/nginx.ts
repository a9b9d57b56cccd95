/**
 * A real nginx for one test: its own temporary prefix directory (configuration, pid, temp files
 * and logs all inside it), a free port, `reload()` with a new configuration (SIGHUP, waiting
 * until the new workers are the ones accepting), always stopped.
 *
 * nginx never touches the system's paths: configurations are checked for pid, log and temp paths
 * outside the prefix, and any of those directives that is missing is added pointing inside it.
 *
 * nginx workers survive a SIGKILL of their master, so the master runs in a process group of its
 * own and a small guard process kills the whole group if this process dies without stopping it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { canConnect, freePort, requireBinary, tempDir, waitFor } from './process.ts'
import { binaryVersion } from './process.ts'

export interface NginxContext {
  /** The port the server block must listen on (on 127.0.0.1). */
  readonly port: number
  /** The temporary prefix directory: put pid, temp paths and logs here. */
  readonly prefix: string
  /** `root` when the tests run as root (workers would otherwise switch to nobody), else undefined. */
  readonly user: string | undefined
  /** The nginx version, e.g. "1.22.1". */
  readonly version: string
}

/**
 * A complete nginx.conf: a string (with `{{port}}` and `{{prefix}}` placeholders), a function of
 * the context, or an object with a `render(ctx)` method (e.g. a description bound to the renderer).
 */
export type NginxConfigSource = string | ((ctx: NginxContext) => string) | { render(ctx: NginxContext): string }

export interface NginxOptions {
  /** A fixed port instead of a free one. */
  port?: number
  /** Keep the prefix directory after stop (for debugging). */
  keep?: boolean
}

export interface NginxServer {
  readonly port: number
  /** http://127.0.0.1:<port> */
  readonly url: string
  /** ws://127.0.0.1:<port> */
  readonly wsUrl: string
  readonly prefix: string
  readonly confPath: string
  readonly pid: number
  readonly version: string
  /** The configuration text in effect. */
  readonly config: string
  errorLog(): string
  accessLog(): string
  /** Worker pids currently accepting connections. */
  workers(): number[]
  /** Validate (nginx -t), write and SIGHUP; resolves when the new workers accept and the old ones stopped accepting. */
  reload(next?: NginxConfigSource): Promise<void>
  /** Fast shutdown (SIGTERM: open connections are closed). */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export class NginxConfigRejected extends Error {
  override name = 'NginxConfigRejected'
}

export async function startNginx(source: NginxConfigSource, options: NginxOptions = {}): Promise<NginxServer> {
  const bin = requireBinary('nginx', 'nginx')
  const version = binaryVersion(bin, ['-v']) ?? '0.0.0'
  const prefix = tempDir('nginx')
  const confPath = `${prefix}/nginx.conf`
  const user = process.getuid?.() === 0 ? 'root' : undefined
  let current = source
  let port = options.port ?? (await freePort())
  let child: ChildProcess | undefined
  let output = ''
  let config = ''

  const build = (src: NginxConfigSource): string => {
    const ctx: NginxContext = { port, prefix, user, version }
    const text = typeof src === 'string' ? src : typeof src === 'function' ? src(ctx) : src.render(ctx)
    return confine(text.replaceAll('{{port}}', String(port)).replaceAll('{{prefix}}', prefix), prefix, user)
  }

  const launch = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      config = build(current)
      nginxTest(bin, config, prefix)
      writeFileSync(confPath, config)
      output = ''
      const c = spawn(bin, ['-p', prefix, '-e', `${prefix}/error.log`, '-c', confPath, '-g', 'daemon off;'], {
        cwd: prefix,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      if (c.pid === undefined) throw new Error('could not start nginx')
      guard(`+${c.pid}`)
      c.stdout?.on('data', (b: Buffer) => (output += b.toString()))
      c.stderr?.on('data', (b: Buffer) => (output += b.toString()))
      c.once('exit', () => guard(`-${c.pid}`))
      child = c
      try {
        await waitFor(
          `nginx on port ${port}`,
          async () => {
            if (c.exitCode !== null || c.signalCode !== null)
              throw new Error(`nginx exited: ${output}${readLog(`${prefix}/error.log`).slice(-1000)}`)
            // Ready once every configured worker runs: a caller that lists workers right away
            // (to kill or watch them) must see all of them, not the first one to fork.
            return (await canConnect(port)) && workersOf(c.pid!).length >= workerCount(config) ? true : undefined
          },
          10_000,
          10,
        )
        return
      } catch (err) {
        await killGroup(c)
        const busy = /Address already in use/.test(`${output}${readLog(`${prefix}/error.log`)}`)
        if (!busy || options.port !== undefined || attempt >= 4) throw err
        port = await freePort()
      }
    }
  }

  await launch()

  const server: NginxServer = {
    get port() {
      return port
    },
    get url() {
      return `http://127.0.0.1:${port}`
    },
    get wsUrl() {
      return `ws://127.0.0.1:${port}`
    },
    prefix,
    confPath,
    get pid() {
      return child?.pid ?? -1
    },
    version,
    get config() {
      return config
    },
    errorLog: () => readLog(logPath(config, 'error_log') ?? `${prefix}/error.log`),
    accessLog: () => readLog(logPath(config, 'access_log') ?? `${prefix}/access.log`),
    workers: () => (child?.pid ? workersOf(child.pid) : []),
    async reload(next) {
      if (next !== undefined) current = next
      const text = build(current)
      nginxTest(bin, text, prefix)
      const master = child?.pid
      if (!master || child?.exitCode !== null) throw new Error('nginx is not running')
      writeFileSync(confPath, text)
      config = text
      const before = new Set(workersOf(master))
      process.kill(master, 'SIGHUP')
      await waitFor(
        'nginx reload',
        () => {
          const now = workersOf(master)
          const fresh = now.filter((p) => !before.has(p)).length
          return fresh >= workerCount(text) && !now.some((p) => before.has(p)) ? true : undefined
        },
        10_000,
        10,
      )
    },
    async stop() {
      if (child) await killGroup(child)
      if (!options.keep) rmSync(prefix, { recursive: true, force: true })
    },
    async [Symbol.asyncDispose]() {
      await server.stop()
    },
  }
  return server
}

// ---- configuration checks ----------------------------------------------------------------------

const PATH_DIRECTIVES = [
  'pid',
  'lock_file',
  'error_log',
  'access_log',
  'client_body_temp_path',
  'proxy_temp_path',
  'fastcgi_temp_path',
  'uwsgi_temp_path',
  'scgi_temp_path',
]
const TEMP_DIRECTIVES = ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path']

/**
 * Refuse paths outside the prefix; add the directives nginx would otherwise default to system
 * paths (/run/nginx.pid, /var/log/nginx, /var/lib/nginx).
 */
export function confine(text: string, prefix: string, user: string | undefined): string {
  // A directive starts a line or follows `;`, `{` or `}` (one-line configurations are fine).
  const has = (d: string) => new RegExp(`(?:^|[;{}])\\s*${d}\\s`, 'm').test(text)
  for (const d of PATH_DIRECTIVES) {
    for (const m of text.matchAll(new RegExp(`(?:^|[;{}])\\s*${d}\\s+([^\\s;]+)`, 'gm'))) {
      const p = m[1] as string
      if (p === 'off' || p === 'stderr' || p.startsWith('syslog:') || p.startsWith('memory:') || p === '/dev/stderr' || p === '/dev/null')
        continue
      if (p.startsWith('/') && !p.startsWith(`${prefix}/`)) {
        throw new NginxConfigRejected(`testkit: nginx '${d} ${p}' is outside the test's prefix ${prefix}; use {{prefix}} or ctx.prefix`)
      }
    }
  }
  const main: string[] = []
  if (!has('pid')) main.push(`pid ${prefix}/nginx.pid;`)
  if (!has('lock_file')) main.push(`lock_file ${prefix}/nginx.lock;`)
  if (!has('error_log')) main.push(`error_log ${prefix}/error.log notice;`)
  if (user && !has('user')) main.push(`user ${user};`)
  const http: string[] = []
  for (const d of TEMP_DIRECTIVES) if (!has(d)) http.push(`${d} ${prefix}/${d.replace('_path', '')};`)
  if (!has('access_log')) http.push(`access_log ${prefix}/access.log;`)
  let out = text
  if (http.length > 0) {
    if (!/(?:^|[;{}])\s*http\s*\{/m.test(out)) throw new NginxConfigRejected('testkit: the nginx configuration has no http { } block')
    out = out.replace(/((?:^|[;{}])\s*http\s*\{)/m, `$1\n  ${http.join('\n  ')}`)
  }
  return main.length > 0 ? `${main.join('\n')}\n${out}` : out
}

function nginxTest(bin: string, text: string, prefix: string): void {
  const file = `${prefix}/nginx.test.conf`
  const pidLine = `pid ${prefix}/nginx.test.pid;`
  writeFileSync(file, /^\s*pid .*;$/m.test(text) ? text.replace(/^\s*pid .*;$/m, pidLine) : `${pidLine}\n${text}`)
  const r = spawnSync(bin, ['-t', '-q', '-p', prefix, '-e', 'stderr', '-c', file], { encoding: 'utf8' })
  if (r.status !== 0)
    throw new NginxConfigRejected(`nginx -t refused the configuration:\n${r.stdout}${r.stderr}\n--- configuration ---\n${text}`)
}

/** The file of the first `error_log` / `access_log` directive. */
function logPath(config: string, directive: 'error_log' | 'access_log'): string | undefined {
  const m = new RegExp(`^\\s*${directive}\\s+(/[^\\s;]+)`, 'm').exec(config)
  return m?.[1]
}

function readLog(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : ''
}

/** The worker processes a config asks for (`worker_processes N|auto`; nginx's default is 1). */
function workerCount(config: string): number {
  const m = /^\s*worker_processes\s+(\d+|auto)\s*;/m.exec(config)
  if (!m) return 1
  return m[1] === 'auto' ? availableParallelism() : Math.max(1, Number(m[1]))
}

function workersOf(master: number): number[] {
  let kids: number[] = []
  try {
    kids = readFileSync(`/proc/${master}/task/${master}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
  return kids.filter((p) => {
    try {
      const t = readFileSync(`/proc/${p}/cmdline`, 'utf8')
      return t.includes('worker process') && !t.includes('shutting down')
    } catch {
      return false
    }
  })
}

async function killGroup(c: ChildProcess): Promise<void> {
  const pid = c.pid
  if (pid === undefined) return
  const exited = c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()))
  try {
    process.kill(pid, 'SIGTERM')
  } catch {}
  const timer = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {}
  }, 5000)
  await exited
  clearTimeout(timer)
  // Workers normally exit with the master; make sure none is left holding the port.
  try {
    process.kill(-pid, 'SIGKILL')
  } catch {}
  groups.delete(pid)
  guard(`-${pid}`)
}

// ---- the group guard -----------------------------------------------------------------------------

/**
 * Kill process group `pgid` (a child spawned with `detached: true`, e.g. by the local stack runner)
 * if this process dies without cleaning up. Returns a function that stops guarding it.
 */
export function guardProcessGroup(pgid: number): () => void {
  guard(`+${pgid}`)
  return () => guard(`-${pgid}`)
}

const groups = new Set<number>()
let guardProc: ChildProcess | undefined

const GUARD_SCRIPT = `
const parent = Number(process.argv[1]); const groups = new Set(); let buf = ''
const killAll = () => { for (const g of groups) { try { process.kill(-g, 'SIGKILL') } catch {} } process.exit(0) }
process.stdin.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\\n')) >= 0) { const l = buf.slice(0, i); buf = buf.slice(i + 1)
  const n = Number(l.slice(1)); if (l[0] === '+') groups.add(n); else groups.delete(n) } })
process.stdin.on('end', killAll); process.stdin.on('error', killAll)
setInterval(() => { try { process.kill(parent, 0) } catch { killAll() } }, 500)
`

function guard(line: string): void {
  const pid = Number(line.slice(1))
  if (line.startsWith('+')) groups.add(pid)
  else groups.delete(pid)
  if (!guardProc || guardProc.exitCode !== null) {
    guardProc = spawn(process.execPath, ['-e', GUARD_SCRIPT, String(process.pid)], { stdio: ['pipe', 'ignore', 'ignore'], detached: true })
    guardProc.unref()
    ;(guardProc.stdin as unknown as { unref?: () => void }).unref?.()
    for (const g of groups) guardProc.stdin?.write(`+${g}\n`)
    if (line.startsWith('+')) return
  }
  guardProc.stdin?.write(`${line}\n`)
}

process.on('exit', () => {
  for (const g of groups) {
    try {
      process.kill(-g, 'SIGKILL')
    } catch {}
  }
})

/**
 * Driving a real nginx: find the binary, validate a file with `nginx -t`, and reload a running
 * master and wait until the new configuration is the one accepting connections.
 *
 * Reload is nginx's own: SIGHUP makes the master start new workers with the new file and ask the
 * old ones to stop accepting; old workers keep the connections they hold (WebSockets included)
 * until those close, so a reload drops nothing.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { NginxMissingError, NginxTestError } from './errors.ts'

export function findNginx(): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/nginx/sbin'])
  for (const d of dirs) {
    if (!d) continue
    const p = join(d, 'nginx')
    if (existsSync(p)) return p
  }
  return undefined
}

export function requireNginx(): string {
  const bin = findNginx()
  if (!bin)
    throw new NginxMissingError('nginx was not found on PATH or in /usr/sbin. Install it (Debian/Ubuntu: apt-get install -y nginx).')
  return bin
}

/** e.g. "1.22.1" */
export function nginxVersion(bin: string = requireNginx()): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' })
  return /nginx\/(\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? '0.0.0'
}

/**
 * `nginx -t` on a configuration text, with `prefix` as nginx's prefix. The pid path is swapped for
 * a throw-away one first: `nginx -t` writes the pid file, and must not clobber a running master's.
 */
export function testConfig(text: string, options: { bin?: string; prefix?: string } = {}): void {
  const bin = options.bin ?? requireNginx()
  const dir = mkdtempSync(join(tmpdir(), 'touchline-nginx-t-'))
  try {
    const file = join(dir, 'nginx.conf')
    const pidLine = `pid ${dir}/test.pid;`
    writeFileSync(file, /^pid .*;$/m.test(text) ? text.replace(/^pid .*;$/m, pidLine) : `${pidLine}\n${text}`)
    const r = spawnSync(bin, ['-t', '-q', '-p', options.prefix ?? dir, '-e', 'stderr', '-c', file], { encoding: 'utf8' })
    if (r.status !== 0) throw new NginxTestError(`${r.stdout}${r.stderr}`.replaceAll(file, 'nginx.conf'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Child pids of a process (Linux). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}

function title(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
  } catch {
    return undefined
  }
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    return state !== 'Z' && state !== 'X'
  } catch {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
}

/** Workers of an nginx master that accept new connections (not shutting down). */
export function acceptingWorkers(masterPid: number): number[] {
  return childPids(masterPid).filter((p) => {
    const t = title(p)
    return t?.includes('worker process') === true && !t.includes('shutting down')
  })
}

/**
 * SIGHUP the master and wait until the new workers are up and every old worker has stopped
 * accepting (exited, or titled "shutting down"). Call `testConfig` first: on a bad file nginx
 * keeps the old configuration and this times out.
 */
export async function reloadAndWait(masterPid: number, timeoutMs = 10_000): Promise<void> {
  const before = new Set(acceptingWorkers(masterPid))
  process.kill(masterPid, 'SIGHUP')
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const now = acceptingWorkers(masterPid)
    const fresh = now.filter((p) => !before.has(p))
    const stale = now.filter((p) => before.has(p))
    if (fresh.length > 0 && stale.length === 0) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`nginx (pid ${masterPid}) did not finish reloading within ${timeoutMs} ms; see its error log`)
}

/**
 * Process plumbing for the local runner: detached children with their output in a log file,
 * "is this pid still the process we started" checks, health probes and free ports.
 */
import { spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { delimiter, join } from 'node:path'

export interface Spawned {
  pid: number
}

/**
 * Start a detached process (its own process group, so it outlives this one and can be signalled as
 * a group) with stdout and stderr appended to `logFile`.
 */
export function spawnDetached(command: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; logFile: string }): Spawned {
  const fd = openSync(opts.logFile, 'a')
  try {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', fd, fd] })
    if (child.pid === undefined) throw new Error(`could not start ${command}`)
    child.unref()
    return { pid: child.pid }
  } finally {
    closeSync(fd)
  }
}

/** True while the process exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const state = stat.charAt(stat.lastIndexOf(')') + 2)
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

/** The command line and the initial environment of a process, as text ('' when unreadable). */
function procText(pid: number): string {
  let out = ''
  for (const f of ['cmdline', 'environ']) {
    try {
      out += `${readFileSync(`/proc/${pid}/${f}`, 'latin1').replaceAll('\0', ' ')}\n`
    } catch {}
  }
  return out
}

/**
 * Whether `pid` is still the process we started: running, and its command line or environment
 * carries our marker (so a recycled pid is never signalled).
 */
export function owns(pid: number, marker: string): boolean {
  if (!isRunning(pid)) return false
  if (!existsSync('/proc/self')) return true
  // The marker as a whole word: `TOUCHLINE_STACK_DIR=/x/.stack` must not match a process of `/x/.stack2`.
  const text = procText(pid)
  return text.includes(`${marker} `) || text.includes(`${marker}\n`)
}

/** Signal a process group (falls back to the process itself). */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {}
  }
}

export async function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!isRunning(pid)) return true
    await sleep(25)
  }
  return !isRunning(pid)
}

/** SIGTERM (or `signal`), wait, then SIGKILL the whole group. */
export async function stopProcess(pid: number, timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!isRunning(pid)) return
  try {
    process.kill(pid, signal)
  } catch {}
  if (!(await waitExit(pid, timeoutMs))) signalGroup(pid, 'SIGKILL')
  await waitExit(pid, 2000)
  // nginx workers (or anything else in the group) must not outlive their leader.
  signalGroup(pid, 'SIGKILL')
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, host, () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host)
    s.setTimeout(timeoutMs, () => {
      s.destroy()
      resolve(false)
    })
    s.once('connect', () => {
      s.destroy()
      resolve(true)
    })
    s.once('error', () => resolve(false))
  })
}

/** PING a Redis server; true on +PONG. */
export function redisPing(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host)
    let buf = ''
    const done = (v: boolean) => {
      s.destroy()
      resolve(v)
    }
    s.setTimeout(timeoutMs, () => done(false))
    s.once('connect', () => s.write('PING\r\n'))
    s.on('data', (d) => {
      buf += d.toString()
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'))
    })
    s.once('error', () => done(false))
  })
}

/** GET a URL: the status (0 when unreachable) and the body. */
export async function httpGet(url: string, timeoutMs = 1500): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    return { status: res.status, body: await res.text() }
  } catch {
    return { status: 0, body: '' }
  }
}

export async function waitUntil(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs: number,
  failFast?: () => string | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const why = failFast?.()
    if (why) throw new Error(`${what}: ${why}`)
    if (await fn()) return
    await sleep(50)
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export function findBinary(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/local/sbin', '/sbin', '/usr/local/bin'])
  for (const d of dirs) {
    if (!d) continue
    const p = join(d, name)
    if (existsSync(p)) return p
  }
  return undefined
}

/** Last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

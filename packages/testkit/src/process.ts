/**
 * Running real server binaries for tests, and making sure none outlives the test run.
 *
 * Every child is registered with a per-process watchdog: a small detached process that holds the
 * read end of a pipe from us. When this process exits for any reason (test failure, timeout,
 * SIGKILL of the vitest worker), the pipe closes and the watchdog kills every registered pid.
 * Normal stops unregister first.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, delimiter } from 'node:path'
import { fileURLToPath } from 'node:url'

let watchdog: ChildProcess | undefined
const live = new Set<number>()

function ensureWatchdog(): ChildProcess {
  if (watchdog && watchdog.exitCode === null) return watchdog
  const script = fileURLToPath(new URL('./watchdog.ts', import.meta.url))
  watchdog = spawn(process.execPath, [script, String(process.pid)], {
    stdio: ['pipe', 'ignore', 'ignore'],
    detached: true,
  })
  watchdog.unref()
  ;(watchdog.stdin as unknown as { unref?: () => void }).unref?.()
  return watchdog
}

function tell(line: string): void {
  const w = ensureWatchdog()
  w.stdin?.write(`${line}\n`)
}

process.on('exit', () => {
  for (const pid of live) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
})

export class MissingBinaryError extends Error {
  override name = 'MissingBinaryError'
}

export function findBinary(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/local/sbin', '/sbin'])
  for (const d of dirs) {
    const p = join(d, name)
    if (existsSync(p)) return p
  }
  return undefined
}

export function requireBinary(name: string, debianPackage: string): string {
  const p = findBinary(name)
  if (!p) {
    throw new MissingBinaryError(
      `testkit: '${name}' was not found on PATH and no Docker engine answered. ` +
        `Install it (Debian: apt-get install -y ${debianPackage}) or start a Docker engine.`,
    )
  }
  return p
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `touchline-${prefix}-`))
}

export interface Proc {
  readonly child: ChildProcess
  readonly pid: number
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>
  output(): string
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>
}

export function startProcess(command: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const pid = child.pid
  if (pid === undefined) throw new Error(`could not start ${command}`)
  live.add(pid)
  tell(`+${pid}`)
  let out = ''
  const keep = (b: Buffer) => {
    out += b.toString()
    if (out.length > 64_000) out = out.slice(-32_000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      live.delete(pid)
      tell(`-${pid}`)
      resolve(code)
    })
  })
  return {
    child,
    pid,
    exited,
    output: () => out,
    async stop(signal = 'SIGTERM', timeoutMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Ask the OS for a free TCP port on 127.0.0.1 (for servers that cannot pick one themselves). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net')
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let lastErr: unknown
  while (Date.now() < deadline) {
    try {
      const v = await fn()
      if (v !== undefined && v !== false) return v as T
    } catch (err) {
      lastErr = err
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`)
}

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return import('node:net').then(
    ({ connect }) =>
      new Promise((resolve) => {
        const s = connect(port, host)
        s.once('connect', () => {
          s.destroy()
          resolve(true)
        })
        s.once('error', () => resolve(false))
      }),
  )
}

/** Version string of a binary, e.g. "2.9.10", or undefined. */
export function binaryVersion(path: string, args: string[] = ['--version']): string | undefined {
  const r = spawnSync(path, args, { encoding: 'utf8' })
  const m = /(\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`)
  return m?.[1]
}

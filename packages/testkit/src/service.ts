/**
 * Start a touchline service as an operator would: `node <flags> services/<name>/src/main.ts` with
 * environment variables, as a real process, on a free port; wait until its /readyz answers 200.
 * The flags are the service's own (`touchline.nodeFlags` in its package.json), the ones the local
 * runner, compose file and Dockerfile start it with.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { freePort, startProcess, waitFor, type Proc } from './process.ts'

export type ServiceName = 'ingest' | 'gateway' | 'monitor' | 'embedded'

export interface ServiceProcess {
  readonly name: ServiceName
  readonly port: number
  readonly url: string
  readonly pid: number
  readonly proc: Proc
  output(): string
  /** SIGTERM (graceful drain) and wait for exit. */
  stop(): Promise<void>
  /** SIGKILL: a crash. */
  kill(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))

export interface StartServiceOptions {
  env?: Record<string, string | undefined>
  port?: number
  /** Path polled until it answers 200; default /readyz. */
  readyPath?: string
  timeoutMs?: number
}

export async function startService(name: ServiceName, options: StartServiceOptions = {}): Promise<ServiceProcess> {
  const port = options.port ?? (await freePort())
  const entry = fileURLToPath(new URL(`../../../services/${name}/src/main.ts`, import.meta.url))
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...options.env, PORT: String(port) }
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k]
  const proc = startProcess(process.execPath, [...serviceNodeFlags(name), entry], { cwd: repoRoot, env })
  const url = `http://127.0.0.1:${port}`
  const readyPath = options.readyPath ?? '/readyz'
  await waitFor(
    `${name} at ${url}${readyPath}`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`${name} exited with ${proc.child.exitCode}: ${proc.output().slice(-1500)}`)
      const res = await fetch(url + readyPath).catch(() => undefined)
      return res?.status === 200 ? true : undefined
    },
    options.timeoutMs ?? 20_000,
    50,
  )
  return {
    name,
    port,
    url,
    pid: proc.pid,
    proc,
    output: () => proc.output(),
    stop: () => proc.stop('SIGTERM', 15_000),
    kill: () => proc.stop('SIGKILL'),
    [Symbol.asyncDispose]: () => proc.stop('SIGTERM', 15_000),
  }
}

/** The Node flags a service runs with: `touchline.nodeFlags` of services/<name>/package.json. */
export function serviceNodeFlags(name: ServiceName): string[] {
  const pkg = JSON.parse(readFileSync(new URL(`../../../services/${name}/package.json`, import.meta.url), 'utf8'))
  const flags: unknown = pkg.touchline?.nodeFlags ?? []
  if (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string' && f.startsWith('--')))
    throw new Error(`services/${name}/package.json: touchline.nodeFlags must be a list of --flags`)
  return flags
}

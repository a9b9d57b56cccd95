/**
 * The pages as seen from Node: where the built files are (`webRoot()`), and a build on demand
 * (`ensureWebBuilt()`) so that `pnpm start` works right after `pnpm install` on a fresh clone.
 *
 * The build is skipped when dist/ carries a stamp whose fingerprint (path, size and mtime of every
 * source file) matches the sources. Concurrent callers (several test processes, say) serialize on
 * a lock directory, and a build lands in dist/ by rename, so a server never serves a half-written
 * tree. Vite is imported only when a build is needed.
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { distDir, pages, viteConfig, webDir } from './build-config.ts'

const STAMP = '.touchline-build.json'
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url))
/** Scratch space for builds in progress and the lock: inside node_modules, so never committed. */
const workDir = join(webDir, 'node_modules', '.touchline-web')
const lockDir = join(workDir, 'build.lock')

/** Absolute path of the built pages (services/web/dist). */
export function webRoot(): string {
  return distDir
}

export { pages }

function walk(dir: string, out: string[]): void {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name)
    if (entry.isDirectory()) walk(p, out)
    else if (entry.isFile() && !entry.name.endsWith('.test.ts')) out.push(p)
  }
}

/** Every file the build reads: the pages, the client code, the config and the shared protocol. */
export function sourceFiles(): string[] {
  const files: string[] = []
  for (const html of Object.values(pages)) files.push(join(webDir, html))
  files.push(join(webDir, 'vite.config.ts'), join(webDir, 'src', 'build-config.ts'))
  walk(join(webDir, 'src', 'client'), files)
  walk(join(repoRoot, 'packages', 'protocol', 'src'), files)
  return files.filter((f) => existsSync(f)).sort()
}

export function sourceFingerprint(): string {
  const hash = createHash('sha256')
  for (const f of sourceFiles()) {
    const st = statSync(f)
    hash.update(`${relative(repoRoot, f)}\0${st.size}\0${Math.floor(st.mtimeMs)}\n`)
  }
  return hash.digest('hex')
}

/** True when dist/ is missing, incomplete, or was built from other sources. */
export function isWebBuildStale(): boolean {
  try {
    const stamp = JSON.parse(readFileSync(join(distDir, STAMP), 'utf8')) as { fingerprint?: string }
    if (stamp.fingerprint !== sourceFingerprint()) return true
    return !Object.values(pages).every((p) => existsSync(join(distDir, p)))
  } catch {
    return true
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function acquireLock(timeoutMs: number): Promise<() => void> {
  mkdirSync(workDir, { recursive: true })
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      mkdirSync(lockDir)
      writeFileSync(join(lockDir, 'pid'), String(process.pid))
      return () => rmSync(lockDir, { recursive: true, force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    // A lock left by a dead process, or older than the timeout, is broken.
    try {
      const pid = Number(readFileSync(join(lockDir, 'pid'), 'utf8'))
      const age = Date.now() - statSync(lockDir).mtimeMs
      if ((pid > 0 && !pidAlive(pid)) || age > timeoutMs) rmSync(lockDir, { recursive: true, force: true })
    } catch {}
    if (Date.now() > deadline) throw new Error(`web build: timed out waiting for the build lock ${lockDir}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

export interface EnsureOptions {
  /** Build even when dist/ looks current. */
  force?: boolean
  /** Told when a build starts and ends. */
  log?: (message: string) => void
}

/**
 * Build the pages with Vite's `build()` when dist/ is missing or older than the sources.
 * Resolves to the dist path. Safe to call from several processes at once.
 */
export async function ensureWebBuilt(options: EnsureOptions = {}): Promise<string> {
  if (!options.force && !isWebBuildStale()) return distDir
  const release = await acquireLock(120_000)
  try {
    if (!options.force && !isWebBuildStale()) return distDir
    const fingerprint = sourceFingerprint()
    const started = Date.now()
    options.log?.('building the pages with vite')
    const out = join(workDir, `dist-${process.pid}-${started}`)
    const { build } = await import('vite')
    await build({ ...viteConfig(out), configFile: false })
    writeFileSync(join(out, STAMP), `${JSON.stringify({ fingerprint, builtAt: new Date().toISOString() })}\n`)
    const old = join(workDir, `old-${process.pid}-${started}`)
    if (existsSync(distDir)) renameSync(distDir, old)
    renameSync(out, distDir)
    rmSync(old, { recursive: true, force: true })
    options.log?.(`pages built in ${Date.now() - started} ms`)
    return distDir
  } finally {
    release()
  }
}

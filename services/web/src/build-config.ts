/**
 * The Vite configuration of the pages, shared by `vite build` (vite.config.ts) and
 * `ensureWebBuilt()` (src/index.ts). Three pages, one multi-page build into dist/.
 */
import { fileURLToPath } from 'node:url'
import type { UserConfig } from 'vite'

export const webDir = fileURLToPath(new URL('..', import.meta.url))
export const distDir = fileURLToPath(new URL('../dist', import.meta.url))

/** The HTML entry points: one per page. */
export const pages = {
  index: 'index.html',
  console: 'console.html',
  status: 'status.html',
} as const

/**
 * The monitor's default PORT (`monitorSpec.PORT` in services/monitor/src/config.ts). Written out
 * rather than imported, so that building the pages does not load the monitor; build-config.test.ts
 * fails when the two disagree.
 */
export const MONITOR_DEFAULT_PORT = 8090

/**
 * `env` says where a `vite dev` server sends what the pages call: TOUCHLINE_DEV_BACKEND (default
 * the embedded process on 8080) and TOUCHLINE_DEV_MONITOR (default a monitor on its own default port).
 */
export function viteConfig(outDir: string = distDir, env: NodeJS.ProcessEnv = process.env): UserConfig {
  const backend = env.TOUCHLINE_DEV_BACKEND ?? 'http://127.0.0.1:8080'
  const monitor = env.TOUCHLINE_DEV_MONITOR ?? `http://127.0.0.1:${MONITOR_DEFAULT_PORT}`
  return {
    root: webDir,
    base: '/',
    logLevel: 'warn',
    clearScreen: false,
    publicDir: false,
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: false,
      rollupOptions: {
        input: Object.fromEntries(
          Object.entries(pages).map(([name, file]) => [name, fileURLToPath(new URL(`../${file}`, import.meta.url))]),
        ),
      },
    },
    server: {
      proxy: {
        '/api': backend,
        '/ws': { target: backend.replace(/^http/, 'ws'), ws: true },
        '/monitor': { target: monitor, rewrite: (p: string) => p.replace(/^\/monitor/, '') },
      },
    },
  }
}

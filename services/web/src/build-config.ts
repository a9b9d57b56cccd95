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

/** Where a `vite dev` server sends what the pages call (the embedded process on 8080 by default). */
const backend = process.env.TOUCHLINE_DEV_BACKEND ?? 'http://127.0.0.1:8080'
const monitor = process.env.TOUCHLINE_DEV_MONITOR ?? 'http://127.0.0.1:9100'

export function viteConfig(outDir: string = distDir): UserConfig {
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

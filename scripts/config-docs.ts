/**
 * The README's configuration tables are generated from the services' config specs, so they can't
 * drift: `node scripts/config-docs.ts --write` rewrites them; `config-docs.test.ts` fails when
 * the README differs from what this would write.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describeSpec, type Spec } from '../packages/config/src/index.ts'
import { embeddedSpec } from '../services/embedded/src/config.ts'
import { gatewaySpec } from '../services/gateway/src/config.ts'
import { ingestSpec } from '../services/ingest/src/config.ts'
import { monitorSpec } from '../services/monitor/src/config.ts'

export const README = fileURLToPath(new URL('../README.md', import.meta.url))

export const sections: Record<string, Spec> = {
  embedded: embeddedSpec,
  ingest: ingestSpec,
  gateway: gatewaySpec,
  monitor: monitorSpec,
}

export function table(spec: Spec): string {
  return `| variable | default | meaning |\n|---|---|---|\n${describeSpec(spec)}`
}

export function render(readme: string): string {
  let out = readme
  for (const [name, spec] of Object.entries(sections)) {
    const start = `<!-- config:${name}:start -->`
    const end = `<!-- config:${name}:end -->`
    const i = out.indexOf(start)
    const j = out.indexOf(end)
    if (i < 0 || j < i) throw new Error(`README.md lacks the ${start} … ${end} markers`)
    out = `${out.slice(0, i + start.length)}\n${table(spec)}\n${out.slice(j)}`
  }
  return out
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const current = readFileSync(README, 'utf8')
  const next = render(current)
  if (process.argv.includes('--write')) {
    writeFileSync(README, next)
    console.log(next === current ? 'README.md is up to date' : 'README.md configuration tables rewritten')
  } else {
    process.stdout.write(next)
  }
}

/**
 * `pnpm bench suite [--only a,b] [--list] [--wait-quiet S]`: the fanout runs behind docs/performance.md, one after
 * the other (each a fresh `node bench/run.ts fanout …` process writing its own result files),
 * then `pnpm bench chart`. Runs at 10,000–20,000 connections load the whole machine for a few
 * minutes each: start the suite when nothing else is running (each target also waits up to
 * --wait-quiet seconds, default 300, for other work on the machine to stop).
 */
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

export const SUITE: Array<{ name: string; args: string }> = [
  { name: 'sat-1k', args: '--connections 1000 --saturate --duration 10' },
  { name: 'sat-10k', args: '--connections 10000 --saturate --duration 10' },
  { name: 'steady-1k', args: '--connections 1000 --rate 10 --duration 10' },
  { name: 'steady-5k', args: '--connections 5000 --rate 10 --duration 10' },
  { name: 'steady-10k', args: '--connections 10000 --rate 10 --duration 10' },
  { name: 'one-10k', args: '--connections 10000 --saturate --window 1 --duration 10' },
  { name: 'one-1k', args: '--connections 1000 --saturate --window 1 --duration 10' },
  { name: 'sat-10k-2gw', args: '--connections 10000 --gateways 2 --saturate --duration 10' },
  { name: 'nginx-sat-1k', args: '--connections 1000 --saturate --via-nginx --duration 10 --targets touchline,ws-send,ws-prebuilt' },
  { name: 'nginx-sat-10k', args: '--connections 10000 --saturate --via-nginx --duration 10 --targets touchline,ws-send,ws-prebuilt' },
  { name: 'steady-20k-2gw', args: '--connections 20000 --gateways 2 --rate 10 --duration 10' },
  { name: 'sat-20k-2gw', args: '--connections 20000 --gateways 2 --saturate --duration 10' },
  { name: 'chat-5k', args: '--connections 5000 --rate 10 --chat 5 --duration 10' },
]

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { only: { type: 'string' }, list: { type: 'boolean', default: false }, 'wait-quiet': { type: 'string', default: '300' } },
  })
  const only = values.only?.split(',').map((s) => s.trim())
  const runs = SUITE.filter((r) => !only || only.includes(r.name))
  if (values.list) {
    for (const r of SUITE) process.stdout.write(`${r.name.padEnd(16)} pnpm bench fanout ${r.args}\n`)
    return
  }
  const root = fileURLToPath(new URL('../', import.meta.url))
  for (const r of runs) {
    process.stderr.write(`\n[suite] ${r.name}: pnpm bench fanout ${r.args}\n`)
    const args = [...r.args.split(' '), '--wait-quiet', values['wait-quiet']]
    const res = spawnSync(process.execPath, ['bench/run.ts', 'fanout', ...args], { cwd: root, stdio: 'inherit' })
    if (res.status !== 0) process.stderr.write(`[suite] ${r.name} exited with ${res.status}\n`)
  }
  spawnSync(process.execPath, ['bench/run.ts', 'chart'], { cwd: root, stdio: 'inherit' })
}

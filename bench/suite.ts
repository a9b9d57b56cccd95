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

/**
 * Chat limits for the chat-heavy run: 100 msgs/s over the default ⌈2 × 100⌉ = 200 chatters is
 * 30 messages per chatter per minute, exactly the gateway's default CHAT_CONN_PER_MIN (burst 5)
 * and under CHAT_USER_PER_MIN 40; any jitter would refuse some. The run measures fan-out, not rate
 * limiting, so both limits get 20× headroom (rate-limit refusals must stay 0: see goals.ts throttledShare).
 */
export const CHAT_HEAVY_GATEWAY_ENV = 'CHAT_CONN_PER_MIN=600,CHAT_CONN_BURST=60,CHAT_USER_PER_MIN=600,CHAT_USER_BURST=60'

export const SUITE: Array<{ name: string; args: string }> = [
  { name: 'sat-1k', args: '--connections 1000 --saturate --duration 10' },
  { name: 'sat-10k', args: '--connections 10000 --saturate --duration 10' },
  { name: 'steady-1k', args: '--connections 1000 --rate 10 --duration 10' },
  { name: 'steady-5k', args: '--connections 5000 --rate 10 --duration 10' },
  { name: 'steady-10k', args: '--connections 10000 --rate 10 --duration 10' },
  { name: 'one-10k', args: '--connections 10000 --saturate --window 1 --duration 10' },
  { name: 'one-1k', args: '--connections 1000 --saturate --window 1 --duration 10' },
  { name: 'sat-10k-2gw', args: '--connections 10000 --gateways 2 --saturate --duration 10' },
  // issue #10: two gateways at 10 events/s against Socket.IO's two processes
  { name: 'steady-10k-2gw', args: '--connections 10000 --gateways 2 --rate 10 --duration 10' },
  // issue #10: two gateways behind nginx; the ws baselines run 2 processes behind the same nginx
  {
    name: 'nginx-sat-1k-2gw',
    args: '--connections 1000 --gateways 2 --saturate --via-nginx --duration 10 --targets touchline,ws-send,ws-prebuilt',
  },
  {
    name: 'nginx-sat-10k-2gw',
    args: '--connections 10000 --gateways 2 --saturate --via-nginx --duration 10 --targets touchline,ws-send,ws-prebuilt',
  },
  { name: 'steady-20k-2gw', args: '--connections 20000 --gateways 2 --rate 10 --duration 10' },
  { name: 'sat-20k-2gw', args: '--connections 20000 --gateways 2 --saturate --duration 10' },
  { name: 'chat-5k', args: '--connections 5000 --rate 10 --chat 5 --duration 10' },
  // issue #10, chat-heavy: touchline's write coalescing against one write per frame
  // (touchline-nocoalesce: CHAT_COALESCE_MS=0, WS_CORK=false) on the same N; the three baselines
  // relay chat too, so they run as well
  {
    name: 'chat-heavy-5k',
    args:
      '--connections 5000 --rate 10 --chat 100 --duration 10 ' +
      '--targets touchline,touchline-nocoalesce,ws-send,ws-prebuilt,socketio ' +
      `--gateway-env ${CHAT_HEAVY_GATEWAY_ENV}`,
  },
]

export async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { only: { type: 'string' }, list: { type: 'boolean', default: false }, 'wait-quiet': { type: 'string', default: '300' } },
  })
  const only = values.only?.split(',').map((s) => s.trim())
  const unknown = only?.filter((n) => !SUITE.some((r) => r.name === n)) ?? []
  if (unknown.length) throw new Error(`--only: no run named ${unknown.join(', ')} (runs: ${SUITE.map((r) => r.name).join(', ')})`)
  const runs = SUITE.filter((r) => !only || only.includes(r.name))
  const wait = values['wait-quiet']
  if (!/^\d+(\.\d+)?$/.test(wait)) throw new Error(`--wait-quiet must be a number of seconds, got ${JSON.stringify(wait)}`)
  if (values.list) {
    // exactly what the suite runs, in order
    for (const r of runs) process.stdout.write(`${r.name.padEnd(18)} pnpm bench fanout ${r.args} --wait-quiet ${wait}\n`)
    process.stdout.write(`${'(then)'.padEnd(18)} pnpm bench chart\n`)
    return
  }
  const root = fileURLToPath(new URL('../', import.meta.url))
  for (const r of runs) {
    const args = [...r.args.split(' '), '--wait-quiet', wait]
    process.stderr.write(`\n[suite] ${r.name}: pnpm bench fanout ${args.join(' ')}\n`)
    const res = spawnSync(process.execPath, ['bench/run.ts', 'fanout', ...args], { cwd: root, stdio: 'inherit' })
    if (res.status !== 0) process.stderr.write(`[suite] ${r.name} exited with ${res.status}\n`)
  }
  spawnSync(process.execPath, ['bench/run.ts', 'chart'], { cwd: root, stdio: 'inherit' })
}

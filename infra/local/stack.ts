/**
 * The local stack runner, for machines without a container engine:
 *
 *   pnpm stack up [--gateways 3] [--strategy round_robin|least_conn|ip_hash|hash] [--hash-key '$arg_match']
 *                 [--port 8080] [--host 127.0.0.1] [--state-dir .stack] [--no-web] [--no-monitor] [--json]
 *   pnpm stack scale --gateways 5 [--json]
 *   pnpm stack status [--json]
 *   pnpm stack down [--purge]
 *
 * Every process runs detached with its log in <state-dir>/logs; see docs/operations.md.
 * Exit status: 0 done (status: everything healthy), 1 failed or unhealthy, 2 bad usage.
 */
import { parseArgs } from 'node:util'
import { STRATEGIES, type Strategy } from '../../nginx/src/types.ts'
import { down, scale, StackError, status, up, type StackStatus } from './src/stack.ts'

const usage = `usage: pnpm stack <command> [options]

commands
  up       start Redis, NATS, ingest, gateways, the monitor and nginx; print the URL and the admin key
  scale    change the number of gateways (nginx reloads; removed gateways drain)
  status   every process with pid, port, health (and node id for gateways)
  down     stop everything (--purge also deletes the state directory)

options
  --state-dir <dir>   where state, secrets, data and logs live (default .stack)
  --gateways <n>      up: how many gateways (default 2); scale: the new number
  --strategy <s>      up: ${STRATEGIES.join(' | ')} (default round_robin)
  --hash-key <key>    up, with --strategy hash: the key (default $arg_match)
  --no-consistent     up, with --strategy hash: plain modulo hashing instead of ketama
  --port <n>          up: nginx's public port (default 8080); everything else takes free ports
  --host <addr>       up: the address nginx listens on (default 127.0.0.1)
  --no-web            up: do not build or serve the pages
  --no-monitor        up: do not start the monitor
  --json              machine-readable output
  --purge             down: also delete the state directory (NATS data, secrets, logs)
`

function fail(message: string, code = 1): number {
  process.stderr.write(`stack: ${message}\n`)
  return code
}

function table(s: StackStatus): string {
  if (!s.running && s.processes.length === 0) return `no stack in ${s.stateDir}\n`
  const rows = [['NAME', 'ROLE', 'PID', 'PORT', 'HEALTH', 'NODE', 'DETAIL']]
  for (const p of s.processes) rows.push([p.name, p.role, String(p.pid), String(p.port), p.health, p.nodeId ?? '', p.detail ?? ''])
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  const lines = rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  )
  const head = `touchline stack in ${s.stateDir}: ${s.publicUrl ?? ''} (${s.strategy ?? '?'}, ${s.gateways} gateway${s.gateways === 1 ? '' : 's'}) — ${
    s.healthy ? 'healthy' : s.running ? 'NOT HEALTHY' : 'not running'
  }`
  return `${head}\n${lines.join('\n')}\n`
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse()
  } catch (err) {
    return fail(`${(err as Error).message}\n${usage}`, 2)
  }
  const { values: v, positionals } = parsed
  const command = positionals[0]
  if (v.help || !command) {
    process.stdout.write(usage)
    return command || v.help ? 0 : 2
  }
  const json = v.json === true
  const log = json ? () => {} : (line: string) => process.stderr.write(`stack: ${line}\n`)
  const stateDir = v['state-dir']
  const int = (name: string, raw: string | undefined): number | undefined => {
    if (raw === undefined) return undefined
    if (!/^\d+$/.test(raw)) throw new StackError(`--${name} must be a whole number, got ${JSON.stringify(raw)}`)
    return Number(raw)
  }

  try {
    switch (command) {
      case 'up': {
        const strategy = v.strategy as Strategy | undefined
        if (strategy !== undefined && !(STRATEGIES as readonly string[]).includes(strategy)) {
          return fail(`--strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(strategy)}`, 2)
        }
        const r = await up({
          stateDir,
          port: int('port', v.port),
          host: v.host,
          gateways: int('gateways', v.gateways),
          strategy,
          hashKey: v['hash-key'],
          consistent: v['no-consistent'] ? false : undefined,
          web: !v['no-web'],
          monitor: !v['no-monitor'],
          log,
        })
        if (json) {
          process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)
        } else {
          process.stdout.write(table(r))
          for (const n of r.notes) process.stdout.write(`note: ${n}\n`)
          process.stdout.write(
            `\nopen        ${r.publicUrl}/\napi         ${r.publicUrl}/api/v1/matches\nwebsocket   ${r.publicUrl.replace('http', 'ws')}/ws\n`,
          )
          process.stdout.write(
            r.keysFrom === 'env'
              ? `admin key   from TOUCHLINE_API_KEYS${r.adminKey ? `: ${r.adminKey}` : ''}\n`
              : `admin key   ${r.adminKey}   (commentator: ${r.commentatorKey}; stored in ${r.stateDir}/secrets.json)\n`,
          )
          process.stdout.write(`logs        ${r.stateDir}/logs/\n`)
        }
        return r.healthy ? 0 : 1
      }
      case 'scale': {
        const n = int('gateways', v.gateways)
        if (n === undefined) return fail('scale needs --gateways <n>', 2)
        const r = await scale({ stateDir, gateways: n, log })
        process.stdout.write(json ? `${JSON.stringify(r, null, 2)}\n` : table(r))
        return r.healthy ? 0 : 1
      }
      case 'status': {
        const r = await status({ stateDir })
        process.stdout.write(json ? `${JSON.stringify(r, null, 2)}\n` : table(r))
        return r.healthy ? 0 : 1
      }
      case 'down': {
        await down({ stateDir, purge: v.purge === true, log })
        if (!json) process.stdout.write('stopped\n')
        return 0
      }
      default:
        return fail(`unknown command ${JSON.stringify(command)}\n${usage}`, 2)
    }
  } catch (err) {
    return fail(err instanceof StackError ? err.message : ((err as Error).stack ?? String(err)))
  }
}

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      'state-dir': { type: 'string' },
      gateways: { type: 'string', short: 'n' },
      strategy: { type: 'string' },
      'hash-key': { type: 'string' },
      'no-consistent': { type: 'boolean' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      'no-web': { type: 'boolean' },
      'no-monitor': { type: 'boolean' },
      json: { type: 'boolean' },
      purge: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

process.exitCode = await main()

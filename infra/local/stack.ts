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
 * Exit status: 0 done (status: everything healthy), 1 failed or unhealthy, 2 bad usage,
 * 128+signal when `up` is interrupted (everything it started is stopped first).
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

exit status: 0 done (status: all healthy), 1 failed or not healthy, 2 bad usage,
130 up interrupted by Ctrl-C (what it had started is stopped)
`

/** Which options each command takes; any other is a usage error rather than silently ignored. */
const OPTIONS_OF: Record<string, string[]> = {
  up: ['state-dir', 'gateways', 'strategy', 'hash-key', 'no-consistent', 'port', 'host', 'no-web', 'no-monitor', 'json'],
  scale: ['state-dir', 'gateways', 'json'],
  status: ['state-dir', 'json'],
  down: ['state-dir', 'purge', 'json'],
}

class UsageError extends Error {}

// A closed terminal or pipe must not kill a command half-way (e.g. `up` with processes started).
process.stdout.on('error', () => {})
process.stderr.on('error', () => {})

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
  const allowed = OPTIONS_OF[command]
  if (!allowed) return fail(`unknown command ${JSON.stringify(command)}\n${usage}`, 2)
  if (positionals.length > 1) return fail(`unexpected argument ${JSON.stringify(positionals[1])} (see --help)`, 2)
  for (const name of Object.keys(v)) {
    if (!allowed.includes(name)) return fail(`--${name} is not an option of ${command} (see --help)`, 2)
  }
  const json = v.json === true
  const log = json ? () => {} : (line: string) => process.stderr.write(`stack: ${line}\n`)
  const stateDir = v['state-dir']
  if (stateDir === '') return fail('--state-dir must not be empty', 2)
  const int = (name: string, raw: string | undefined, min: number, max: number): number | undefined => {
    if (raw === undefined) return undefined
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
      throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    return Number(raw)
  }

  try {
    switch (command) {
      case 'up': {
        const strategy = v.strategy as Strategy | undefined
        if (strategy !== undefined && !(STRATEGIES as readonly string[]).includes(strategy)) {
          return fail(`--strategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(strategy)}`, 2)
        }
        if ((v['hash-key'] !== undefined || v['no-consistent']) && strategy !== 'hash') {
          return fail('--hash-key and --no-consistent need --strategy hash', 2)
        }
        if (v.host === '') return fail('--host must not be empty', 2)
        const port = int('port', v.port, 1, 65535)
        const gateways = int('gateways', v.gateways, 1, 64)
        // Ctrl-C, SIGTERM or a closed terminal during `up`: stop what was started, then exit.
        const abort = new AbortController()
        const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
        let caught: NodeJS.Signals | undefined
        const onSignal = (sig: NodeJS.Signals) => {
          if (caught) return
          caught = sig
          log(`${sig}: stopping what was started`)
          abort.abort()
        }
        for (const sig of signals) process.on(sig, onSignal)
        let r: Awaited<ReturnType<typeof up>>
        try {
          r = await up({
            stateDir,
            port,
            host: v.host,
            gateways,
            strategy,
            hashKey: v['hash-key'],
            consistent: v['no-consistent'] ? false : undefined,
            web: !v['no-web'],
            monitor: !v['no-monitor'],
            log,
            signal: abort.signal,
          })
        } catch (err) {
          if (caught) {
            fail(`interrupted by ${caught}; everything started was stopped`)
            // Exit now: abandoned waits for health must not keep the process alive.
            process.exit(128 + (caught === 'SIGINT' ? 2 : caught === 'SIGTERM' ? 15 : 1))
          }
          throw err
        } finally {
          for (const sig of signals) process.off(sig, onSignal)
        }
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
        const n = int('gateways', v.gateways, 1, 64)
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
        const stopped = await down({ stateDir, purge: v.purge === true, log })
        if (!json) process.stdout.write(stopped ? 'stopped\n' : 'nothing to stop\n')
        return 0
      }
      default:
        return fail(`unknown command ${JSON.stringify(command)}\n${usage}`, 2)
    }
  } catch (err) {
    if (err instanceof UsageError) return fail(err.message, 2)
    // One line for the operator; the stack only when asked (a bug in the runner, not in the input).
    if (err instanceof StackError || !process.env.TOUCHLINE_DEBUG) return fail((err as Error).message ?? String(err))
    return fail((err as Error).stack ?? String(err))
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

/**
 * `pnpm bench broker [--rate 5000] [--duration 20] [--warmup 4] [--modes jetstream,bus]`: the
 * floor under ingest's latency on this machine — the same appends as `pnpm bench ingest`, open
 * loop at the same rate, but straight to NATS from one process with no HTTP in front:
 *
 *   jetstream  a bare nats.js JetStream publish per event (what nats-server and the client
 *              library alone give at that rate)
 *   bus        `NatsBus.appendEvent` with a UUIDv7 idempotency key, as ingest's route calls it
 *              (per-match seq, board, key record, live publish)
 *
 * so an ingest p99 can be split into broker, bus and HTTP. The load process is forked with
 * ingest's own Node flags (services/ingest/package.json `touchline.nodeFlags`) unless
 * `--node-flags "<flags>"` says otherwise (`--node-flags ''` for Node's defaults): the young
 * generation's size sets how long the client's scavenges pause, which shows directly in the p99.
 *
 *   --rate L        appends per second, scheduled evenly (comma list: one row per rate)
 *   --duration S    measuring window, seconds (default 20)
 *   --warmup S      unmeasured load first, seconds (default 4)
 *   --matches M     matches the appends rotate over (default 100)
 *   --modes LIST    jetstream,bus (default both)
 *   --node-flags S  Node flags of the load process (default: ingest's)
 *
 * Starts a testkit nats-server (JetStream, file store, its own port). Latency of an append runs
 * from its scheduled time to its acknowledgement; CPU is metered over the window.
 */
import { fork } from 'node:child_process'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { serviceNodeFlags, startNats } from '../packages/testkit/src/index.ts'
import type { BrokerClientConfig, BrokerClientResult, BrokerMode } from './broker-client.ts'
import { decodeHistogram, summarize } from './lib/histogram.ts'
import type { BenchResult, BenchTable } from './lib/report.ts'
import { CpuMeter, findPids } from './lib/sys.ts'

const MODES: readonly BrokerMode[] = ['jetstream', 'bus']
/** bench/ingest.ts's event text without its counter: the same ~230-byte JSON per event. */
const TEXT = 'Corner to the home side after a long spell of pressure down the left; the delivery is cleared at the near post.'

interface Row {
  mode: BrokerMode
  rate: number
  result: BrokerClientResult
  clientCpuPct: number | undefined
  natsCpuPct: number | undefined
  machineBusyPct: number | undefined
}

function runClient(cfg: BrokerClientConfig, nodeFlags: string[], natsPids: number[]): Promise<Omit<Row, 'mode' | 'rate'>> {
  const child = fork(fileURLToPath(new URL('./broker-client.ts', import.meta.url)), [], { execArgv: nodeFlags, stdio: 'inherit' })
  let meter: CpuMeter | undefined
  let cpu: { client?: number; nats?: number; machine?: number } = {}
  return new Promise((resolve, reject) => {
    child.on('message', (m: BrokerClientResult | { t: 'window'; phase: 'start' | 'end' } | { t: 'failed'; message: string }) => {
      if (m.t === 'window' && m.phase === 'start') {
        meter = new CpuMeter({ client: [child.pid as number], nats: natsPids })
        meter.start()
      } else if (m.t === 'window' && m.phase === 'end' && meter) {
        const r = meter.stop()
        cpu = { client: r.groups.client, nats: r.groups.nats, machine: r.machineBusyPct }
      } else if (m.t === 'result') {
        resolve({ result: m, clientCpuPct: cpu.client, natsCpuPct: cpu.nats, machineBusyPct: cpu.machine })
      } else if (m.t === 'failed') reject(new Error(`broker client failed: ${m.message}`))
    })
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`broker client exited with ${code}`))
    })
    child.send({ t: 'run', cfg })
  })
}

const round = (v: number | undefined, d = 1) => (v === undefined ? undefined : Math.round(v * 10 ** d) / 10 ** d)

export async function main(argv: string[]): Promise<BenchResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string', default: '5000' },
      duration: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '4' },
      matches: { type: 'string', default: '100' },
      modes: { type: 'string', default: MODES.join(',') },
      'node-flags': { type: 'string' },
    },
  })
  const rates = String(values.rate).split(',').map(Number)
  const durationSec = Number(values.duration)
  const warmupSec = Number(values.warmup)
  const matches = Number(values.matches)
  const modes = String(values.modes).split(',') as BrokerMode[]
  for (const m of modes) if (!MODES.includes(m)) throw new Error(`--modes: unknown mode ${m} (${MODES.join(', ')})`)
  if (rates.some((r) => !(r > 0)) || !(durationSec > 0) || !(warmupSec >= 0) || !(matches >= 1))
    throw new Error('--rate, --duration and --matches must be positive numbers, --warmup ≥ 0')
  const nodeFlags = values['node-flags'] === undefined ? serviceNodeFlags('ingest') : values['node-flags'].split(/\s+/).filter(Boolean)

  const nats = await startNats()
  const rows: Row[] = []
  try {
    const natsPids = findPids((cmd) => cmd.includes('nats-server') && cmd.includes(dirname(nats.storeDir)))
    for (const rate of rates) {
      for (const mode of modes) {
        console.error(
          `[bench broker] ${mode}: open loop ${rate}/s, ${warmupSec}s warm-up + ${durationSec}s, client flags: ${nodeFlags.join(' ') || '(none)'}`,
        )
        const cfg: BrokerClientConfig = { servers: nats.url, mode, rate, warmupSec, durationSec, matches, text: TEXT }
        rows.push({ mode, rate, ...(await runClient(cfg, nodeFlags, natsPids)) })
      }
    }
  } finally {
    await nats.stop()
  }

  const table: BenchTable = {
    title: `appends straight to NATS ${nats.version}, open loop, ${matches} matches, latency from the scheduled time (ms)`,
    columns: [
      'mode',
      'offered/s',
      'acked/s',
      'p50',
      'p90',
      'p99',
      'p99.9',
      'max',
      'errors',
      'client CPU %',
      'NATS CPU %',
      'machine busy %',
      'client GC pauses (n / total ms / max ms)',
      'client loop delay p99 / max ms',
    ],
    rows: rows.map((r) => {
      const s = summarize(decodeHistogram(r.result.latency))
      return [
        r.mode,
        r.rate,
        Math.round(r.result.acked / durationSec),
        s.p50,
        s.p90,
        s.p99,
        s.p999,
        s.max,
        r.result.errors,
        round(r.clientCpuPct, 0),
        round(r.natsCpuPct, 0),
        round(r.machineBusyPct, 0),
        `${r.result.gc.n} / ${Math.round(r.result.gc.totalMs)} / ${round(r.result.gc.maxMs)}`,
        `${round(r.result.loopDelayP99Ms)} / ${round(r.result.loopDelayMaxMs)}`,
      ]
    }),
  }
  const notes = [
    `client Node flags: ${nodeFlags.join(' ') || '(Node defaults)'}`,
    ...rows.map((r) => `${r.mode} ${r.rate}/s: worst latency per 500 ms (ms): ${r.result.worstByHalfSecond.join(' ')}`),
    ...rows.filter((r) => r.result.firstError).map((r) => `${r.mode} ${r.rate}/s: first error: ${r.result.firstError}`),
    "ingest's target is p99 < 20 ms at 5,000/s over HTTP (pnpm bench ingest); these rows are what is left without HTTP",
  ]
  return {
    scenario: 'broker',
    params: { rates, durationSec, warmupSec, matches, modes, nodeFlags },
    tables: [table],
    notes,
    data: rows.map((r) => ({ mode: r.mode, rate: r.rate, ...r.result, clientCpuPct: r.clientCpuPct, natsCpuPct: r.natsCpuPct })),
  }
}

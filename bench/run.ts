/**
 * `pnpm bench <scenario> [flags]`: runs one scenario and writes its results to
 * bench/results/<date>-<host>-<scenario>.json and .md (or `--out <dir>`), with the machine
 * (OS, CPU, cores, memory, Node), the commit, and other processes busy at the start.
 *
 * Scenarios are modules exporting `main(argv: string[])` that resolve to a BenchResult
 * (bench/lib/report.ts: params, tables, notes, data); anything else they resolve to is kept as
 * `data`. `pnpm bench chart` regenerates the chart and the figures in docs/performance.md;
 * `pnpm bench profile <file.cpuprofile>` summarizes a server's CPU profile (`fanout --cpu-prof`).
 */
import { fileURLToPath } from 'node:url'
import { type BenchRecord, type BenchResult, gitInfo, renderMarkdown, writeRecord } from './lib/report.ts'
import { calibrate } from './lib/calibrate.ts'
import { busyOthers, systemInfo } from './lib/sys.ts'

const SCENARIOS: Record<string, string> = {
  fanout: './fanout.ts',
  ingest: './ingest.ts',
  broker: './broker.ts',
  presence: './presence.ts',
  chart: './chart.ts',
  profile: './profile.ts',
  suite: './suite.ts',
}

const USAGE = `usage: pnpm bench <${Object.keys(SCENARIOS).join('|')}> [--out DIR] [scenario flags; --help for each]`

function isBenchResult(v: unknown): v is BenchResult {
  return typeof v === 'object' && v !== null && Array.isArray((v as BenchResult).tables)
}

export async function run(argv: string[]): Promise<{ record?: BenchRecord; files?: { json: string; md: string } }> {
  const args = [...argv]
  const scenario = args.shift()
  if (!scenario || !(scenario in SCENARIOS)) throw new Error(USAGE)
  let outDir = fileURLToPath(new URL('./results/', import.meta.url))
  const o = args.indexOf('--out')
  if (o >= 0) {
    const dir = args[o + 1]
    if (!dir) throw new Error('--out needs a directory')
    outDir = dir
    args.splice(o, 2)
  }
  const mod = (await import(SCENARIOS[scenario] as string)) as { main(argv: string[]): Promise<unknown> }
  if (scenario === 'chart' || scenario === 'profile' || scenario === 'suite') {
    await mod.main(args)
    return {}
  }
  const startedAt = new Date().toISOString()
  const busyAtStart = await busyOthers(new Set())
  const calibration = await calibrate()
  const out = await mod.main(args)
  const result: BenchResult = isBenchResult(out)
    ? out
    : { scenario, params: { argv: args.join(' ') }, tables: [], ...(out === undefined ? {} : { data: out }) }
  const root = fileURLToPath(new URL('../', import.meta.url))
  const record: BenchRecord = {
    ...result,
    scenario: result.scenario || scenario,
    meta: {
      command: `pnpm bench ${argv.join(' ')}`,
      startedAt,
      finishedAt: new Date().toISOString(),
      ...gitInfo(root),
      system: { ...systemInfo(), calibration },
      busyAtStart,
    },
  }
  const files = writeRecord(outDir, record)
  return { record, files }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  run(process.argv.slice(2)).then(
    ({ record, files }) => {
      if (record && files) process.stdout.write(`${renderMarkdown(record)}\nwritten: ${files.json}\n         ${files.md}\n`)
      process.exitCode = 0
      // keep-alive agents and the testkit's watchdog pipe would hold the loop open
      setTimeout(() => process.exit(0), 200).unref()
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exit(1)
    },
  )
}

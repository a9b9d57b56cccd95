/**
 * `node bench/ingest.ts [--duration 10] [--connections 50]` (or `pnpm bench ingest …`): how many
 * events per second ingest accepts — durable in JetStream before the 201 — and at what latency.
 *
 *   --duration S      measuring window per scenario, seconds (default 10)
 *   --connections N   concurrent HTTP connections, one request in flight each (default 50)
 *   --matches M       matches for the spread scenario (default 100)
 *   --replicas R      ingest processes; connections are split between them (default 1)
 *   --warmup S        unmeasured load before each window, seconds (default 2)
 *   --no-idempotency  post without Idempotency-Key headers (default: a unique key per post,
 *                     as the commentator console sends)
 *   --cpu-prof DIR    write V8 CPU profiles of the ingest processes to DIR (see `pnpm bench profile`)
 *   --scenarios LIST  spread,single,single-1 (default all): 100 matches; one match; one match
 *                     with one connection (one post at a time: the append round trip)
 *
 * Starts a testkit NATS (JetStream, file store) and Redis, R ingest processes as operators run
 * them (`services/ingest/src/main.ts`), creates the matches, then drives `POST
 * /v1/matches/:id/events` with autocannon: "spread" rotates over all matches, "single" hits one.
 * Accepted = 201 answers inside the window. After each scenario the log positions are checked:
 * the events stored equal the 201s received (nothing lost, nothing doubled).
 *
 * Run directly, it prints the tables and writes bench/results/ingest-<date>.json; through
 * bench/run.ts, `main` returns the result and run.ts writes the record.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { startNats, startRedis, startService, type ServiceProcess } from '../packages/testkit/src/index.ts'
import type { BenchResult, BenchTable } from './lib/report.ts'
import { CpuMeter, findPids } from './lib/sys.ts'

const ADMIN = 'bench-admin-key-0001'
const COMMENTATOR = 'bench-commentator-key-0001'
const SECRET = 'bench-token-secret-0123456789abcdef'
const TARGET = { eventsPerSec: 5000, p99Ms: 20 }

export interface IngestBenchOptions {
  duration: number
  connections: number
  matches: number
  replicas: number
  warmup: number
  idempotency: boolean
  scenarios: Scenario[]
  /** write V8 CPU profiles of the ingest processes into this directory */
  cpuProf: string | undefined
}

/** spread: all matches; single: one match; single-1: one match, one connection (one post at a time) */
type Scenario = 'spread' | 'single' | 'single-1'
const SCENARIOS: readonly Scenario[] = ['spread', 'single', 'single-1']

interface ScenarioFigures {
  scenario: Scenario
  connections: number
  matches: number
  accepted: number
  acceptedPerSec: number
  non2xx: number
  errors: number
  timeouts: number
  p50Ms: number
  p90Ms: number
  p99Ms: number
  p999Ms: number
  maxMs: number
  /** stored events vs 201s seen; they may differ by the posts in flight when the window closed */
  /** worst replica's percentiles when R > 1 (autocannon histograms cannot be merged) */
  percentilesOf: 'all' | 'worst replica'
  storedInWindowCheck: { stored: number; accepted201: number; ok: boolean }
  cpuPct: Record<string, number | undefined>
  machineBusyPct: number | undefined
}

function parse(argv: string[]): IngestBenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      matches: { type: 'string', default: '100' },
      replicas: { type: 'string', default: '1' },
      warmup: { type: 'string', default: '2' },
      'no-idempotency': { type: 'boolean', default: false },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(`${(/\/\*\*([\s\S]*?)\*\//.exec(USAGE_SOURCE)?.[1] ?? '').replace(/^ \* ?/gm, '')}\n`)
    process.exit(0)
  }
  const num = (name: string, v: string, min: number) => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${v}`)
    return n
  }
  const scenarios = values.scenarios.split(',').map((s) => s.trim())
  for (const s of scenarios) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--scenarios: unknown ${s} (${SCENARIOS.join(', ')})`)
  }
  return {
    duration: num('duration', values.duration, 1),
    connections: Math.floor(num('connections', values.connections, 1)),
    matches: Math.floor(num('matches', values.matches, 1)),
    replicas: Math.floor(num('replicas', values.replicas, 1)),
    warmup: num('warmup', values.warmup, 0),
    idempotency: !values['no-idempotency'],
    scenarios: scenarios as Scenario[],
    cpuProf: values['cpu-prof'],
  }
}

const USAGE_SOURCE = `/**
 * node bench/ingest.ts [--duration 10] [--connections 50] [--matches 100] [--replicas 1]
 *                      [--warmup 2] [--no-idempotency] [--scenarios spread,single,single-1]
 */`

async function api(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const r = await fetch(base + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  return { status: r.status, json: await r.json().catch(() => undefined) }
}

/** ~230 bytes of JSON: a typical line of commentary. */
function eventBody(n: number): string {
  return JSON.stringify({
    kind: 'commentary',
    minute: n % 90,
    text: `Corner to the home side after a long spell of pressure down the left; the delivery is cleared at the near post. (${n})`,
  })
}

let keySeq = 0
const runId = Date.now().toString(36)

function drive(
  base: string,
  matchIds: readonly string[],
  connections: number,
  seconds: number,
  idempotency: boolean,
): Promise<autocannon.Result> {
  let i = 0
  return autocannon({
    url: base,
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const n = i++
          const matchId = matchIds[n % matchIds.length] as string
          const headers: Record<string, string> = {
            'content-type': 'application/json',
            authorization: `Bearer ${COMMENTATOR}`,
          }
          if (idempotency) headers['idempotency-key'] = `${runId}-${keySeq++}`
          return { ...req, path: `/v1/matches/${matchId}/events`, headers, body: eventBody(n) }
        },
      },
    ],
  })
}

async function lastSeqs(base: string, matchIds: readonly string[]): Promise<number> {
  let sum = 0
  for (let k = 0; k < matchIds.length; k += 20) {
    const part = await Promise.all(
      matchIds.slice(k, k + 20).map(async (id) => {
        const r = await api(base, 'GET', `/v1/matches/${id}/events?limit=1&since=${Number.MAX_SAFE_INTEGER}`)
        return (r.json as { lastSeq: number }).lastSeq
      }),
    )
    for (const s of part) sum += s
  }
  return sum
}

/** The summed last seqs once they stopped changing for 500 ms (at most 15 s). */
async function settled(base: string, matchIds: readonly string[]): Promise<number> {
  let prev = await lastSeqs(base, matchIds)
  const until = Date.now() + 15_000
  for (;;) {
    await new Promise((r) => setTimeout(r, 500))
    const cur = await lastSeqs(base, matchIds)
    if (cur === prev || Date.now() > until) return cur
    prev = cur
  }
}

async function runScenario(
  scenario: Scenario,
  ingests: ServiceProcess[],
  matchIds: readonly string[],
  o: IngestBenchOptions,
  cpuGroups: Record<string, number[]>,
): Promise<ScenarioFigures> {
  const connections = scenario === 'single-1' ? 1 : o.connections
  const active = scenario === 'single-1' ? ingests.slice(0, 1) : ingests
  const per = (r: number) => Math.floor(connections / active.length) + (r < connections % active.length ? 1 : 0)
  if (o.warmup > 0) {
    await Promise.all(active.map((s, r) => (per(r) > 0 ? drive(s.url, matchIds, per(r), o.warmup, o.idempotency) : null)))
  }
  // Posts still in flight when the warmup stopped land now: wait until the logs stop growing.
  const before = await settled(ingests[0]!.url, matchIds)
  const meter = new CpuMeter(cpuGroups)
  meter.start()
  const results = await Promise.all(
    active.filter((_, r) => per(r) > 0).map((s, r) => drive(s.url, matchIds, per(r), o.duration, o.idempotency)),
  )
  const cpu = meter.stop()
  // Posts cut off when the window closed may still land: let them, then count.
  const after = await settled(ingests[0]!.url, matchIds)
  const accepted = results.reduce((a, r) => a + (r.statusCodeStats?.['201']?.count ?? 0), 0)
  const seconds = Math.max(...results.map((r) => r.duration))
  const worst = (f: (r: autocannon.Result) => number) => Math.max(...results.map(f))
  return {
    scenario,
    connections,
    matches: matchIds.length,
    accepted,
    acceptedPerSec: accepted / seconds,
    non2xx: results.reduce((a, r) => a + r.non2xx, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
    timeouts: results.reduce((a, r) => a + r.timeouts, 0),
    p50Ms: worst((r) => r.latency.p50),
    p90Ms: worst((r) => r.latency.p90),
    p99Ms: worst((r) => r.latency.p99),
    p999Ms: worst((r) => r.latency.p99_9),
    maxMs: worst((r) => r.latency.max),
    percentilesOf: results.length > 1 ? 'worst replica' : 'all',
    // At most one post per connection was cut off by the end of the window (stored, 201 unseen).
    storedInWindowCheck: {
      stored: after - before,
      accepted201: accepted,
      ok: after - before >= accepted && after - before - accepted <= connections,
    },
    cpuPct: cpu.groups,
    machineBusyPct: cpu.machineBusyPct,
  }
}

export async function main(argv: string[]): Promise<BenchResult> {
  const o = parse(argv)
  const log = (s: string) => process.stderr.write(`[bench ingest] ${s}\n`)
  log(`starting NATS, Redis and ${o.replicas} ingest process(es)`)
  const [nats, redis] = await Promise.all([startNats(), startRedis()])
  const ingests: ServiceProcess[] = []
  try {
    const env = {
      NATS_URL: nats.url,
      REDIS_URL: redis.url,
      TOUCHLINE_API_KEYS: `admin:${ADMIN},commentator:${COMMENTATOR}`,
      TOUCHLINE_TOKEN_SECRET: SECRET,
      LOG_LEVEL: 'warn',
      ...(o.cpuProf ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${o.cpuProf}` } : {}),
    }
    ingests.push(...(await Promise.all(Array.from({ length: o.replicas }, () => startService('ingest', { env })))))
    const base = ingests[0]!.url
    const spread = Array.from({ length: o.matches }, (_, i) => `bench-${String(i).padStart(3, '0')}`)
    const single = ['bench-solo']
    for (const id of [...spread, ...single]) {
      const r = await api(base, 'POST', '/v1/matches', {
        id,
        title: `Bench ${id}`,
        home: 'Home',
        away: 'Away',
        startsAt: new Date().toISOString(),
      })
      if (r.status !== 201) throw new Error(`creating ${id}: ${r.status} ${JSON.stringify(r.json)}`)
    }
    const natsDir = dirname(nats.storeDir)
    const cpuGroups = {
      ingest: ingests.map((s) => s.pid),
      nats: findPids((cmd) => cmd.includes('nats-server') && cmd.includes(natsDir)),
      bench: [process.pid],
    }
    const figures: ScenarioFigures[] = []
    for (const s of o.scenarios) {
      log(`${s}: ${s === 'single-1' ? 1 : o.connections} connections, ${o.warmup}s warmup + ${o.duration}s`)
      figures.push(await runScenario(s, ingests, s === 'spread' ? spread : single, o, cpuGroups))
    }
    return report(o, figures)
  } finally {
    await Promise.allSettled(ingests.map((s) => s.stop()))
    await Promise.allSettled([nats.stop(), redis.stop()])
  }
}

function report(o: IngestBenchOptions, figures: ScenarioFigures[]): BenchResult {
  const table: BenchTable = {
    title: `POST /v1/matches/:id/events on real NATS (JetStream file store), ${o.replicas} ingest, ${o.duration}s per scenario`,
    columns: [
      'scenario',
      'matches',
      'connections',
      'accepted/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      'non-2xx',
      'errors',
      'stored ≈ 201s',
      'ingest CPU %',
      'NATS CPU %',
      'machine busy %',
    ],
    rows: figures.map((f) => [
      f.scenario,
      f.matches,
      f.connections,
      Math.round(f.acceptedPerSec),
      f.p50Ms,
      f.p90Ms,
      f.p99Ms,
      f.p999Ms,
      f.maxMs,
      f.non2xx,
      f.errors,
      `${f.storedInWindowCheck.ok ? 'yes' : 'NO'} (+${f.storedInWindowCheck.stored - f.storedInWindowCheck.accepted201} in flight)`,
      f.cpuPct.ingest === undefined ? undefined : Math.round(f.cpuPct.ingest),
      f.cpuPct.nats === undefined ? undefined : Math.round(f.cpuPct.nats),
      f.machineBusyPct === undefined ? undefined : Math.round(f.machineBusyPct),
    ]),
  }
  const notes: string[] = []
  const spread = figures.find((f) => f.scenario === 'spread')
  if (spread) {
    const met = spread.acceptedPerSec >= TARGET.eventsPerSec && spread.p99Ms < TARGET.p99Ms
    notes.push(
      `target (≥ ${TARGET.eventsPerSec} events/s across ${spread.matches} matches with p99 < ${TARGET.p99Ms} ms): ${met ? 'met' : 'NOT met'} — ${Math.round(spread.acceptedPerSec)} events/s, p99 ${spread.p99Ms} ms`,
    )
  }
  const single = figures.find((f) => f.scenario === 'single')
  const serial = figures.find((f) => f.scenario === 'single-1')
  if (single || serial) {
    const parts = [
      single ? `${Math.round(single.acceptedPerSec)} events/s with ${single.connections} connections` : undefined,
      serial ? `${Math.round(serial.acceptedPerSec)} events/s one post at a time (p50 ${serial.p50Ms} ms)` : undefined,
    ].filter(Boolean)
    notes.push(
      `single match: ${parts.join(', ')}. Bound: a match's seqs are assigned one after another (seq N+1 is published with JetStream's expected-last-subject-sequence = N's), so one match takes at most 1 / (JetStream publish round trip) per process; its scoreboard updates are coalesced (one compare-and-set in KV at a time, covering every event appended meanwhile).`,
    )
  }
  notes.push(
    `percentiles: autocannon's per-request latency${o.replicas > 1 ? ' (worst replica)' : ''}; idempotency keys ${o.idempotency ? 'on' : 'off'}`,
  )
  return {
    scenario: 'ingest',
    params: { ...o },
    tables: [table],
    notes,
    data: { figures },
  }
}

function markdown(r: BenchResult): string {
  const t = r.tables[0] as BenchTable
  const cell = (v: unknown) => (v === undefined || v === null ? 'n/a' : String(v))
  return [
    `**${t.title}**`,
    '',
    `| ${t.columns.join(' | ')} |`,
    `|${t.columns.map(() => ' --- ').join('|')}|`,
    ...t.rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
    '',
    ...(r.notes ?? []).map((n) => `- ${n}`),
  ].join('\n')
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (result) => {
      const dir = fileURLToPath(new URL('./results/', import.meta.url))
      mkdirSync(dir, { recursive: true })
      const file = `${dir}ingest-${new Date().toISOString().replace(/[:.]/g, '-')}.json`
      writeFileSync(
        file,
        `${JSON.stringify({ ...result, meta: { command: `node bench/ingest.ts ${process.argv.slice(2).join(' ')}`.trim(), finishedAt: new Date().toISOString() } }, null, 2)}\n`,
      )
      process.stdout.write(`${markdown(result)}\n\nwritten: ${file}\n`)
      // keep-alive sockets and the testkit's watchdog pipe would hold the loop open
      setTimeout(() => process.exit(0), 200).unref()
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
      process.exit(1)
    },
  )
}

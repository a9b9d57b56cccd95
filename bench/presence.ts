/**
 * `pnpm bench presence`: how many spectator joins and leaves per second the Redis presence store
 * takes (packages/presence RedisPresence on a real testkit redis-server), and how long the count
 * reads take meanwhile.
 *
 *   pnpm bench presence [--nodes 4] [--matches 100] [--duration 5] [--concurrency 64] [--batch 50]
 *
 * Phases, each --duration seconds, one RedisPresence per simulated gateway node (all in this
 * process, each with its own Redis connection):
 *   1. single   — every join is `add(node, match, 1)` and every leave `remove(node, match, 1)`;
 *                 --concurrency calls in flight per node (a gateway that writes each change).
 *   2. batched  — `add`/`remove` with `by = --batch` (a gateway that sums deltas per match and
 *                 flushes them, as services/gateway does every PRESENCE_FLUSH_MS); joins/s counts
 *                 the connections those calls stand for.
 *   3. reads    — `counts(match)` and `totals(all matches)` latency while phase-1 writes run.
 * At the end the counts are checked against what was written (joins − leaves per match).
 */
import { parseArgs } from 'node:util'
import { startRedis } from '../packages/testkit/src/index.ts'
import { connectRedisPresence, type PresenceStore } from '../packages/presence/src/index.ts'
import { newHistogram, summarize, type Histogram, type LatencySummary } from './lib/histogram.ts'
import type { BenchResult } from './lib/report.ts'
import { CpuMeter, findPids } from './lib/sys.ts'
import { nowUs } from './lib/wire.ts'

interface PhaseResult {
  phase: string
  calls: number
  callsPerSec: number
  /** connections joined + left per second that the calls stand for */
  changesPerSec: number
  errors: number
  latency: LatencySummary
  redisCpuPct: number | undefined
  benchCpuPct: number | undefined
}

const log = (m: string) => process.stderr.write(`[presence] ${m}\n`)

export async function main(argv: string[]): Promise<BenchResult> {
  const { values } = parseArgs({
    args: argv,
    options: {
      nodes: { type: 'string', default: '4' },
      matches: { type: 'string', default: '100' },
      duration: { type: 'string', default: '5' },
      concurrency: { type: 'string', default: '64' },
      batch: { type: 'string', default: '50' },
    },
  })
  const o = {
    nodes: Math.max(1, Number(values.nodes)),
    matches: Math.max(1, Number(values.matches)),
    duration: Math.max(0.5, Number(values.duration)),
    concurrency: Math.max(1, Number(values.concurrency)),
    batch: Math.max(1, Number(values.batch)),
  }
  await using redis = await startRedis()
  const redisPids = findPids((c) => c.includes('redis-server') && c.includes(`:${redis.port}`))
  const prefix = `benchp${Date.now().toString(36)}`
  const stores: PresenceStore[] = []
  for (let i = 0; i < o.nodes; i++) {
    stores.push(await connectRedisPresence({ url: redis.url, prefix, ttlMs: 60_000 }))
  }
  const nodeIds = stores.map((_, i) => `bench-node-${i}`)
  await Promise.all(stores.map((s, i) => s.join({ nodeId: nodeIds[i] as string, startedAt: Date.now() })))
  const matchIds = Array.from({ length: o.matches }, (_, i) => `m${i}`)
  /** net count written per match (joins − leaves), to check at the end */
  const expected = new Map<string, number>()

  async function writers(phase: string, by: number, seconds: number): Promise<PhaseResult> {
    const hist = newHistogram()
    let calls = 0
    let changes = 0
    let errors = 0
    const meter = new CpuMeter({ redis: redisPids, bench: [process.pid] })
    meter.start()
    const end = Date.now() + seconds * 1000
    const worker = async (store: PresenceStore, nodeId: string, w: number) => {
      // a worker joins a match and then leaves it again before moving on, so a leave never
      // precedes its join (counts are clamped at 0) and the net written is known exactly
      let step = 0
      while (Date.now() < end) {
        const matchId = matchIds[(w + Math.floor(step / 2) * o.concurrency) % matchIds.length] as string
        const join = step % 2 === 0
        step++
        const t0 = nowUs()
        try {
          if (join) await store.add(nodeId, matchId, by)
          else await store.remove(nodeId, matchId, by)
          hist.recordValue(Math.max(1, nowUs() - t0))
          calls++
          changes += by
          expected.set(matchId, (expected.get(matchId) ?? 0) + (join ? by : -by))
        } catch {
          errors++
          if (join) step++ // skip the leave of a join that failed
        }
      }
    }
    await Promise.all(stores.flatMap((s, i) => Array.from({ length: o.concurrency }, (_, w) => worker(s, nodeIds[i] as string, w))))
    const cpu = meter.stop()
    return {
      phase,
      calls,
      callsPerSec: calls / cpu.seconds,
      changesPerSec: changes / cpu.seconds,
      errors,
      latency: summarize(hist),
      redisCpuPct: cpu.groups.redis,
      benchCpuPct: cpu.groups.bench,
    }
  }

  log(`phase single: ${o.nodes} nodes × ${o.concurrency} in flight, ${o.matches} matches, ${o.duration} s`)
  const single = await writers(`add/remove by 1 (${o.nodes} nodes × ${o.concurrency} in flight)`, 1, o.duration)
  log(`phase batched: by ${o.batch}`)
  const batched = await writers(`add/remove by ${o.batch} (batched deltas)`, o.batch, o.duration)

  log('phase reads under write load')
  const countsHist: Histogram = newHistogram()
  const totalsHist: Histogram = newHistogram()
  let reads = 0
  const readEnd = Date.now() + o.duration * 1000
  const reader = async (store: PresenceStore) => {
    let i = 0
    while (Date.now() < readEnd) {
      const t0 = nowUs()
      if (i % 2 === 0) {
        await store.counts(matchIds[i % matchIds.length] as string)
        countsHist.recordValue(Math.max(1, nowUs() - t0))
      } else {
        await store.totals(matchIds)
        totalsHist.recordValue(Math.max(1, nowUs() - t0))
      }
      reads++
      i++
    }
  }
  const [underLoad] = await Promise.all([writers('add/remove by 1 while reading', 1, o.duration), reader(stores[0] as PresenceStore)])

  // check: what Redis sums equals what was written
  const totals = await (stores[0] as PresenceStore).totals(matchIds)
  let mismatches = 0
  for (const m of matchIds) if ((totals.get(m) ?? 0) !== (expected.get(m) ?? 0)) mismatches++
  await Promise.all(stores.map((s, i) => s.leave(nodeIds[i] as string)))
  await Promise.all(stores.map((s) => s.close()))

  const phases = [single, batched, underLoad]
  const rows = phases.map((p) => [
    p.phase,
    p.callsPerSec,
    p.changesPerSec,
    p.latency.p50,
    p.latency.p99,
    p.latency.max,
    p.errors,
    p.redisCpuPct,
    p.benchCpuPct,
  ])
  const reads_ = [
    ['counts(match)', summarize(countsHist)],
    [`totals(${o.matches} matches)`, summarize(totalsHist)],
  ] as const
  return {
    scenario: 'presence',
    params: o,
    tables: [
      {
        title: `presence writes on real Redis (RedisPresence, ${o.nodes} nodes, ${o.matches} matches, ${o.duration} s per phase)`,
        columns: ['phase', 'calls/s', 'joins+leaves/s', 'p50 (ms)', 'p99 (ms)', 'max (ms)', 'errors', 'Redis CPU %', 'bench CPU %'],
        rows,
      },
      {
        title: 'count reads while phase-3 writes run',
        columns: ['read', 'calls', 'p50 (ms)', 'p99 (ms)', 'max (ms)'],
        rows: reads_.map(([name, s]) => [name, s.count, s.p50, s.p99, s.max]),
      },
    ],
    notes: [
      `${reads} reads; after the run Redis's totals ${mismatches === 0 ? 'matched' : `did NOT match (${mismatches} matches off)`} the joins − leaves written.`,
    ],
    data: { phases, reads: Object.fromEntries(reads_.map(([n, s]) => [n, s])), mismatches },
  }
}

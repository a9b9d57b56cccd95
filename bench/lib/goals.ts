/**
 * Reading fanout results back: the latest figure per configuration, and the project's performance
 * targets checked against them (used by bench/chart.ts for docs/performance.md).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { TargetResult } from '../fanout.ts'
import type { BenchRecord } from './report.ts'

export interface FanoutRecord extends BenchRecord {
  params: {
    connections: number
    gateways: number
    rate: number
    duration: number
    viaNginx: boolean
    saturate: boolean
    chat: number
    window?: number
    [k: string]: unknown
  }
  data: { results: TargetResult[] }
  /** file name, added when loaded */
  file: string
}

export function loadFanoutRecords(files: string[]): FanoutRecord[] {
  const out: FanoutRecord[] = []
  for (const f of files) {
    try {
      const r = JSON.parse(readFileSync(f, 'utf8')) as FanoutRecord
      if (r.scenario !== 'fanout' || !r.data?.results) continue
      r.file = basename(f)
      out.push(r)
    } catch {}
  }
  return out.sort((a, b) => a.meta.startedAt.localeCompare(b.meta.startedAt))
}

export function resultFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('-fanout.json'))
      .map((f) => join(dir, f))
  } catch {
    return []
  }
}

export interface Point {
  record: FanoutRecord
  result: TargetResult
}

/** A configuration: what was run, apart from the target. */
export function configKey(r: FanoutRecord): string {
  const p = r.params
  const mode = p.saturate ? (p.window === 1 ? 'saturate-w1' : 'saturate') : `rate${p.rate}`
  return `${mode}|c${p.connections}|g${p.gateways}|${p.viaNginx ? 'nginx' : 'direct'}|chat${p.chat ?? 0}`
}

/** Other work on the machine above this (percent of one core) marks a result as noisy. */
export const NOISY_PCT = 25

export function isNoisy(r: TargetResult): boolean {
  // results from before the bench recorded other work count as noisy (unknown)
  return r.othersPct === undefined || r.othersPct > NOISY_PCT
}

function quietRecord(r: FanoutRecord): boolean {
  return r.data.results.every((x) => x.error || !isNoisy(x))
}

/**
 * One run per configuration, so that every ratio compares targets of the same invocation: the
 * run measured on an otherwise quiet machine first, then the one with the most targets, then the
 * newest.
 */
export function chosenRuns(records: FanoutRecord[]): Map<string, FanoutRecord> {
  const out = new Map<string, FanoutRecord>()
  const rank = (r: FanoutRecord): [number, number, string] => [
    quietRecord(r) ? 1 : 0,
    r.data.results.filter((x) => !x.error).length,
    r.meta.startedAt,
  ]
  const better = (a: FanoutRecord, b: FanoutRecord) => {
    const x = rank(a)
    const y = rank(b)
    return x[0] !== y[0] ? x[0] > y[0] : x[1] !== y[1] ? x[1] > y[1] : x[2] > y[2]
  }
  for (const r of records) {
    const k = configKey(r)
    const cur = out.get(k)
    if (!cur || better(r, cur)) out.set(k, r)
  }
  return out
}

/** The results of the chosen runs, keyed by configuration and target. */
export function latestPoints(records: FanoutRecord[]): Map<string, Point> {
  const out = new Map<string, Point>()
  for (const record of chosenRuns(records).values()) {
    for (const result of record.data.results) {
      if (!result.error) out.set(`${configKey(record)}|${result.target}`, { record, result })
    }
  }
  return out
}

export function find(
  points: Map<string, Point>,
  q: { saturate: boolean; connections: number; gateways: number; viaNginx?: boolean; rate?: number; target: string; oneAtATime?: boolean },
): Point | undefined {
  let best: Point | undefined
  for (const p of points.values()) {
    const r = p.record.params
    if (p.result.target !== q.target) continue
    if (r.saturate !== q.saturate || r.connections !== q.connections || r.gateways !== q.gateways) continue
    if (Boolean(r.viaNginx) !== Boolean(q.viaNginx)) continue
    if (q.rate !== undefined && !r.saturate && r.rate !== q.rate) continue
    if ((r.chat ?? 0) !== 0) continue
    if (r.saturate && (r.window === 1) !== Boolean(q.oneAtATime)) continue
    if (!best || p.record.meta.startedAt > best.record.meta.startedAt) best = p
  }
  return best
}

export interface GoalCheck {
  goal: string
  status: 'met' | 'missed' | 'not measured'
  evidence: string
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US')
const f2 = (n: number) => n.toFixed(2)

/** Nothing lost: every connection open, no gap, nothing missing, nobody closed. */
function clean(r: TargetResult): boolean {
  return (
    r.connections.failed === 0 &&
    r.connections.closed === 0 &&
    r.connections.open === r.connections.requested &&
    r.integrity.gaps === 0 &&
    r.integrity.missingAtEnd === 0 &&
    r.integrity.duplicates === 0 &&
    r.events.postErrors === 0
  )
}

export function checkGoals(points: Map<string, Point>): GoalCheck[] {
  const goals: GoalCheck[] = []
  // 1. saturation, one gateway direct: ≥ 90 % of ws-prebuilt and above ws-send, at 1,000 and 10,000
  for (const n of [1000, 10000]) {
    const tl = find(points, { saturate: true, connections: n, gateways: 1, target: 'touchline' })
    const pre = find(points, { saturate: true, connections: n, gateways: 1, target: 'ws-prebuilt' })
    const send = find(points, { saturate: true, connections: n, gateways: 1, target: 'ws-send' })
    const goal = `saturation, 1 gateway direct, N=${f0(n)}: touchline ≥ 90 % of ws-prebuilt and > ws-send`
    if (!tl || !pre || !send) {
      goals.push({ goal, status: 'not measured', evidence: 'no saturation run with touchline, ws-prebuilt and ws-send at this N' })
      continue
    }
    const a = tl.result.delivered.perSec
    const b = pre.result.delivered.perSec
    const c = send.result.delivered.perSec
    goals.push({
      goal,
      status: a >= 0.9 * b && a > c ? 'met' : 'missed',
      evidence: `${f0(a)} vs prebuilt ${f0(b)} (${f2(a / b)}×) and ws-send ${f0(c)} (${f2(a / c)}×) msgs/s — ${tl.record.file}`,
    })
  }
  // 2. steady 5,000 × 10 ev/s: nothing dropped, p99 ≤ 1.2 × ws-send, < ½ Socket.IO
  {
    const q = { saturate: false, connections: 5000, gateways: 1, rate: 10 }
    const tl = find(points, { ...q, target: 'touchline' })
    const send = find(points, { ...q, target: 'ws-send' })
    const sio = find(points, { ...q, target: 'socketio' })
    const goal = 'steady 5,000 × 10 ev/s: nothing dropped, p99 ≤ 1.2 × ws-send p99 and < ½ Socket.IO p99'
    if (!tl || !send || !sio) goals.push({ goal, status: 'not measured', evidence: 'no steady run at 5,000 × 10/s with all three' })
    else {
      const p = tl.result.latency.p99
      const ok =
        clean(tl.result) && tl.result.delivered.ratio >= 0.9999 && p <= 1.2 * send.result.latency.p99 && p < 0.5 * sio.result.latency.p99
      goals.push({
        goal,
        status: ok ? 'met' : 'missed',
        evidence:
          `p99 ${p} ms vs ws-send ${send.result.latency.p99} ms (${f2(p / send.result.latency.p99)}×) and Socket.IO ${sio.result.latency.p99} ms ` +
          `(${f2(p / sio.result.latency.p99)}×); delivered ${f2(100 * tl.result.delivered.ratio)} %, gaps ${tl.result.integrity.gaps}, ` +
          `closed ${tl.result.connections.closed} — ${tl.record.file}`,
      })
    }
  }
  // 3. two gateways, 10,000, saturation: ≥ 1.5 × Socket.IO
  {
    const tl = find(points, { saturate: true, connections: 10000, gateways: 2, target: 'touchline' })
    const sio = find(points, { saturate: true, connections: 10000, gateways: 2, target: 'socketio' })
    const goal = 'two gateways, 10,000 spectators, saturation: touchline ≥ 1.5 × Socket.IO msgs/s'
    if (!tl || !sio) goals.push({ goal, status: 'not measured', evidence: 'no saturation run with 2 gateways at 10,000' })
    else {
      const a = tl.result.delivered.perSec
      const b = sio.result.delivered.perSec
      goals.push({
        goal,
        status: a >= 1.5 * b ? 'met' : 'missed',
        evidence: `${f0(a)} vs ${f0(b)} msgs/s (${f2(a / b)}×) — ${tl.record.file}`,
      })
    }
  }
  // 4. behind nginx ≥ 90 % of nginx + bare ws (ws-send), at saturation, any N measured
  {
    let done = false
    for (const p of [...points.values()].filter(
      (p) => p.result.target === 'touchline' && p.record.params.viaNginx && p.record.params.saturate,
    )) {
      const { connections, gateways } = p.record.params
      const ws = find(points, { saturate: true, connections, gateways, viaNginx: true, target: 'ws-send' })
      if (!ws) continue
      const a = p.result.delivered.perSec
      const b = ws.result.delivered.perSec
      goals.push({
        goal: `behind nginx (N=${f0(connections)}, ${gateways} gateway(s), saturation): touchline ≥ 90 % of nginx + bare ws (ws-send)`,
        status: a >= 0.9 * b ? 'met' : 'missed',
        evidence: `${f0(a)} vs ${f0(b)} msgs/s (${f2(a / b)}×) — ${p.record.file}`,
      })
      done = true
    }
    if (!done)
      goals.push({
        goal: 'behind nginx ≥ 90 % of nginx + bare ws',
        status: 'not measured',
        evidence: 'no --via-nginx saturation run with ws-send',
      })
  }
  // 5. 20,000 connections over two gateways without errors (any mode)
  {
    const runs = [...points.values()].filter(
      (p) =>
        p.result.target === 'touchline' &&
        p.record.params.connections === 20000 &&
        p.record.params.gateways === 2 &&
        !p.record.params.viaNginx,
    )
    const goal = '20,000 connections over two gateways without errors'
    if (runs.length === 0) goals.push({ goal, status: 'not measured', evidence: 'no run with 20,000 connections and 2 gateways' })
    for (const p of runs) {
      const r = p.result
      goals.push({
        goal: `${goal} (${p.record.params.saturate ? 'saturation' : `${p.record.params.rate} ev/s`})`,
        status: clean(r) ? 'met' : 'missed',
        evidence: `${f0(r.connections.open)} open, ${r.connections.failed} failed, ${r.connections.closed} closed, gaps ${r.integrity.gaps}, missing ${r.integrity.missingAtEnd} — ${p.record.file}`,
      })
    }
  }
  // 6. memory per idle connection < 10 KiB (the largest N measured, where fixed costs matter least)
  {
    const runs = [...points.values()].filter((p) => p.result.target === 'touchline')
    const big = runs.sort(
      (a, b) => b.record.params.connections / b.record.params.gateways - a.record.params.connections / a.record.params.gateways,
    )[0]
    if (!big) goals.push({ goal: 'gateway memory per idle connection < 10 KiB', status: 'not measured', evidence: 'no touchline run' })
    else {
      const kib = big.result.memory.perConnKiB
      goals.push({
        goal: 'gateway memory per idle connection < 10 KiB',
        status: kib < 10 ? 'met' : 'missed',
        evidence:
          `${kib.toFixed(1)} KiB (RSS delta over ${f0(big.result.connections.open)} connections on ${big.record.params.gateways} gateway(s); ` +
          `second half alone ${(big.result.memory.marginalPerConnKiB ?? 0).toFixed(1)} KiB) — ${big.record.file}`,
      })
    }
  }
  return goals
}

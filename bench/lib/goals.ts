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

/** Both touchline variants measured (without error) in this run: what the chat targets compare. */
export function hasBothVariants(r: FanoutRecord): boolean {
  const ok = (t: string) => r.data.results.some((x) => x.target === t && !x.error)
  return ok('touchline') && ok('touchline-nocoalesce')
}

/**
 * What a run can be compared on: 0 touchline alone (or not at all), 1 touchline and at least one
 * other target, 2 with chat: both touchline variants as well.
 */
function comparable(r: FanoutRecord): number {
  const ok = r.data.results.filter((x) => !x.error).map((x) => x.target)
  if (!ok.includes('touchline') || ok.length < 2) return 0
  return (r.params.chat ?? 0) > 0 && hasBothVariants(r) ? 2 : 1
}

/**
 * One run per configuration, so that every ratio compares targets of the same invocation. First a
 * run that has something to compare touchline with (a touchline-only experiment cannot show any
 * ratio, however quiet) and, with chat, both touchline variants (the chat targets divide one by
 * the other). Then the run measured on an otherwise quiet machine, then the one with the most
 * targets, then the newest.
 */
export function chosenRuns(records: FanoutRecord[]): Map<string, FanoutRecord> {
  const out = new Map<string, FanoutRecord>()
  const rank = (r: FanoutRecord): [number, number, number, string] => [
    comparable(r),
    quietRecord(r) ? 1 : 0,
    r.data.results.filter((x) => !x.error).length,
    r.meta.startedAt,
  ]
  const better = (a: FanoutRecord, b: FanoutRecord) => {
    const x = rank(a)
    const y = rank(b)
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return (x[i] as number | string) > (y[i] as number | string)
    return false
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
  q: {
    saturate: boolean
    connections: number
    gateways: number
    viaNginx?: boolean
    rate?: number
    /** chat messages/s of the run (default: runs without chat) */
    chat?: number
    target: string
    oneAtATime?: boolean
  },
): Point | undefined {
  let best: Point | undefined
  for (const p of points.values()) {
    const r = p.record.params
    if (p.result.target !== q.target) continue
    if (r.saturate !== q.saturate || r.connections !== q.connections || r.gateways !== q.gateways) continue
    if (Boolean(r.viaNginx) !== Boolean(q.viaNginx)) continue
    if (q.rate !== undefined && !r.saturate && r.rate !== q.rate) continue
    if ((r.chat ?? 0) !== (q.chat ?? 0)) continue
    if (r.saturate && (r.window === 1) !== Boolean(q.oneAtATime)) continue
    if (!best || p.record.meta.startedAt > best.record.meta.startedAt) best = p
  }
  return best
}

/** How many of a configuration's newest runs a steady-rate latency target is judged on. */
export const REPEATS = 5

/**
 * The newest (up to `REPEATS`) runs of one steady-rate configuration that measured every one of
 * `targets` without error on an otherwise quiet machine, newest first. p99 at a steady rate moves
 * from run to run by more than the targets' margins (Socket.IO's p99 at 5,000 × 10 ev/s has read
 * 84, 88 and 289 ms on the same code), so those targets are judged on the median of the per-run
 * ratios, never on whichever run happens to be the newest.
 */
export function repeatedRuns(
  records: FanoutRecord[],
  q: { connections: number; gateways: number; rate: number },
  targets: readonly string[],
): FanoutRecord[] {
  return records
    .filter((r) => {
      const p = r.params
      if (p.saturate || p.viaNginx || (p.chat ?? 0) !== 0) return false
      if (p.connections !== q.connections || p.gateways !== q.gateways || p.rate !== q.rate) return false
      return targets.every((t) => r.data.results.some((x) => x.target === t && !x.error)) && quietRecord(r)
    })
    .sort((a, b) => b.meta.startedAt.localeCompare(a.meta.startedAt))
    .slice(0, REPEATS)
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

function resultOf(r: FanoutRecord, target: string): TargetResult {
  return r.data.results.find((x) => x.target === target && !x.error) as TargetResult
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

/** Nothing lost and every event scheduled in the window reached every connection. */
function delivered(r: TargetResult): boolean {
  return clean(r) && r.delivered.ratio >= 0.9999
}

function lossOf(r: TargetResult): string {
  return `gaps ${r.integrity.gaps}, missing ${r.integrity.missingAtEnd}, closed ${r.connections.closed}, failed ${r.connections.failed}`
}

/**
 * The targets of issue #10 against the chosen runs (`points`). With `records` (every run read),
 * the steady-rate latency targets are judged on the median over the configuration's newest quiet
 * runs (`repeatedRuns`) once there are at least two of them.
 */
export function checkGoals(points: Map<string, Point>, records: FanoutRecord[] = []): GoalCheck[] {
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
    const goal = 'steady 5,000 × 10 ev/s: nothing dropped, p99 ≤ 1.2 × ws-send p99 and < ½ Socket.IO p99'
    const runs = repeatedRuns(records, q, ['touchline', 'ws-send', 'socketio'])
    if (runs.length >= 2) {
      const rows = runs.map((r) => {
        const tl = resultOf(r, 'touchline')
        return {
          r,
          tl,
          send: tl.latency.p99 / resultOf(r, 'ws-send').latency.p99,
          sio: tl.latency.p99 / resultOf(r, 'socketio').latency.p99,
        }
      })
      const mSend = median(rows.map((x) => x.send))
      const mSio = median(rows.map((x) => x.sio))
      const allDelivered = rows.every((x) => delivered(x.tl))
      goals.push({
        goal,
        status: allDelivered && mSend <= 1.2 && mSio < 0.5 ? 'met' : 'missed',
        evidence:
          `median of the newest ${rows.length} quiet runs: p99 ${f2(mSend)}× ws-send's and ${f2(mSio)}× Socket.IO's; ` +
          `nothing dropped in ${rows.filter((x) => delivered(x.tl)).length} of ${rows.length}. Per run, touchline / ws-send / Socket.IO p99 ms: ` +
          rows
            .map(
              (x) =>
                `${x.tl.latency.p99} / ${resultOf(x.r, 'ws-send').latency.p99} / ${resultOf(x.r, 'socketio').latency.p99} (${f2(x.send)}×, ${f2(x.sio)}×) ${x.r.file}`,
            )
            .join('; '),
      })
    } else {
      const tl = find(points, { ...q, target: 'touchline' })
      const send = find(points, { ...q, target: 'ws-send' })
      const sio = find(points, { ...q, target: 'socketio' })
      if (!tl || !send || !sio) goals.push({ goal, status: 'not measured', evidence: 'no steady run at 5,000 × 10/s with all three' })
      else {
        const p = tl.result.latency.p99
        const ok = delivered(tl.result) && p <= 1.2 * send.result.latency.p99 && p < 0.5 * sio.result.latency.p99
        goals.push({
          goal,
          status: ok ? 'met' : 'missed',
          evidence:
            `one run: p99 ${p} ms vs ws-send ${send.result.latency.p99} ms (${f2(p / send.result.latency.p99)}×) and Socket.IO ${sio.result.latency.p99} ms ` +
            `(${f2(p / sio.result.latency.p99)}×); delivered ${f2(100 * tl.result.delivered.ratio)} %, gaps ${tl.result.integrity.gaps}, ` +
            `closed ${tl.result.connections.closed} — ${tl.record.file}`,
        })
      }
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
  // 3b. two gateways, 10,000 × 10 ev/s: nothing dropped, p99 ≤ ⅓ of Socket.IO's (two processes)
  {
    const q = { saturate: false, connections: 10000, gateways: 2, rate: 10 }
    const tl = find(points, { ...q, target: 'touchline' })
    const sio = find(points, { ...q, target: 'socketio' })
    const goal = 'two gateways, 10,000 spectators × 10 ev/s: nothing dropped, p99 ≤ ⅓ of Socket.IO p99 (two processes)'
    if (!tl || !sio) goals.push({ goal, status: 'not measured', evidence: 'no steady run at 10,000 × 10/s on 2 gateways with Socket.IO' })
    else {
      const p = tl.result.latency.p99
      const b = sio.result.latency.p99
      goals.push({
        goal,
        status: delivered(tl.result) && p <= b / 3 ? 'met' : 'missed',
        evidence:
          `p99 ${p} ms vs Socket.IO ${b} ms (${f2(p / b)}×); delivered ${f2(100 * tl.result.delivered.ratio)} %, ` +
          `${lossOf(tl.result)} — ${tl.record.file}`,
      })
    }
  }
  // 4. two gateways behind nginx, 10,000, saturation: ≥ 90 % of nginx + bare ws (ws-send on 2 processes)
  {
    const q = { saturate: true, connections: 10000, gateways: 2, viaNginx: true }
    const tl = find(points, { ...q, target: 'touchline' })
    const ws = find(points, { ...q, target: 'ws-send' })
    const pre = find(points, { ...q, target: 'ws-prebuilt' })
    const goal =
      'two gateways behind nginx, 10,000 spectators, saturation: touchline ≥ 90 % of nginx in front of the bare ws server (ws-send, 2 processes)'
    if (!tl || !ws)
      goals.push({
        goal,
        status: 'not measured',
        evidence: 'no --via-nginx --gateways 2 saturation run at 10,000 with touchline and ws-send',
      })
    else {
      const a = tl.result.delivered.perSec
      const b = ws.result.delivered.perSec
      const c = pre?.result.delivered.perSec
      goals.push({
        goal,
        status: a >= 0.9 * b ? 'met' : 'missed',
        evidence: `${f0(a)} vs ${f0(b)} msgs/s (${f2(a / b)}×)${c ? `; ws-prebuilt ${f0(c)} (${f2(a / c)}×)` : ''} — ${tl.record.file}`,
      })
    }
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
  goals.push(...chatGoals(points))
  return goals
}

/** The chat-heavy configuration of issue #10: 5,000 spectators, 10 events/s and 100 chat messages/s, one gateway. */
export const CHAT_HEAVY = { saturate: false, connections: 5000, gateways: 1, rate: 10, chat: 100 } as const

const REFUSED = 'touchline_gateway_chat_refused_total'

/**
 * Chat refused by the gateways' rate limits over the run, as a share of chat sent: the chatters
 * must not be throttled, or the run measures the limits, not fan-out. Refusals for other reasons
 * (`unavailable`: a gateway too busy to store chat within its timeout) are that target's own
 * result. Results from before the counter was kept per code count every refusal.
 */
function throttledShare(r: TargetResult): number {
  const run = r.gatewayCounters?.run ?? {}
  const byCode = Object.keys(run).some((k) => k.startsWith(`${REFUSED}{`))
  const refused = byCode ? (run[`${REFUSED}{code="rate_limited"}`] ?? 0) : (run[REFUSED] ?? 0)
  return r.chat.sent > 0 ? refused / r.chat.sent : 0
}

/** `rate_limited 3, unavailable 40` from the per-code counters of a run, or the total. */
function refusalsOf(r: TargetResult): string {
  const run = r.gatewayCounters?.run ?? {}
  const parts = Object.entries(run)
    .filter(([k, v]) => k.startsWith(`${REFUSED}{`) && v > 0)
    .map(([k, v]) => `${/code="([^"]*)"/.exec(k)?.[1] ?? k} ${v}`)
  if (parts.length) return parts.join(', ')
  return String(run[REFUSED] ?? 0)
}

function chatGoals(points: Map<string, Point>): GoalCheck[] {
  const tl = find(points, { ...CHAT_HEAVY, target: 'touchline' })
  const nc = find(points, { ...CHAT_HEAVY, target: 'touchline-nocoalesce' })
  const where = `${f0(CHAT_HEAVY.connections)} spectators, ${CHAT_HEAVY.rate} ev/s + ${CHAT_HEAVY.chat} chat/s, 1 gateway`
  const g1 =
    `chat-heavy (${where}): delivered chat msgs/s of touchline ≥ 2 × touchline-nocoalesce ` +
    '(CHAT_COALESCE_MS=0, WS_CORK=false: every frame its own write; frames per write are in the chat table)'
  const g2 =
    `chat-heavy (${where}): match events not held back — touchline delivers every event and its event p99 is ≤ 1.2 × ` +
    "touchline-nocoalesce's (the variant that holds nothing back; 1.2× is the issue's same-run tolerance for p99)"
  if (!tl || !nc) {
    const evidence = 'no run at this configuration with both touchline and touchline-nocoalesce'
    return [
      { goal: g1, status: 'not measured', evidence },
      { goal: g2, status: 'not measured', evidence },
    ]
  }
  const out: GoalCheck[] = []
  const a = tl.result.chat.perSec
  const b = nc.result.chat.perSec
  const throttled = Math.max(throttledShare(tl.result), throttledShare(nc.result))
  const writes = (r: TargetResult) => {
    const w = r.gatewayCounters?.window.touchline_gateway_socket_writes_total
    const f = r.gatewayCounters?.window.touchline_gateway_frames_sent_total
    return w && f !== undefined ? `, ${f2(f / w)} frames per write` : ''
  }
  if (a === undefined || b === undefined) {
    out.push({ goal: g1, status: 'not measured', evidence: `result from before chat in the window was counted — ${tl.record.file}` })
  } else if (throttled > 0.01) {
    out.push({
      goal: g1,
      status: 'not measured',
      evidence: `the gateways' rate limits refused ${f2(100 * throttled)} % of the chat (raise CHAT_* with --gateway-env) — ${tl.record.file}`,
    })
  } else {
    out.push({
      goal: g1,
      status: b > 0 && a >= 2 * b ? 'met' : 'missed',
      evidence:
        `${f0(a)} vs ${f0(b)} chat msgs/s (${b > 0 ? f2(a / b) : '∞'}×); chat p99 ${tl.result.chat.latency.p99} vs ${nc.result.chat.latency.p99} ms` +
        `${writes(tl.result)} vs${writes(nc.result) || ' n/a'}; chat refused ${refusalsOf(tl.result)} vs ${refusalsOf(nc.result)} — ${tl.record.file}`,
    })
  }
  const p = tl.result.latency.p99
  const q = nc.result.latency.p99
  out.push({
    goal: g2,
    status: delivered(tl.result) && p <= 1.2 * q ? 'met' : 'missed',
    evidence:
      `event p50/p99 ${tl.result.latency.p50} / ${p} ms vs ${nc.result.latency.p50} / ${q} ms (p99 ${f2(p / q)}×); ` +
      `delivered ${f2(100 * tl.result.delivered.ratio)} %, ${lossOf(tl.result)} — ${tl.record.file}`,
  })
  return out
}

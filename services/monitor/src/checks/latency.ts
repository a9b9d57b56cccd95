/**
 * The end-to-end latency objective. A gateway exposes the histogram
 * `touchline_gateway_fanout_latency_seconds` (Prometheus text) on /metrics. Every check the
 * monitor reads it, keeps the snapshots of the last window, and computes the p99 of what happened
 * *within the window* from the bucket deltas (current − oldest snapshot in the window), the way
 * `histogram_quantile(0.99, rate(...[window]))` would. Above `latencyP99Ms` the gateway is
 * degraded. A counter that went down means the gateway restarted: the window starts again from 0.
 *
 * The gateway check is the health check (`/readyz`) and this, read concurrently.
 */
import type { Check, Observation, TargetSpec } from '../types.ts'
import { CanaryListener, type CanaryProbe, wsUrl } from './canary.ts'
import { classifyHealth, httpGet, is2xx } from './http.ts'
import { errorText, performance, since } from './util.ts'

export const FANOUT_METRIC = 'touchline_gateway_fanout_latency_seconds'

/** A histogram summed over all its series: cumulative count per upper bound (`le`). */
export interface HistogramSnapshot {
  buckets: Map<number, number>
  count: number
  sum: number
}

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** One sample line of the Prometheus text format (`name{a="b",…} value [timestamp]`), or undefined. */
export function parseSampleLine(line: string): Sample | undefined {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{)?/.exec(line)
  if (!m) return undefined
  const name = m[1]!
  let i = m[0].length
  const labels: Record<string, string> = {}
  if (m[2]) {
    // Labels: key="value" pairs, values with \\, \" and \n escapes, optional trailing comma.
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++
      if (line[i] === '}') {
        i++
        break
      }
      const km = /^([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(line.slice(i))
      if (!km) return undefined
      i += km[0].length
      let v = ''
      for (;;) {
        const c = line[i]
        if (c === undefined) return undefined
        if (c === '\\') {
          const n = line[i + 1]
          v += n === 'n' ? '\n' : (n ?? '')
          i += 2
          continue
        }
        i++
        if (c === '"') break
        v += c
      }
      labels[km[1]!] = v
    }
  }
  const rest = line.slice(i).trim().split(/\s+/)
  const value = parseValue(rest[0] ?? '')
  if (value === undefined) return undefined
  return { name, labels, value }
}

function parseValue(t: string): number | undefined {
  if (t === '+Inf' || t === 'Inf') return Number.POSITIVE_INFINITY
  if (t === '-Inf') return Number.NEGATIVE_INFINITY
  if (t === 'NaN') return Number.NaN
  if (t === '') return undefined
  const n = Number(t)
  return Number.isNaN(n) ? undefined : n
}

/** The histogram `name` from a Prometheus text exposition, all series summed; undefined when absent. */
export function parseHistogram(text: string, name: string): HistogramSnapshot | undefined {
  const buckets = new Map<number, number>()
  let count = 0
  let sum = 0
  let found = false
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || !line.startsWith(name)) continue
    const s = parseSampleLine(line)
    if (!s) continue
    if (s.name === `${name}_bucket` && s.labels.le !== undefined) {
      const le = parseValue(s.labels.le)
      if (le === undefined || Number.isNaN(le)) continue
      buckets.set(le, (buckets.get(le) ?? 0) + s.value)
      found = true
    } else if (s.name === `${name}_count`) {
      count += s.value
      found = true
    } else if (s.name === `${name}_sum`) {
      sum += s.value
    }
  }
  if (!found) return undefined
  if (!buckets.has(Number.POSITIVE_INFINITY)) buckets.set(Number.POSITIVE_INFINITY, count)
  return { buckets, count, sum }
}

export interface Quantile {
  /** In seconds; for `aboveLargestBucket` the largest finite bound. */
  seconds: number
  /** The quantile fell in the +Inf bucket: it is above every finite bound. */
  aboveLargestBucket: boolean
  /** Observations it was computed from. */
  observations: number
}

/** `histogram_quantile` over cumulative buckets: linear interpolation within the bucket. */
export function histogramQuantile(q: number, cumulative: Map<number, number>): Quantile | undefined {
  const bounds = [...cumulative.keys()].sort((a, b) => a - b)
  if (bounds.length === 0 || bounds[bounds.length - 1] !== Number.POSITIVE_INFINITY) return undefined
  // Counts must not decrease with the bound (they can by rounding or scrape skew): make them.
  const counts: number[] = []
  let max = 0
  for (const b of bounds) {
    max = Math.max(max, cumulative.get(b) ?? 0)
    counts.push(max)
  }
  const total = counts[counts.length - 1]!
  if (!(total > 0)) return undefined
  const rank = q * total
  let i = counts.findIndex((c) => c >= rank)
  if (i < 0) i = counts.length - 1
  if (i === bounds.length - 1) {
    const largest = bounds.length >= 2 ? bounds[bounds.length - 2]! : 0
    return { seconds: largest, aboveLargestBucket: true, observations: total }
  }
  const upper = bounds[i]!
  const lower = i === 0 ? 0 : bounds[i - 1]!
  const before = i === 0 ? 0 : counts[i - 1]!
  if (i === 0 && upper <= 0) return { seconds: upper, aboveLargestBucket: false, observations: total }
  const inBucket = counts[i]! - before
  const seconds = inBucket > 0 ? lower + (upper - lower) * ((rank - before) / inBucket) : upper
  return { seconds, aboveLargestBucket: false, observations: total }
}

/** Snapshots of one gateway's histogram over the window; p99 from the deltas. */
export class LatencyWindow {
  readonly windowMs: number
  #snaps: Array<{ t: number; h: HistogramSnapshot }> = []

  constructor(windowMs: number) {
    this.windowMs = windowMs
  }

  /** Record a scrape at `t` (ms); returns the window's p99, or undefined when nothing happened in it yet. */
  add(t: number, h: HistogramSnapshot): Quantile | undefined {
    const last = this.#snaps[this.#snaps.length - 1]
    if (last && isReset(last.h, h)) this.#snaps = [{ t: last.t, h: { buckets: new Map(), count: 0, sum: 0 } }]
    // The baseline is the newest snapshot at or before the window's start (else the oldest one).
    const from = t - this.windowMs
    while (this.#snaps.length > 1 && this.#snaps[1]!.t <= from) this.#snaps.shift()
    const base = this.#snaps[0]
    this.#snaps.push({ t, h })
    if (!base) return undefined
    const delta = new Map<number, number>()
    for (const [le, c] of h.buckets) delta.set(le, Math.max(0, c - (base.h.buckets.get(le) ?? 0)))
    return histogramQuantile(0.99, delta)
  }
}

function isReset(prev: HistogramSnapshot, cur: HistogramSnapshot): boolean {
  if (cur.count < prev.count) return true
  for (const [le, c] of prev.buckets) {
    const now = cur.buckets.get(le)
    if (now !== undefined && now < c) return true
  }
  return false
}

/**
 * A gateway: `/readyz` as the health, plus the fan-out p99 objective from `/metrics`, plus (when a
 * canary is configured) delivery of the canary events on a WebSocket of its own.
 */
export function gatewayCheck(
  spec: Pick<TargetSpec, 'target' | 'latencyP99Ms' | 'latencyWindowMs'>,
  options: { canary?: CanaryProbe; now?: () => number } = {},
): Check {
  const now = options.now ?? Date.now
  const window = new LatencyWindow(spec.latencyWindowMs)
  const probe = options.canary
  let listener: CanaryListener | undefined
  const withCanary = (obs: Observation): Observation => {
    if (!probe || obs.result === 'fail') return obs
    listener ??= new CanaryListener(wsUrl(spec.target, probe.config.matchId), probe.config.matchId, now)
    const why = listener.verdict(probe, probe.config.timeoutMs)
    return why ? { ...obs, result: 'fail', error: why } : obs
  }
  return {
    async close() {
      listener?.close()
    },
    async run(signal): Promise<Observation> {
      return withCanary(await scrape(signal))
    },
  }

  async function scrape(signal: AbortSignal): Promise<Observation> {
    const t0 = performance.now()
    const [ready, metrics] = await Promise.allSettled([
      httpGet(`${spec.target}/readyz`, signal),
      httpGet(`${spec.target}/metrics`, signal, 'text/plain'),
    ])
    if (ready.status === 'rejected') return { result: 'fail', error: errorText(ready.reason), latencyMs: since(t0) }
    const obs = classifyHealth(ready.value, is2xx)
    if (obs.result === 'fail') return obs
    if (metrics.status === 'rejected' || metrics.value.status !== 200) {
      const why = metrics.status === 'rejected' ? errorText(metrics.reason) : `HTTP ${metrics.value.status}`
      return {
        result: 'degraded',
        error: [obs.error, `cannot read /metrics: ${why}`].filter(Boolean).join('; '),
        latencyMs: obs.latencyMs,
      }
    }
    const h = parseHistogram(metrics.value.text, FANOUT_METRIC)
    if (!h) return obs
    const q = window.add(now(), h)
    if (!q) return obs
    const p99Ms = Math.round(q.seconds * 1000 * 100) / 100
    const out: Observation = { ...obs, p99Ms }
    if (q.aboveLargestBucket || p99Ms > spec.latencyP99Ms) {
      const shown = q.aboveLargestBucket ? `above ${p99Ms}` : `${p99Ms}`
      const msg = `fan-out p99 ${shown} ms > objective ${spec.latencyP99Ms} ms (${q.observations} deliveries in the last ${Math.round(spec.latencyWindowMs / 1000)} s)`
      return { ...out, result: 'degraded', error: [obs.error, msg].filter(Boolean).join('; ') }
    }
    return out
  }
}

import { describe, expect, it } from 'vitest'
import { FANOUT_METRIC, histogramQuantile, LatencyWindow, parseHistogram, parseSampleLine } from './latency.ts'

const BOUNDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1]

function exposition(perNode: Array<{ node: string; counts: number[]; total: number }>): string {
  const lines = [`# HELP ${FANOUT_METRIC} fan-out latency`, `# TYPE ${FANOUT_METRIC} histogram`]
  for (const { node, counts, total } of perNode) {
    for (const [i, b] of BOUNDS.entries()) lines.push(`${FANOUT_METRIC}_bucket{node="${node}",le="${b}"} ${counts[i]}`)
    lines.push(`${FANOUT_METRIC}_bucket{node="${node}",le="+Inf"} ${total}`)
    lines.push(`${FANOUT_METRIC}_sum{node="${node}"} 1.5`, `${FANOUT_METRIC}_count{node="${node}"} ${total}`)
  }
  lines.push('# a comment', `${FANOUT_METRIC}_other 5`, 'touchline_gateway_connections 12', '')
  return lines.join('\n')
}

/** Cumulative counts for `n` observations all equal to `seconds`, plus earlier ones. */
function cumulative(obs: Array<[number, number]>): { counts: number[]; total: number } {
  const counts = BOUNDS.map((b) => obs.filter(([s]) => s <= b).reduce((a, [, n]) => a + n, 0))
  return { counts, total: obs.reduce((a, [, n]) => a + n, 0) }
}

describe('Prometheus text parsing', () => {
  it('parses sample lines with labels, escapes and timestamps', () => {
    expect(parseSampleLine('http_requests_total{method="post",code="200"} 1027 1395066363000')).toEqual({
      name: 'http_requests_total',
      labels: { method: 'post', code: '200' },
      value: 1027,
    })
    expect(
      parseSampleLine(
        'msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9',
      ),
    ).toEqual({
      name: 'msdos_file_access_time_seconds',
      labels: { path: 'C:\\DIR\\FILE.TXT', error: 'Cannot find file:\n"FILE.TXT"' },
      value: 1.458255915e9,
    })
    expect(parseSampleLine('x{le="+Inf",} +Inf')?.value).toBe(Number.POSITIVE_INFINITY)
    expect(parseSampleLine('metric_without_labels 12.47')).toEqual({ name: 'metric_without_labels', labels: {}, value: 12.47 })
    expect(parseSampleLine('broken{a="b" 1')).toBeUndefined()
  })

  it('sums a histogram over its series', () => {
    const a = cumulative([[0.004, 10]])
    const b = cumulative([[0.2, 5]])
    const h = parseHistogram(
      exposition([
        { node: 'a', ...a },
        { node: 'b', ...b },
      ]),
      FANOUT_METRIC,
    )!
    expect(h.count).toBe(15)
    expect(h.buckets.get(0.001)).toBe(0)
    expect(h.buckets.get(0.005)).toBe(10)
    expect(h.buckets.get(0.25)).toBe(15)
    expect(h.buckets.get(Number.POSITIVE_INFINITY)).toBe(15)
    expect(parseHistogram('other_metric 1\n', FANOUT_METRIC)).toBeUndefined()
  })
})

describe('p99 from bucket deltas', () => {
  it('interpolates within the bucket like histogram_quantile', () => {
    const q = histogramQuantile(
      0.99,
      new Map([
        [0.1, 0],
        [0.2, 100],
        [Number.POSITIVE_INFINITY, 100],
      ]),
    )!
    expect(q.seconds).toBeCloseTo(0.199, 6)
    expect(q.aboveLargestBucket).toBe(false)
    const inf = histogramQuantile(
      0.99,
      new Map([
        [0.1, 50],
        [1, 90],
        [Number.POSITIVE_INFINITY, 100],
      ]),
    )!
    expect(inf).toMatchObject({ seconds: 1, aboveLargestBucket: true })
    expect(
      histogramQuantile(
        0.99,
        new Map([
          [0.1, 0],
          [Number.POSITIVE_INFINITY, 0],
        ]),
      ),
    ).toBeUndefined()
  })

  it('looks only at the window: old slow deliveries leave it, new ones enter it; a reset restarts it', () => {
    const w = new LatencyWindow(10_000)
    const parse = (obs: Array<[number, number]>) => parseHistogram(exposition([{ node: 'a', ...cumulative(obs) }]), FANOUT_METRIC)!
    // A slow burst long ago, then fast traffic.
    expect(w.add(0, parse([[0.8, 100]]))).toBeUndefined()
    expect(
      w.add(
        2000,
        parse([
          [0.8, 100],
          [0.003, 1000],
        ]),
      )!.seconds,
    ).toBeLessThan(0.005)
    // Slow traffic arrives now: 50 of 1050 within the window are slow -> p99 is slow.
    const slow = w.add(
      4000,
      parse([
        [0.8, 150],
        [0.003, 1000],
      ]),
    )!
    expect(slow.seconds).toBeGreaterThan(0.5)
    // 20 s later, only fast traffic in the window.
    w.add(
      16_000,
      parse([
        [0.8, 150],
        [0.003, 3000],
      ]),
    )
    expect(
      w.add(
        26_000,
        parse([
          [0.8, 150],
          [0.003, 5000],
        ]),
      )!.seconds,
    ).toBeLessThan(0.005)
    // The gateway restarted: counters lower than before. The window starts from zero.
    const afterReset = w.add(28_000, parse([[0.3, 10]]))!
    expect(afterReset.observations).toBe(10)
    expect(afterReset.seconds).toBeGreaterThan(0.25)
    // Idle window: no p99.
    expect(w.add(50_000, parse([[0.3, 10]]))).toBeUndefined()
  })
})

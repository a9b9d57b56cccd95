/**
 * Latency histograms (HdrHistogram, values in microseconds) and their summaries in milliseconds.
 * Load generators send them to the driver encoded (compressed base64) and the driver adds them.
 */
import * as hdr from 'hdr-histogram-js'

export type Histogram = hdr.Histogram

export function newHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  })
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h)
}

export function decodeHistogram(s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s, 32, false)
}

export function mergeEncoded(encoded: readonly string[]): Histogram {
  const total = newHistogram()
  for (const e of encoded) {
    if (!e) continue
    total.add(decodeHistogram(e))
  }
  return total
}

export interface LatencySummary {
  count: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
  mean: number
}

const ms = (us: number) => Math.round(us) / 1000

/** Percentiles in milliseconds (3 decimals). */
export function summarize(h: Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 }
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  }
}

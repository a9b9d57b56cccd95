/**
 * Loaded into a server process with `NODE_OPTIONS=--import=<this file>` (bench/ingest.ts
 * `--gc-stats`): records every V8 garbage-collection pause (wall-clock time, kind, length) and
 * writes them every 500 ms and at exit to `$BENCH_GC_DIR/gc-<pid>.json`, so the bench can count
 * the pauses inside a measuring window (`gcPauses`). `--trace-gc` is not allowed in
 * NODE_OPTIONS; this is the same information through perf_hooks, cheap enough to leave on.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants, PerformanceObserver } from 'node:perf_hooks'

export interface GcPause {
  /** Date.now() at the start of the pause */
  at: number
  ms: number
  kind: string
}

export interface GcSummary {
  kind: string
  n: number
  totalMs: number
  maxMs: number
  over5ms: number
  over10ms: number
}

/** The pauses that started inside [from, to] (Date.now() values), summed by kind. */
export function gcPauses(dir: string, pid: number, from: number, to: number): GcSummary[] {
  let pauses: GcPause[]
  try {
    pauses = JSON.parse(readFileSync(join(dir, `gc-${pid}.json`), 'utf8')) as GcPause[]
  } catch {
    return []
  }
  const by = new Map<string, GcSummary>()
  for (const p of pauses) {
    if (p.at < from || p.at > to) continue
    const s = by.get(p.kind) ?? { kind: p.kind, n: 0, totalMs: 0, maxMs: 0, over5ms: 0, over10ms: 0 }
    s.n++
    s.totalMs += p.ms
    s.maxMs = Math.max(s.maxMs, p.ms)
    if (p.ms > 5) s.over5ms++
    if (p.ms > 10) s.over10ms++
    by.set(p.kind, s)
  }
  return [...by.values()]
}

/** The `n` longest pauses that started inside [from, to], as seconds after `from`, longest first. */
export function longestPauses(
  dir: string,
  pid: number,
  from: number,
  to: number,
  n: number,
): Array<{ atSec: number; ms: number; kind: string }> {
  let pauses: GcPause[]
  try {
    pauses = JSON.parse(readFileSync(join(dir, `gc-${pid}.json`), 'utf8')) as GcPause[]
  } catch {
    return []
  }
  return pauses
    .filter((p) => p.at >= from && p.at <= to)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n)
    .map((p) => ({ atSec: (p.at - from) / 1000, ms: p.ms, kind: p.kind }))
}

const dir = process.env.BENCH_GC_DIR
if (dir) {
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
  }
  const pauses: GcPause[] = []
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (pauses.length >= 50_000) pauses.splice(0, 10_000)
      const kind = kinds[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other'
      pauses.push({ at: Math.round(performance.timeOrigin + e.startTime), ms: e.duration, kind })
    }
  }).observe({ entryTypes: ['gc'] })
  const file = join(dir, `gc-${process.pid}.json`)
  const dump = () => writeFileSync(file, JSON.stringify(pauses))
  setInterval(dump, 500).unref()
  process.on('exit', dump)
}

/**
 * What a scenario hands back to bench/run.ts, and how run.ts writes it down:
 * bench/results/<date>-<host>-<scenario>.json (everything, including encoded histograms) and .md
 * (the tables). Results are generated, never typed by hand.
 */
import { describeCalibration } from './calibrate.ts'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SystemInfo } from './sys.ts'

export interface BenchTable {
  title: string
  columns: string[]
  rows: Array<Array<string | number | null | undefined>>
}

/** Returned by a scenario's `main(argv)`. */
export interface BenchResult {
  scenario: string
  /** the flags as understood, after defaults */
  params: Record<string, unknown>
  tables: BenchTable[]
  /** short lines printed under the tables (targets met/missed, conditions) */
  notes?: string[]
  /** anything else worth keeping (raw figures, histograms) */
  data?: unknown
}

export interface BenchRecord extends BenchResult {
  meta: {
    command: string
    startedAt: string
    finishedAt: string
    commit: string | undefined
    dirty: boolean | undefined
    system: SystemInfo
    /** other processes using CPU when the run started (noise) */
    busyAtStart: Array<{ pid: number; cmd: string; pct: number }>
  }
}

export function gitInfo(cwd: string): { commit: string | undefined; dirty: boolean | undefined } {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'services', 'packages'], { cwd, encoding: 'utf8' }).trim() !== ''
    return { commit, dirty }
  } catch {
    return { commit: undefined, dirty: undefined }
  }
}

export function fmt(v: string | number | null | undefined): string {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return 'n/a'
  if (typeof v === 'string') return v
  if (Number.isInteger(v)) return v.toLocaleString('en-US')
  const a = Math.abs(v)
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function markdownTable(t: BenchTable): string {
  const head = `| ${t.columns.join(' | ')} |`
  const sep = `|${t.columns.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`
  const rows = t.rows.map((r) => `| ${r.map((c) => fmt(c).replace(/\|/g, '\\|')).join(' | ')} |`)
  return [`**${t.title}**`, '', head, sep, ...rows].join('\n')
}

export function renderMarkdown(r: BenchRecord): string {
  const s = r.meta.system
  const lines = [
    `# bench ${r.scenario} — ${r.meta.startedAt}`,
    '',
    `\`${r.meta.command}\``,
    '',
    `Machine: ${s.host}, ${s.os} (kernel ${s.kernel}), ${s.cpuModel}, ${s.cores} cores, ${s.memGiB} GiB, Node ${s.node}, ` +
      `fd limit ${s.fdLimit}, load average at start ${s.loadavg.join(' / ')}. ` +
      `Commit ${r.meta.commit ?? 'unknown'}${r.meta.dirty ? ' (with uncommitted changes in services/ or packages/)' : ''}.`,
    describeCalibration(s.calibration),
    '',
  ]
  if (r.meta.busyAtStart.length > 0) {
    lines.push(
      `Other processes busy at start: ${r.meta.busyAtStart.map((b) => `${b.cmd.split(' ').slice(0, 3).join(' ')} (${b.pct}%)`).join(', ')}.`,
      '',
    )
  }
  lines.push(
    `Parameters: ${Object.entries(r.params)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
      .join(', ')}`,
    '',
  )
  for (const t of r.tables) lines.push(markdownTable(t), '')
  if (r.notes?.length) lines.push(...r.notes.map((n) => `- ${n}`), '')
  return lines.join('\n')
}

/** `2025-11-25T031522Z-host-fanout` (a time as well as the date: several runs a day keep apart). */
export function resultBaseName(r: BenchRecord): string {
  const d = r.meta.startedAt.replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')
  const date = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}${d.slice(8)}`
  const host = r.meta.system.host.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40)
  return `${date}-${host}-${r.scenario}`
}

export function writeRecord(dir: string, r: BenchRecord): { json: string; md: string } {
  mkdirSync(dir, { recursive: true })
  const base = join(dir, resultBaseName(r))
  writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`)
  writeFileSync(`${base}.md`, renderMarkdown(r))
  return { json: `${base}.json`, md: `${base}.md` }
}

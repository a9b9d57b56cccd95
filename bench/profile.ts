/**
 * `pnpm bench profile <file.cpuprofile> [--top 25]`: where a V8 CPU profile (from
 * `pnpm bench fanout … --cpu-prof DIR`, which starts the servers with `node --cpu-prof`) spends its
 * time — self time by function and by file, and total (inclusive) time of the functions under
 * touchline's own code — so a finding can name the file and function that costs.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface ProfileSummary {
  totalMs: number
  idlePct: number
  gcPct: number
  byFunction: Array<{ name: string; selfPct: number; totalPct: number }>
  byFile: Array<{ file: string; selfPct: number }>
}

function shortUrl(url: string): string {
  if (!url) return '(native)'
  const u = url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = u.slice(nm + 'node_modules/'.length).split('/')
    const pkg = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
    return `${pkg}/${rest.slice(pkg?.startsWith('@') ? 2 : 1).join('/')}`
  }
  const i = u.indexOf('/services/')
  const j = u.indexOf('/packages/')
  const k = u.indexOf('/bench/')
  const cut = [i, j, k].filter((x) => x >= 0).sort((a, b) => a - b)[0]
  return cut !== undefined ? u.slice(cut + 1) : u
}

export function summarizeProfile(p: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  // self time per node from samples × time deltas (falls back to hit counts)
  const self = new Map<number, number>()
  if (p.samples && p.timeDeltas) {
    for (let i = 0; i < p.samples.length; i++) {
      const id = p.samples[i] as number
      self.set(id, (self.get(id) ?? 0) + Math.max(0, p.timeDeltas[i + 1] ?? p.timeDeltas[i] ?? 0))
    }
  } else {
    const per =
      (p.endTime - p.startTime) /
      Math.max(
        1,
        p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0),
      )
    for (const n of p.nodes) self.set(n.id, (n.hitCount ?? 0) * per)
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`
  const fnSelf = new Map<string, number>()
  const fnTotal = new Map<string, number>()
  const fileSelf = new Map<string, number>()
  let idle = 0
  let gc = 0
  for (const [id, t] of self) {
    const n = byId.get(id)
    if (!n) continue
    const name = n.callFrame.functionName
    if (name === '(idle)' || name === '(program)') idle += name === '(idle)' ? t : 0
    if (name === '(garbage collector)') gc += t
    fnSelf.set(key(n), (fnSelf.get(key(n)) ?? 0) + t)
    const file = shortUrl(n.callFrame.url)
    fileSelf.set(file, (fileSelf.get(file) ?? 0) + t)
    // inclusive: charge every distinct ancestor function once
    const seen = new Set<string>()
    let cur: number | undefined = id
    while (cur !== undefined) {
      const c = byId.get(cur)
      if (!c) break
      const k = key(c)
      if (!seen.has(k)) {
        seen.add(k)
        fnTotal.set(k, (fnTotal.get(k) ?? 0) + t)
      }
      cur = parent.get(cur)
    }
  }
  const pct = (t: number) => Math.round((1000 * t) / total) / 10
  const byFunction = [...fnSelf.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, t]) => ({ name, selfPct: pct(t), totalPct: pct(fnTotal.get(name) ?? t) }))
  const byFile = [...fileSelf.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([file, t]) => ({ file, selfPct: pct(t) }))
  return { totalMs: total / 1000, idlePct: pct(idle), gcPct: pct(gc), byFunction, byFile }
}

/** Inclusive time of the functions defined in touchline's own code (services/, packages/). */
export function ownCode(p: CpuProfile, top = 25): Array<{ name: string; totalPct: number }> {
  const s = summarizeProfile(p, 100_000)
  return s.byFunction
    .filter((f) => /(services|packages)\//.test(f.name))
    .sort((a, b) => b.totalPct - a.totalPct)
    .slice(0, top)
    .map((f) => ({ name: f.name, totalPct: f.totalPct }))
}

export async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { top: { type: 'string', default: '25' } } })
  const top = Number(values.top)
  for (const file of positionals) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
    const s = summarizeProfile(p, top)
    const out = [
      `# ${file}`,
      `sampled ${(s.totalMs / 1000).toFixed(1)} s; idle ${s.idlePct} %, GC ${s.gcPct} %`,
      '',
      'self % | total % | function',
      ...s.byFunction.map((f) => `${String(f.selfPct).padStart(6)} | ${String(f.totalPct).padStart(7)} | ${f.name}`),
      '',
      'self % | file',
      ...s.byFile.map((f) => `${String(f.selfPct).padStart(6)} | ${f.file}`),
      '',
      'total % | touchline function (inclusive)',
      ...ownCode(p, top).map((f) => `${String(f.totalPct).padStart(7)} | ${f.name}`),
      '',
    ]
    process.stdout.write(`${out.join('\n')}\n`)
  }
}

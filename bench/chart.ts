/**
 * `pnpm bench chart [result.json …] [--svg FILE] [--doc FILE] [--no-doc]`: draws p99 latency and
 * delivered messages/s against connections for touchline and each baseline (an SVG written by
 * hand, no plotting library), and rewrites the generated part of docs/performance.md — the
 * figures tables and the targets met/missed — from the newest result of each configuration.
 * Without files it reads every bench/results/*-fanout.json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { TargetResult } from './fanout.ts'
import { checkGoals, type FanoutRecord, isNoisy, latestPoints, loadFanoutRecords, NOISY_PCT, type Point, resultFiles } from './lib/goals.ts'
import { fmt } from './lib/report.ts'

const COLORS: Record<string, string> = {
  touchline: '#d62728',
  'touchline-nocoalesce': '#ff7f0e',
  'ws-send': '#1f77b4',
  'ws-prebuilt': '#2ca02c',
  socketio: '#9467bd',
}

interface Series {
  key: string
  target: string
  dash: string
  points: Array<{ x: number; y: number }>
}

function seriesKey(r: FanoutRecord, target: string): { key: string; dash: string } {
  const g = r.params.gateways
  const parts = [target]
  if (g > 1) parts.push(`gateways=${g}`)
  if (r.params.viaNginx) parts.push('nginx')
  if (!r.params.saturate) parts.push(`${r.params.rate}/s`)
  if (r.params.saturate && r.params.window === 1) parts.push('1 at a time')
  return {
    key: parts.join(', '),
    dash: r.params.saturate && r.params.window === 1 ? '10,3,2,3' : r.params.viaNginx ? '2,3' : g > 1 ? '7,4' : '',
  }
}

function collect(points: Point[], y: (r: TargetResult) => number): Series[] {
  const map = new Map<string, Series>()
  for (const p of points) {
    const { key, dash } = seriesKey(p.record, p.result.target)
    let s = map.get(key)
    if (!s) {
      s = { key, target: p.result.target, dash, points: [] }
      map.set(key, s)
    }
    const x = p.record.params.connections
    const v = y(p.result)
    const existing = s.points.findIndex((q) => q.x === x)
    if (existing >= 0) s.points[existing] = { x, y: v }
    else s.points.push({ x, y: v })
  }
  for (const s of map.values()) s.points.sort((a, b) => a.x - b.x)
  const rank = (s: Series) => ALL_TARGETS.indexOf(s.target)
  return [...map.values()].sort((a, b) => rank(a) - rank(b) || a.key.localeCompare(b.key))
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

function niceTicks(max: number, count = 5): number[] {
  const raw = max / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  for (let v = 0; ; v += step) {
    out.push(v)
    if (v >= max) break
  }
  return out
}

function short(n: number): string {
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)}M`
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)}k`
  return `${+n.toFixed(2)}`
}

function panel(o: {
  x0: number
  y0: number
  w: number
  h: number
  title: string
  ylabel: string
  series: Series[]
  logY: boolean
}): string {
  const { x0, y0, w, h } = o
  const all = o.series.flatMap((s) => s.points)
  const out: string[] = [`<text x="${x0 + w / 2}" y="${y0 - 12}" text-anchor="middle" font-weight="bold">${esc(o.title)}</text>`]
  out.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#999"/>`)
  if (all.length === 0) {
    out.push(`<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" fill="#777">no results yet</text>`)
    return out.join('\n')
  }
  const xs = all.map((p) => p.x)
  const xmin = Math.min(...xs) / 1.5
  const xmax = Math.max(...xs) * 1.5
  const lx = (x: number) => x0 + ((Math.log10(x) - Math.log10(xmin)) / (Math.log10(xmax) - Math.log10(xmin))) * w
  const ys = all.map((p) => Math.max(p.y, 1e-3))
  let ly: (y: number) => number
  let yticks: number[]
  if (o.logY) {
    const lo = 10 ** Math.floor(Math.log10(Math.min(...ys)))
    const hi = 10 ** Math.ceil(Math.log10(Math.max(...ys)))
    ly = (y: number) => y0 + h - ((Math.log10(Math.max(y, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h
    yticks = []
    for (let v = lo; v <= hi * 1.0001; v *= 10) yticks.push(v)
  } else {
    const hi = Math.max(...ys) * 1.1
    yticks = niceTicks(hi)
    const top = yticks[yticks.length - 1] as number
    ly = (y: number) => y0 + h - (y / top) * h
  }
  for (const t of yticks) {
    const y = ly(t)
    out.push(`<line x1="${x0}" x2="${x0 + w}" y1="${y}" y2="${y}" stroke="#eee"/>`)
    out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="11">${short(t)}</text>`)
  }
  const xticks = [100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000].filter((t) => t >= xmin && t <= xmax)
  for (const t of xticks) {
    const x = lx(t)
    out.push(`<line x1="${x}" x2="${x}" y1="${y0}" y2="${y0 + h}" stroke="#eee"/>`)
    out.push(`<text x="${x}" y="${y0 + h + 16}" text-anchor="middle" font-size="11">${short(t)}</text>`)
  }
  out.push(`<text x="${x0 + w / 2}" y="${y0 + h + 34}" text-anchor="middle" font-size="12">connections (log scale)</text>`)
  out.push(
    `<text x="${x0 - 48}" y="${y0 + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 - 48} ${y0 + h / 2})">${esc(o.ylabel)}</text>`,
  )
  for (const s of o.series) {
    const color = COLORS[s.target] ?? '#333'
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${lx(p.x).toFixed(1)},${ly(Math.max(p.y, 1e-3)).toFixed(1)}`).join(' ')
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`)
    for (const p of s.points) {
      out.push(
        `<circle cx="${lx(p.x).toFixed(1)}" cy="${ly(Math.max(p.y, 1e-3)).toFixed(1)}" r="3.5" fill="${color}"><title>${esc(s.key)}: ${short(p.x)} connections → ${fmt(p.y)}</title></circle>`,
      )
    }
  }
  return out.join('\n')
}

export function renderChart(points: Point[]): string {
  const sat = points.filter((p) => p.record.params.saturate && !p.record.params.chat)
  const steady = points.filter((p) => !p.record.params.saturate && !p.record.params.chat)
  const rates = [...new Set(steady.map((p) => p.record.params.rate))]
  const thr = collect(sat, (r) => r.delivered.perSec)
  const lat = collect(steady, (r) => r.latency.p99)
  const legendKeys = [...new Map([...thr, ...lat].map((s) => [s.key.replace(/, [\d.]+\/s$/, ''), s])).values()]
  const W = 1000
  const H = 470 + Math.ceil(legendKeys.length / 3) * 20
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    panel({
      x0: 80,
      y0: 40,
      w: 380,
      h: 340,
      title: 'delivered messages/s at saturation (higher is better)',
      ylabel: 'messages/s',
      series: thr,
      logY: false,
    }),
    panel({
      x0: 580,
      y0: 40,
      w: 380,
      h: 340,
      title: `p99 fan-out latency at ${rates.length ? rates.map((r) => `${r}`).join(', ') : '–'} events/s (lower is better)`,
      ylabel: 'p99 latency, ms (log scale)',
      series: lat,
      logY: true,
    }),
  ]
  legendKeys.forEach((s, i) => {
    const x = 80 + (i % 3) * 300
    const y = 440 + Math.floor(i / 3) * 20
    const color = COLORS[s.target] ?? '#333'
    parts.push(
      `<line x1="${x}" x2="${x + 30}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
      `<text x="${x + 36}" y="${y + 4}" font-size="12">${esc(s.key.replace(/, [\d.]+\/s$/, ''))}</text>`,
    )
  })
  parts.push('</svg>')
  return parts.join('\n')
}

/** The columns of the saturation and steady tables. */
const TARGET_ORDER = ['touchline', 'ws-send', 'ws-prebuilt', 'socketio']
/** Every target, in the order of the per-target tables and the legend. */
const ALL_TARGETS = ['touchline', 'touchline-nocoalesce', 'ws-send', 'ws-prebuilt', 'socketio']

function cfgLabel(r: FanoutRecord): string {
  return `${r.params.connections.toLocaleString('en-US')} | ${r.params.gateways} | ${r.params.viaNginx ? 'nginx' : 'direct'}`
}

/** Markdown: one row per run (configuration), latest first per configuration. */
export function renderFigures(records: FanoutRecord[], points: Map<string, Point>): string {
  const latest = new Map<string, FanoutRecord>()
  for (const p of points.values()) latest.set(p.record.file, p.record)
  const runs = [...latest.values()].sort(
    (a, b) =>
      Number(a.params.saturate) - Number(b.params.saturate) ||
      Number(a.params.window === 1) - Number(b.params.window === 1) ||
      Number(a.params.viaNginx) - Number(b.params.viaNginx) ||
      a.params.gateways - b.params.gateways ||
      a.params.connections - b.params.connections ||
      a.meta.startedAt.localeCompare(b.meta.startedAt),
  )
  const get = (r: FanoutRecord, t: string) => r.data.results.find((x) => x.target === t && !x.error)
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b ? `${(a / b).toFixed(2)}×` : '')
  const lines: string[] = []

  const sat = runs.filter((r) => r.params.saturate)
  if (sat.length) {
    lines.push(
      '#### Saturation: delivered messages/s (closed loop)',
      '',
      'Window = events in flight (posted, not yet delivered to every connection). With several in flight touchline writes the frames',
      'that reach a socket in the same tick with one syscall; window 1 (one event at a time) shows the fan-out of single events.',
      '',
      '| connections | gateways | path | window | touchline | ws-send | ws-prebuilt | socketio | ÷ ws-send | ÷ ws-prebuilt | ÷ socketio | server CPU µs per msg (tl / send / prebuilt / sio) | errors | result |',
      '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |',
    )
    for (const r of sat) {
      const v = (t: string) => get(r, t)?.delivered.perSec
      const tl = get(r, 'touchline')
      lines.push(
        `| ${cfgLabel(r)} | ${r.params.window ?? ''} | ${TARGET_ORDER.map((t) => fmt(v(t)) + dagger(get(r, t))).join(' | ')} | ${ratio(v('touchline'), v('ws-send'))} | ${ratio(v('touchline'), v('ws-prebuilt'))} | ${ratio(v('touchline'), v('socketio'))} | ${TARGET_ORDER.map((t) => fmt(cpuPerMsg(get(r, t)))).join(' / ')} | ${tl ? errorsOf(tl) : ''} | ${r.file.replace(/\.json$/, '')} |`,
      )
    }
    lines.push('')
  }
  const steady = runs.filter((r) => !r.params.saturate && !r.params.chat)
  if (steady.length) {
    lines.push(
      '#### Steady rate: fan-out latency p50 / p99 / max (ms)',
      '',
      '| connections | gateways | path | events/s | touchline | ws-send | ws-prebuilt | socketio | p99 ÷ ws-send | p99 ÷ socketio | delivered | errors | result |',
      '| ---: | ---: | --- | ---: | --- | --- | --- | --- | ---: | ---: | ---: | --- | --- |',
    )
    for (const r of steady) {
      const l = (t: string) => {
        const x = get(r, t)
        return x ? `${fmt(x.latency.p50)} / ${fmt(x.latency.p99)} / ${fmt(x.latency.max)}${dagger(x)}` : 'n/a'
      }
      const p = (t: string) => get(r, t)?.latency.p99
      const tl = get(r, 'touchline')
      lines.push(
        `| ${cfgLabel(r)} | ${r.params.rate} | ${TARGET_ORDER.map(l).join(' | ')} | ${ratio(p('touchline'), p('ws-send'))} | ${ratio(p('touchline'), p('socketio'))} | ${tl ? `${(100 * tl.delivered.ratio).toFixed(2)} %` : ''} | ${tl ? errorsOf(tl) : ''} | ${r.file.replace(/\.json$/, '')} |`,
      )
    }
    lines.push('')
  }
  const chat = runs.filter((r) => !r.params.saturate && r.params.chat)
  if (chat.length) {
    lines.push(
      '#### With chat: chat delivered and event latency',
      '',
      'Chat msgs/s = chat frames received inside the measuring window ÷ its length (all connections together). Writes and',
      "frames per write are the gateways' own counters over the window (`touchline_gateway_socket_writes_total`,",
      '`…_frames_sent_total`); shed and refused over the whole run (chat refused means the chatters were rate-limited).',
      '`touchline-nocoalesce` is touchline with `CHAT_COALESCE_MS=0` and `WS_CORK=false`: no coalescing window and no',
      'per-turn cork, so every frame is its own write (frames per write 1). Server CPU µs per msg = the server',
      "processes' CPU time ÷ all messages delivered (events and chat): what a message costs the server, whoever else is busy.",
      '',
      '| connections | gateways | path | events/s | chat/s | target | chat msgs/s | chat p50 / p99 (ms) | event p50 / p99 / max (ms) | events delivered | socket writes/s | frames per write | server CPU µs per msg | chat shed / refused | errors | result |',
      '| ---: | ---: | --- | ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |',
    )
    for (const r of chat) {
      for (const t of ALL_TARGETS) {
        const x = get(r, t)
        if (!x) continue
        const c = x.gatewayCounters
        const writes = c?.window.touchline_gateway_socket_writes_total
        const frames = c?.window.touchline_gateway_frames_sent_total
        lines.push(
          `| ${cfgLabel(r)} | ${r.params.rate} | ${r.params.chat} | ${t} | ${fmt(x.chat.perSec)}${dagger(x)} | ${fmt(x.chat.latency.p50)} / ${fmt(x.chat.latency.p99)} | ` +
            `${fmt(x.latency.p50)} / ${fmt(x.latency.p99)} / ${fmt(x.latency.max)} | ${(100 * x.delivered.ratio).toFixed(2)} % | ` +
            `${fmt(writes === undefined ? undefined : writes / r.params.duration)} | ${fmt(writes && frames !== undefined ? frames / writes : undefined)} | ` +
            `${fmt(cpuPerMsg(x))} | ` +
            `${c ? `${fmt(c.run.touchline_gateway_chat_shed_total)} / ${fmt(c.run.touchline_gateway_chat_refused_total ?? 0)}` : 'n/a'} | ${errorsOf(x)} | ${r.file.replace(/\.json$/, '')} |`,
        )
      }
    }
    lines.push('')
  }
  if (runs.length) {
    lines.push(
      '#### Connections and memory',
      '',
      '| connections | gateways | path | target | open | time to establish (s) | RSS idle (MiB) | KiB per idle connection | … second half only | server CPU % | load-gen CPU % | machine busy % | result |',
      '| ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    )
    for (const r of runs) {
      for (const t of ALL_TARGETS) {
        const x = get(r, t)
        if (!x) continue
        lines.push(
          `| ${cfgLabel(r)} | ${t} | ${fmt(x.connections.open)} | ${fmt(x.connections.establishSec)} | ${fmt(x.memory.rssIdleMiB)} | ${fmt(x.memory.perConnKiB)} | ${fmt(x.memory.marginalPerConnKiB)} | ${fmt(x.cpu.gateway)} | ${fmt(x.cpu.loadgen)} | ${fmt(x.machineBusyPct)} | ${r.file.replace(/\.json$/, '')}${r.params.saturate ? ' (sat.)' : ''} |`,
        )
      }
    }
    lines.push('')
  }
  lines.push(
    `Runs read: ${records.length}. Shown: one run per configuration (all ratios compare targets of that one invocation) — ` +
      `one that measured touchline with at least one other target (with chat: both touchline and touchline-nocoalesce); ` +
      `then preferably one where other work on the ` +
      `machine took under ${NOISY_PCT} % of a core during every target's window, else the newest with the most targets; ` +
      `† marks a figure measured while other work took more than that.`,
  )
  return lines.join('\n')
}

/** Server CPU time per delivered message, µs. */
function cpuPerMsg(r: TargetResult | undefined): number | undefined {
  return r && r.cpu.gateway !== undefined && r.delivered.perSec > 0 ? (r.cpu.gateway * 10_000) / r.delivered.perSec : undefined
}

function dagger(r: TargetResult | undefined): string {
  return r && isNoisy(r) ? ' †' : ''
}

function errorsOf(r: TargetResult): string {
  const e: string[] = []
  if (r.connections.failed) e.push(`${r.connections.failed} failed`)
  if (r.connections.closed) e.push(`${r.connections.closed} closed`)
  if (r.integrity.gaps) e.push(`${r.integrity.gaps} gaps`)
  if (r.integrity.missingAtEnd) e.push(`${r.integrity.missingAtEnd} missing`)
  if (r.integrity.duplicates) e.push(`${r.integrity.duplicates} dup`)
  if (r.events.postErrors) e.push(`${r.events.postErrors} post errors`)
  return e.length ? e.join(', ') : 'none'
}

const START = '<!-- bench:generated:start -->'
const END = '<!-- bench:generated:end -->'

export async function main(argv: string[]): Promise<void> {
  const root = fileURLToPath(new URL('../', import.meta.url))
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      svg: { type: 'string', default: `${root}bench/results/fanout-chart.svg` },
      doc: { type: 'string', default: `${root}docs/performance.md` },
      'no-doc': { type: 'boolean', default: false },
    },
  })
  const files = positionals.length ? positionals : resultFiles(`${root}bench/results`)
  const records = loadFanoutRecords(files)
  const points = latestPoints(records)
  writeFileSync(values.svg, renderChart([...points.values()]))
  process.stdout.write(`chart: ${values.svg} (${records.length} runs)\n`)
  if (values['no-doc']) return
  const goals = checkGoals(points, records)
  const svgRel = relative(dirname(values.doc), values.svg)
  const block = [
    START,
    `<!-- generated by \`pnpm bench chart\` from bench/results/*-fanout.json; do not edit between these markers -->`,
    '',
    `![p99 latency and delivered messages/s against connections](${svgRel})`,
    '',
    '#### Targets',
    '',
    '| target | status | evidence |',
    '| --- | --- | --- |',
    ...goals.map((g) => `| ${g.goal} | **${g.status}** | ${g.evidence} |`),
    '',
    renderFigures(records, points),
    END,
  ].join('\n')
  const doc = existsSync(values.doc) ? readFileSync(values.doc, 'utf8') : `# Performance\n\n${START}\n${END}\n`
  const i = doc.indexOf(START)
  const j = doc.indexOf(END)
  const next = i >= 0 && j > i ? doc.slice(0, i) + block + doc.slice(j + END.length) : `${doc.trimEnd()}\n\n${block}\n`
  writeFileSync(values.doc, next)
  process.stdout.write(`figures: ${values.doc}\n`)
  for (const g of goals) process.stdout.write(`  ${g.status.padEnd(12)} ${g.goal}\n`)
}

/**
 * The ops status page: the monitor's targets and states (GET /monitor/status; "monitor not
 * running" when it does not answer), live gateways with their connection counts (GET
 * /api/v1/nodes), and online counts per match. Refreshes every 2 s; a slow answer never stacks
 * requests (one round at a time, each request with a timeout). When a source stops answering,
 * what it said last stays on the page marked stale (greyed rows, "unknown" summary, the time it
 * is from), and the "updated" stamp says what did not answer: an outage must not look current.
 */
import { api } from './lib/api.ts'
import { $, formatTime, h, replace, setText } from './lib/dom.ts'
import type { MatchListReply, NodesReply, OnlineReply } from './lib/protocol.ts'

/** GET /status of services/monitor (its StatusReply). */
interface MonitorStatus {
  monitor: { startedAt: string; intervalMs: number; version?: string }
  targets: Array<{
    name: string
    kind: string
    target: string
    state: 'up' | 'down' | 'degraded' | 'unknown'
    since: string | null
    lastError: string | null
    latencyMs: number | null
    lastCheck: string | null
    discovered: boolean
    node?: string
    p99Ms?: number | null
  }>
  alerts?: {
    sent?: number
    failed?: number
    pending?: number
    channels?: Record<string, { sent: number; failed: number; pending: number }>
  }
}

const REFRESH_MS = 2000
const TIMEOUT_MS = 1800

const el = {
  updated: $('#updated'),
  monitorState: $('#monitor-state'),
  monitorSummary: $('#monitor-summary'),
  targetsTable: $('#targets-table'),
  targets: $('#targets'),
  alerts: $('#alerts'),
  nodes: $('#nodes'),
  nodesState: $('#nodes-state'),
  nodesSummary: $('#nodes-summary'),
  matches: $('#matches'),
  matchesState: $('#matches-state'),
  matchesSummary: $('#matches-summary'),
}

function ago(iso: string | null): string {
  if (!iso) return ''
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return ''
  const s = Math.max(0, Math.round((Date.now() - t) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`
}

function timeout(): AbortSignal {
  return AbortSignal.timeout(TIMEOUT_MS)
}

function clock(ms: number): string {
  return formatTime(new Date(ms).toISOString())
}

/** One source of the page (monitor, gateways, matches): its rows and when it last answered. */
interface Source {
  label: string
  rows: HTMLElement
  summary: HTMLElement
  state: HTMLElement
  okAt: number
}

const sources = {
  monitor: { label: 'monitor', rows: el.targets, summary: el.monitorSummary, state: el.monitorState, okAt: 0 },
  nodes: { label: 'gateways', rows: el.nodes, summary: el.nodesSummary, state: el.nodesState, okAt: 0 },
  matches: { label: 'matches', rows: el.matches, summary: el.matchesSummary, state: el.matchesState, okAt: 0 },
} satisfies Record<string, Source>

function answered(src: Source): void {
  src.okAt = Date.now()
  src.rows.classList.remove('stale')
  delete src.rows.dataset.stale
  src.state.classList.remove('stale-note')
}

/** The source did not answer: keep its last rows, but say they are old. */
function stale(src: Source, why: string): void {
  setText(src.summary, '(unknown)')
  src.state.classList.add('stale-note')
  if (src.okAt === 0) {
    setText(src.state, why)
    return
  }
  src.rows.classList.add('stale')
  src.rows.dataset.stale = 'true'
  setText(src.state, `${why}. The rows below are from ${clock(src.okAt)} and may be out of date.`)
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/** Whether the source answered; a monitor that never did is "not running" (the embedded mode has none), not a failure. */
async function monitor(): Promise<boolean> {
  const src = sources.monitor
  let st: MonitorStatus
  try {
    st = await api<MonitorStatus>('/monitor/status', { raw: true, signal: timeout() })
    if (!st || !Array.isArray(st.targets)) throw new Error('not a monitor')
  } catch (err) {
    if (src.okAt > 0) {
      // It was running: its last states are kept, marked stale (a down target must not vanish).
      el.monitorState.dataset.state = 'not-answering'
      stale(src, `monitor not answering (${reason(err)})`)
      return false
    }
    el.monitorState.hidden = false
    el.monitorState.className = 'muted'
    el.monitorState.dataset.state = 'not-running'
    setText(el.monitorState, 'monitor not running (GET /monitor/status did not answer)')
    setText(el.monitorSummary, '')
    el.targetsTable.hidden = true
    setText(el.alerts, '')
    return true
  }
  answered(src)
  el.monitorState.dataset.state = 'running'
  const counts = { up: 0, down: 0, degraded: 0, unknown: 0 }
  for (const t of st.targets) counts[t.state] = (counts[t.state] ?? 0) + 1
  setText(
    el.monitorSummary,
    `(${st.targets.length} targets: ${counts.up} up, ${counts.degraded} degraded, ${counts.down} down, ${counts.unknown} unknown)`,
  )
  setText(
    el.monitorState,
    `running since ${formatTime(st.monitor.startedAt)}, checks every ${Math.round(st.monitor.intervalMs / 100) / 10} s${st.monitor.version ? `, version ${st.monitor.version}` : ''}`,
  )
  el.targetsTable.hidden = false
  replace(
    el.targets,
    ...st.targets.map((t) =>
      h(
        'tr',
        { dataset: { target: t.name, state: t.state } },
        // State second: on a phone the table scrolls sideways and the state must stay in view.
        h('td', { text: `${t.name}${t.discovered ? ` (discovered${t.node ? `, node ${t.node}` : ''})` : ''}` }),
        h('td', {}, h('span', { class: `state state-${t.state}`, text: t.state })),
        h('td', { text: t.kind }),
        h('td', { text: t.target }),
        h('td', { text: ago(t.since) }),
        h('td', {
          class: 'num',
          text: t.latencyMs !== null ? `${Math.round(t.latencyMs)} ms${t.p99Ms ? ` (p99 ${Math.round(t.p99Ms)})` : ''}` : '',
        }),
        h('td', { text: ago(t.lastCheck) }),
        h('td', { text: t.lastError ?? '' }),
      ),
    ),
  )
  const a = st.alerts
  setText(el.alerts, a ? `alerts: ${a.sent ?? 0} sent, ${a.failed ?? 0} failed, ${a.pending ?? 0} pending` : '')
  return true
}

async function nodes(): Promise<boolean> {
  try {
    const r = await api<NodesReply>('/v1/nodes', { signal: timeout() })
    answered(sources.nodes)
    const total = r.nodes.reduce((n, x) => n + x.connections, 0)
    setText(el.nodesSummary, `(${r.nodes.length} live, ${total} connections)`)
    setText(el.nodesState, r.nodes.length === 0 ? 'No live gateway.' : '')
    replace(
      el.nodes,
      ...r.nodes.map((n) =>
        h(
          'tr',
          { dataset: { node: n.nodeId } },
          h('td', { text: n.nodeId }),
          h('td', { class: 'num', text: String(n.connections) }),
          h('td', { text: n.url ?? '' }),
          h('td', { text: ago(n.startedAt) }),
          h('td', { text: ago(n.lastSeen) }),
        ),
      ),
    )
    return true
  } catch (err) {
    stale(sources.nodes, `API not answering (${reason(err)})`)
    return false
  }
}

async function matches(): Promise<boolean> {
  try {
    const list = (await api<MatchListReply>('/v1/matches', { signal: timeout() })).matches
    answered(sources.matches)
    const online = await Promise.all(
      list.map((m) => api<OnlineReply>(`/v1/matches/${encodeURIComponent(m.id)}/online`, { signal: timeout() }).catch(() => null)),
    )
    const total = online.reduce((n, o) => n + (o?.total ?? 0), 0)
    // A count that did not answer (Redis away) is unknown, not 0: the total says so.
    const unknown = online.filter((o) => o === null).length
    setText(
      el.matchesSummary,
      `(${list.length} ${list.length === 1 ? 'match' : 'matches'}, ${total} watching${unknown ? `, ${unknown} unknown` : ''})`,
    )
    setText(el.matchesState, list.length === 0 ? 'No matches yet.' : '')
    replace(
      el.matches,
      ...list.map((m, i) => {
        const o = online[i]
        const per = o
          ? Object.entries(o.nodes)
              .map(([node, n]) => `${node}: ${n}`)
              .join(', ')
          : ''
        return h(
          'tr',
          { dataset: { match: m.id } },
          h('td', {}, h('a', { text: `${m.home} – ${m.away}`, attrs: { href: `/?match=${encodeURIComponent(m.id)}` } }), ` · ${m.title}`),
          h('td', { text: `${m.scoreboard.home}–${m.scoreboard.away}${m.scoreboard.period ? ` (${m.scoreboard.period})` : ''}` }),
          h('td', { class: 'num', text: String(m.seq) }),
          h('td', { class: 'num watching', text: o ? String(o.total) : '?' }),
          h('td', { text: per }),
        )
      }),
    )
    return true
  } catch (err) {
    stale(sources.matches, `API not answering (${reason(err)})`)
    return false
  }
}

let completeAt = 0
async function round(): Promise<void> {
  const ok = await Promise.all([monitor(), nodes(), matches()])
  const failed = [sources.monitor, sources.nodes, sources.matches].filter((_, i) => !ok[i]).map((x) => x.label)
  const now = Date.now()
  if (failed.length === 0) {
    completeAt = now
    setText(el.updated, `updated ${clock(now)}`)
    el.updated.className = 'muted'
    delete el.updated.dataset.stale
  } else {
    setText(
      el.updated,
      `${failed.join(', ')} not answering at ${clock(now)}; ${completeAt ? `last full update ${clock(completeAt)}` : 'no full update yet'}`,
    )
    el.updated.className = 'stale-note'
    el.updated.dataset.stale = 'true'
  }
  window.setTimeout(() => void round(), REFRESH_MS)
}

void round()

/**
 * Memory per idle connection, gateway versus a bare `ws` server.
 *
 *   node bench/conn-memory.ts --connections 5000 [--target touchline|ws|both] [--snapshots DIR]
 *   node bench/conn-memory.ts --analyse before.heapsnapshot after.heapsnapshot [--per 5000]
 *
 * For each server: start it (touchline: testkit NATS + Redis + one gateway process via
 * startService, a match created through a NatsBus with a few events; ws: the `ws-send` baseline
 * on the same Redis), let it settle, read its memory, open N connections from child processes
 * (≤ 9,000 sockets each) to `/ws?match=<id>`, wait until each one has received `subscribed` (the
 * gateway also sends welcome and snapshot), let them idle (the gateway sends `online` frames),
 * read its memory again, and print (after − before) / N in KiB.
 *
 * Readings, each before and after:
 * - RSS from /proc/<pid>/status (no GC forced; what the fanout bench reads), and the
 *   `process_resident_memory_bytes` / `nodejs_heap_size_used_bytes` of the gateway's /metrics;
 * - RSS, V8 heap used, external and array buffers after two forced full GCs. Nothing is added to
 *   production code for this: the server is started with NODE_OPTIONS `--expose-gc` and an
 *   `--import` of a data: URL module (below) that answers SIGWINCH by collecting garbage and
 *   writing `process.memoryUsage()` to a file.
 *
 * `--snapshots DIR` also writes a heap snapshot of the server before and after the connections
 * (`--heapsnapshot-signal=SIGUSR2`), and prints the top per-connection growth by constructor
 * (the same report as `--analyse`).
 */
import { fork, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { WebSocket } from 'ws'
import { connectNatsBus } from '../packages/bus/src/index.ts'
import { repoRoot, startNats, startProcess, startRedis, startService, waitFor, type Proc } from '../packages/testkit/src/index.ts'

const KiB = 1024
const MiB = 1024 * 1024
const PER_CLIENT_PROCESS = 9000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const self = fileURLToPath(import.meta.url)

// ---------------------------------------------------------------------------------------------
// Client child: `node bench/conn-memory.ts --client` (forked, IPC)

interface ClientCfg {
  url: string
  count: number
  concurrency: number
  /** Frame type that ends a connection's setup. */
  until: string
}
type ToClient = { t: 'open'; cfg: ClientCfg } | { t: 'close' }
type FromClient = { t: 'opened'; open: number; failed: number; frames: Record<string, number>; errors: string[] }

async function runClient(): Promise<void> {
  const sockets: WebSocket[] = []
  const frames: Record<string, number> = {}
  const openOne = (cfg: ClientCfg) =>
    new Promise<boolean>((resolve) => {
      const ws = new WebSocket(cfg.url, { perMessageDeflate: false })
      let done = false
      const finish = (ok: boolean) => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve(ok)
      }
      const timer = setTimeout(() => {
        ws.terminate()
        finish(false)
      }, 60_000)
      ws.on('message', (data: Buffer) => {
        const m = /"type":"([a-z_]+)"/.exec(data.toString('latin1', 0, 40))
        const type = m?.[1] ?? '?'
        frames[type] = (frames[type] ?? 0) + 1
        if (type === cfg.until) finish(true)
      })
      ws.on('error', () => finish(false))
      ws.on('close', () => finish(false))
      sockets.push(ws)
    })
  process.on('message', async (m: ToClient) => {
    if (m.t === 'close') {
      for (const ws of sockets) ws.terminate()
      setTimeout(() => process.exit(0), 200)
      return
    }
    const cfg = m.cfg
    let next = 0
    let open = 0
    let failed = 0
    const worker = async () => {
      while (next < cfg.count) {
        next++
        if (await openOne(cfg)) open++
        else failed++
      }
    }
    await Promise.all(Array.from({ length: cfg.concurrency }, worker))
    const reply: FromClient = { t: 'opened', open, failed, frames, errors: [] }
    process.send?.(reply)
  })
}

class Client {
  readonly child: ChildProcess
  constructor() {
    this.child = fork(self, ['--client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  }
  open(cfg: ClientCfg): Promise<FromClient> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`client exited with ${code}`))
      this.child.once('exit', onExit)
      this.child.once('message', (m: FromClient) => {
        this.child.off('exit', onExit)
        resolve(m)
      })
      this.child.send({ t: 'open', cfg } satisfies ToClient)
    })
  }
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.send({ t: 'close' } satisfies ToClient)
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
}

// ---------------------------------------------------------------------------------------------
// Probing a server's memory

/** Loaded into the server with --import: SIGWINCH → two full GCs → memoryUsage() to a file. */
const PROBE_MODULE =
  'const fs=process.getBuiltinModule("node:fs");const v8=process.getBuiltinModule("node:v8");' +
  'process.on("SIGWINCH",()=>{const s0=v8.getHeapSpaceStatistics();globalThis.gc();globalThis.gc();' +
  'const m={...process.memoryUsage(),v8:v8.getHeapStatistics(),spaces:v8.getHeapSpaceStatistics(),spacesNoGc:s0};' +
  'globalThis.gc({type:"major",execution:"sync",flavor:"last-resort"});m.rssReleased=process.memoryUsage.rss();' +
  'const t=process.env.CONN_MEMORY_PROBE+".tmp";' +
  'fs.writeFileSync(t,JSON.stringify(m));fs.renameSync(t,process.env.CONN_MEMORY_PROBE)})'

interface Usage {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  /** RSS after a last-resort GC, which also returns V8's pooled free pages to the OS */
  rssReleased: number
  v8?: Record<string, number>
  spaces?: SpaceStats[]
  /** the same, read before the forced GCs (what V8 holds at the RSS reading) */
  spacesNoGc?: SpaceStats[]
}

interface SpaceStats {
  space_name: string
  space_size: number
  space_used_size: number
  physical_space_size: number
}

interface Reading {
  /** /proc VmRSS, no GC forced */
  rss: number
  /** /metrics (gateway only) */
  metricsRss?: number
  metricsHeapUsed?: number
  /** after forced GC */
  gc: Usage
}

function procRss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : 0
}

async function metrics(url: string): Promise<{ rss?: number; heapUsed?: number }> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const num = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)
    return m ? Number(m[1]) : undefined
  }
  const rss = num('process_resident_memory_bytes')
  const heapUsed = num('nodejs_heap_size_used_bytes')
  return { ...(rss !== undefined ? { rss } : {}), ...(heapUsed !== undefined ? { heapUsed } : {}) }
}

interface Server {
  name: string
  pid: number
  /** ws:// URL of a spectator connection */
  wsUrl: string
  httpUrl: string
  hasMetrics: boolean
  until: string
  probeFile: string
  snapshotDir?: string
  stop(): Promise<void>
}

async function probe(s: Server): Promise<Usage> {
  rmSync(s.probeFile, { force: true })
  process.kill(s.pid, 'SIGWINCH')
  return waitFor(
    `${s.name} memory probe`,
    () => (existsSync(s.probeFile) ? (JSON.parse(readFileSync(s.probeFile, 'utf8')) as Usage) : undefined),
    30_000,
    20,
  )
}

async function read(s: Server): Promise<Reading> {
  const rss = procRss(s.pid)
  const m = s.hasMetrics ? await metrics(s.httpUrl) : {}
  const gc = await probe(s)
  return {
    rss,
    ...(m.rss !== undefined ? { metricsRss: m.rss } : {}),
    ...(m.heapUsed !== undefined ? { metricsHeapUsed: m.heapUsed } : {}),
    gc,
  }
}

/** SIGUSR2 → a heap snapshot in s.snapshotDir; returns its path once complete. */
async function snapshot(s: Server, label: string): Promise<string> {
  const dir = s.snapshotDir as string
  const before = new Set(readdirSync(dir))
  process.kill(s.pid, 'SIGUSR2')
  const file = await waitFor(
    `${s.name} heap snapshot`,
    () => readdirSync(dir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f)),
    120_000,
    100,
  )
  const path = join(dir, file)
  // Complete when the size stops changing and the JSON is closed.
  let last = -1
  await waitFor(
    'heap snapshot written',
    () => {
      const size = statSync(path).size
      if (size === last && size > 0) {
        const fd = readFileSync(path)
        if (fd.subarray(-4).toString().includes('}')) return true
      }
      last = size
      return undefined
    },
    300_000,
    500,
  )
  const named = join(dir, `${s.name}-${label}.heapsnapshot`)
  rmSync(named, { force: true })
  const { renameSync } = await import('node:fs')
  renameSync(path, named)
  return named
}

function nodeOptions(snapshots: boolean, dir: string | undefined, extra = ''): string {
  const parts = [extra, '--expose-gc', `--import=data:text/javascript,${encodeURIComponent(PROBE_MODULE)}`]
  if (snapshots && dir) parts.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`)
  return parts.filter((p) => p !== '').join(' ')
}

// ---------------------------------------------------------------------------------------------
// Heap snapshot analysis: self size and count by (type, name), after − before

interface Agg {
  count: number
  size: number
}

function aggregate(path: string): Map<string, Agg> {
  const snap = JSON.parse(readFileSync(path, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
    nodes: number[]
    strings: string[]
  }
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const nf = fields.length
  const iType = fields.indexOf('type')
  const iName = fields.indexOf('name')
  const iSize = fields.indexOf('self_size')
  const out = new Map<string, Agg>()
  const { nodes, strings } = snap
  for (let i = 0; i < nodes.length; i += nf) {
    const type = types[nodes[i + iType] as number] as string
    let name = type === 'object' || type === 'closure' || type === 'native' ? (strings[nodes[i + iName] as number] as string) : ''
    if (name.length > 60) name = `${name.slice(0, 57)}...`
    const key = `${type}${name ? ` ${name}` : ''}`
    const a = out.get(key) ?? { count: 0, size: 0 }
    a.count++
    a.size += nodes[i + iSize] as number
    out.set(key, a)
  }
  return out
}

function analyse(beforePath: string, afterPath: string, per: number, top = 35): void {
  const a = aggregate(beforePath)
  const b = aggregate(afterPath)
  const rows: { key: string; dCount: number; dSize: number }[] = []
  for (const [key, v] of b) {
    const w = a.get(key) ?? { count: 0, size: 0 }
    rows.push({ key, dCount: v.count - w.count, dSize: v.size - w.size })
  }
  for (const [key, w] of a) if (!b.has(key)) rows.push({ key, dCount: -w.count, dSize: -w.size })
  rows.sort((x, y) => y.dSize - x.dSize)
  const total = rows.reduce((s, r) => s + r.dSize, 0)
  console.log(`\nheap snapshot growth per connection (self sizes, ${per} connections): ${(total / per).toFixed(0)} B in total`)
  console.log(`${'bytes/conn'.padStart(10)} ${'objs/conn'.padStart(9)}  type name`)
  for (const r of rows.slice(0, top)) {
    console.log(`${(r.dSize / per).toFixed(0).padStart(10)} ${(r.dCount / per).toFixed(2).padStart(9)}  ${r.key}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

async function startTouchline(
  redisUrl: string,
  natsUrl: string,
  work: string,
  snapshots: boolean,
  extraEnv: Record<string, string>,
): Promise<Server> {
  const matchId = `mem-${Date.now().toString(36)}`
  const bus = await connectNatsBus({ servers: natsUrl, name: 'conn-memory' })
  try {
    await bus.createMatch({
      id: matchId,
      title: 'Memory per connection',
      home: 'Home',
      away: 'Away',
      startsAt: new Date().toISOString(),
      createdAt: new Date().toISOString(),
    })
    for (let i = 0; i < 20; i++) await bus.appendEvent(matchId, { kind: 'commentary', data: { text: `event ${i} ${'x'.repeat(400)}` } })
  } finally {
    await bus.close()
  }
  const probeFile = join(work, 'gateway.probe.json')
  const gw = await startService('gateway', {
    env: {
      NATS_URL: natsUrl,
      REDIS_URL: redisUrl,
      TOUCHLINE_TOKEN_SECRET: 'conn-memory-token-secret-0123456789',
      LOG_LEVEL: 'warn',
      NODE_ID: 'conn-memory',
      WS_MAX_CONNECTIONS: '100000',
      CONN_MEMORY_PROBE: probeFile,
      ...extraEnv,
      NODE_OPTIONS: nodeOptions(snapshots, work, extraEnv.NODE_OPTIONS),
    },
    timeoutMs: 40_000,
  })
  return {
    name: 'touchline',
    pid: gw.pid,
    wsUrl: `ws://127.0.0.1:${gw.port}/ws?match=${matchId}`,
    httpUrl: gw.url,
    hasMetrics: true,
    until: 'subscribed',
    probeFile,
    ...(snapshots ? { snapshotDir: work } : {}),
    stop: () => gw.stop(),
  }
}

async function startWs(redisUrl: string, work: string, snapshots: boolean): Promise<Server> {
  const probeFile = join(work, 'ws.probe.json')
  const port = await (await import('../packages/testkit/src/index.ts')).freePort()
  const proc: Proc = startProcess(process.execPath, [join(repoRoot, 'bench/baselines/ws-send.ts')], {
    cwd: repoRoot,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      BENCH_CHANNEL: `conn-memory-${process.pid}`,
      BENCH_PRIMARY: '1',
      NODE_OPTIONS: nodeOptions(snapshots, work),
      CONN_MEMORY_PROBE: probeFile,
    },
  })
  const httpUrl = `http://127.0.0.1:${port}`
  await waitFor(
    'ws baseline ready',
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`ws-send exited: ${proc.output().slice(-1000)}`)
      return (await fetch(`${httpUrl}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined
    },
    20_000,
  )
  return {
    name: 'ws-send',
    pid: proc.pid,
    wsUrl: `ws://127.0.0.1:${port}/ws?match=m1`,
    httpUrl,
    hasMetrics: false,
    until: 'subscribed',
    probeFile,
    ...(snapshots ? { snapshotDir: work } : {}),
    stop: () => proc.stop('SIGTERM', 5000),
  }
}

interface Result {
  name: string
  open: number
  failed: number
  frames: Record<string, number>
  before: Reading
  after: Reading
  snapshots?: [string, string]
}

async function measure(s: Server, n: number, settleMs: number, idleMs: number, hold = 0): Promise<Result> {
  await sleep(settleMs)
  // A first GC round so that start-up garbage does not count against the connections.
  await probe(s)
  await sleep(500)
  const before = await read(s)
  const snapBefore = s.snapshotDir ? await snapshot(s, 'before') : undefined
  const clients: Client[] = []
  const counts: number[] = []
  for (let left = n; left > 0; left -= PER_CLIENT_PROCESS) counts.push(Math.min(left, PER_CLIENT_PROCESS))
  try {
    for (const _ of counts) clients.push(new Client())
    const t0 = Date.now()
    const replies = await Promise.all(
      clients.map((c, i) => c.open({ url: s.wsUrl, count: counts[i] as number, concurrency: 100, until: s.until })),
    )
    const open = replies.reduce((a, r) => a + r.open, 0)
    const failed = replies.reduce((a, r) => a + r.failed, 0)
    const frames: Record<string, number> = {}
    for (const r of replies) for (const [k, v] of Object.entries(r.frames)) frames[k] = (frames[k] ?? 0) + v
    console.log(`${s.name}: ${open} open, ${failed} failed in ${((Date.now() - t0) / 1000).toFixed(1)} s; idling ${idleMs / 1000} s`)
    await sleep(idleMs)
    const after = await read(s)
    if (hold > 0) {
      console.log(`${s.name}: pid ${s.pid}, holding ${hold} s`)
      await sleep(hold * 1000)
    }
    const snapAfter = s.snapshotDir ? await snapshot(s, 'after') : undefined
    return { name: s.name, open, failed, frames, before, after, ...(snapBefore && snapAfter ? { snapshots: [snapBefore, snapAfter] } : {}) }
  } finally {
    await Promise.all(clients.map((c) => c.close()))
  }
}

function perConn(r: Result, get: (x: Reading) => number | undefined): number | undefined {
  const a = get(r.before)
  const b = get(r.after)
  if (a === undefined || b === undefined || r.open === 0) return undefined
  return (b - a) / r.open / KiB
}

function report(results: Result[]): void {
  const rows: [string, (x: Reading) => number | undefined][] = [
    ['RSS, /proc (no GC)', (x) => x.rss],
    ['RSS, /metrics', (x) => x.metricsRss],
    ['heap used, /metrics (no GC)', (x) => x.metricsHeapUsed],
    ['RSS after GC', (x) => x.gc.rss],
    ['RSS after last-resort GC (pooled V8 pages released)', (x) => x.gc.rssReleased],
    ['V8 heap used after GC', (x) => x.gc.heapUsed],
    ['V8 heap committed after GC', (x) => x.gc.heapTotal],
    ['RSS − heap committed − external, after GC', (x) => x.gc.rss - x.gc.heapTotal - x.gc.external],
    ['external after GC', (x) => x.gc.external],
    ['… of which array buffers', (x) => x.gc.arrayBuffers],
  ]
  const names = results.map((r) => r.name)
  const head = `| KiB per connection | ${names.join(' | ')} |`
  console.log(`\n${head}\n| --- |${names.map(() => ' ---: |').join('')}`)
  for (const [label, get] of rows) {
    const cells = results.map((r) => {
      const v = perConn(r, get)
      return v === undefined ? 'n/a' : v.toFixed(2)
    })
    console.log(`| ${label} | ${cells.join(' | ')} |`)
  }
  console.log(`| connections open (failed) | ${results.map((r) => `${r.open} (${r.failed})`).join(' | ')} |`)
  const mib = (x: number) => (x / MiB).toFixed(1)
  console.log(`| RSS before → after (MiB) | ${results.map((r) => `${mib(r.before.rss)} → ${mib(r.after.rss)}`).join(' | ')} |`)
  console.log(
    `| heap after GC before → after (MiB) | ${results.map((r) => `${mib(r.before.gc.heapUsed)} → ${mib(r.after.gc.heapUsed)}`).join(' | ')} |`,
  )
  for (const r of results) console.log(`${r.name} frames received: ${JSON.stringify(r.frames)}`)
  for (const r of results) {
    const sp = (u: Usage) => new Map((u.spaces ?? []).map((x) => [x.space_name, x]))
    const a = sp(r.before.gc)
    const b = sp(r.after.gc)
    const line = [...b.entries()]
      .map(([k, v]) => `${k} ${mib(a.get(k)?.physical_space_size ?? 0)}→${mib(v.physical_space_size)} (used ${mib(v.space_used_size)})`)
      .join(', ')
    console.log(`${r.name} V8 spaces after GC, physical MiB before→after: ${line}`)
    const young = (u: Usage) => (u.spacesNoGc ?? []).find((x) => x.space_name === 'new_space')
    const y0 = young(r.before.gc)
    const y1 = young(r.after.gc)
    if (y0 && y1)
      console.log(
        `${r.name} new space before the forced GC (young generation V8 grew and kept), physical MiB before→after: ${mib(y0.physical_space_size)}→${mib(y1.physical_space_size)} (size ${mib(y1.space_size)})`,
      )
    const v = r.after.gc.v8
    if (v)
      console.log(
        `${r.name} V8 after: physical ${mib(v.total_physical_size ?? 0)} MiB, malloced ${mib(v.malloced_memory ?? 0)} MiB (peak ${mib(v.peak_malloced_memory ?? 0)})`,
      )
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      client: { type: 'boolean', default: false },
      connections: { type: 'string', default: '5000' },
      target: { type: 'string', default: 'both' },
      settle: { type: 'string', default: '3' },
      idle: { type: 'string', default: '5' },
      snapshots: { type: 'string' },
      analyse: { type: 'boolean', default: false },
      hold: { type: 'string', default: '0' },
      'gateway-env': { type: 'string', multiple: true, default: [] },
      per: { type: 'string', default: '1' },
      top: { type: 'string', default: '35' },
    },
  })
  if (values.client) return runClient()
  if (values.analyse) {
    const [a, b] = positionals
    if (!a || !b) throw new Error('--analyse needs two heap snapshots: before after')
    analyse(a, b, Number(values.per), Number(values.top))
    return
  }
  const n = Number(values.connections)
  const target = values.target
  if (!['touchline', 'ws', 'both'].includes(target)) throw new Error('--target is touchline, ws or both')
  const snapshots = values.snapshots !== undefined
  const work = values.snapshots ?? join(tmpdir(), `conn-memory-${process.pid}`)
  mkdirSync(work, { recursive: true })
  console.log(
    `conn-memory: ${n} connections, target ${target}, Node ${process.version}, load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')}`,
  )
  const redis = await startRedis()
  const nats = target === 'ws' ? undefined : await startNats()
  const results: Result[] = []
  try {
    if (target !== 'ws' && nats) {
      const extraEnv = Object.fromEntries(
        values['gateway-env'].map((kv) => {
          const i = kv.indexOf('=')
          if (i < 1) throw new Error(`--gateway-env takes NAME=value, not ${kv}`)
          return [kv.slice(0, i), kv.slice(i + 1)]
        }),
      )
      const s = await startTouchline(redis.url, nats.url, work, snapshots, extraEnv)
      try {
        results.push(await measure(s, n, Number(values.settle) * 1000, Number(values.idle) * 1000, Number(values.hold)))
      } finally {
        await s.stop()
      }
    }
    if (target !== 'touchline') {
      const s = await startWs(redis.url, work, snapshots)
      try {
        results.push(await measure(s, n, Number(values.settle) * 1000, Number(values.idle) * 1000, Number(values.hold)))
      } finally {
        await s.stop()
      }
    }
  } finally {
    await nats?.stop()
    await redis.stop()
    if (!snapshots) rmSync(work, { recursive: true, force: true })
  }
  report(results)
  console.log(
    `load average at end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' / ')}`,
  )
  for (const r of results) if (r.snapshots) analyse(r.snapshots[0], r.snapshots[1], r.open, Number(values.top))
}

await main()

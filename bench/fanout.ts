/**
 * `pnpm bench fanout`: how fast one event reaches many spectators, for touchline and beside it
 * three baselines on the same machine, the same N and the same ~500-byte events.
 *
 *   pnpm bench fanout --connections 1000 --gateways 1 --rate 10 --duration 10
 *                     [--via-nginx] [--chat 5] [--saturate] [--targets touchline,ws-send,ws-prebuilt,socketio]
 *
 * `touchline-nocoalesce` (touchline with CHAT_COALESCE_MS=0 and WS_CORK=false) is a fifth target,
 * run only when named in --targets: `--chat 100 --targets touchline,touchline-nocoalesce` compares
 * the gateway's write coalescing (chat window + per-turn cork) with one write per frame, in one
 * invocation ("gateway frames per socket write" shows what each did).
 *
 * For each target in turn: start it (testkit NATS + Redis are shared by the run), fork the load
 * generators (bench/loadgen.ts, at least two processes), open every connection and wait until each
 * is subscribed, let the servers settle and read their RSS (memory per idle connection), then post
 * events — open loop at --rate (each carrying its SCHEDULED send time, so a driver or server that
 * falls behind shows as latency), or with --saturate a closed loop that keeps at most --window
 * events not yet delivered to every connection — for --warmup + --duration seconds. Only events
 * scheduled inside the measuring window (after the warmup) go into the latency histograms; only
 * messages received inside it count toward delivered/s; CPU is read from /proc over the same window.
 * After the window the driver stops posting, waits for delivery to finish (--drain), and asks each
 * load generator for its histogram, counters and per-connection sequence check.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { WebSocket } from 'ws'
import { io as ioClient, type Socket as IoSocket } from 'socket.io-client'
import { startNats, startRedis, type NatsServer, type RedisServer } from '../packages/testkit/src/index.ts'
import { SOCKETIO_PATH } from './baselines/shared.ts'
import { encodeHistogram, mergeEncoded, summarize, type LatencySummary } from './lib/histogram.ts'
import type { BenchResult, BenchTable } from './lib/report.ts'
import { CpuMeter, type CpuReading, cpuSeconds, findPids, type MachineCpu, rssBytes, waitQuiet } from './lib/sys.ts'
import { type Counters, counterGrowth, scrapeCounters } from './lib/metrics.ts'
import { DEFAULT_TARGETS, isTouchline, startTarget, TARGETS, type RunningTarget, type TargetName } from './lib/targets.ts'
import { chatText, EVENT_BYTES, eventBody, nowUs, paddedText } from './lib/wire.ts'
import type { LoadgenConfig, LoadgenConnected, LoadgenReport } from './loadgen.ts'

export interface FanoutOptions {
  connections: number
  gateways: number
  /** events per second (steady mode) */
  rate: number
  /** measuring window, seconds */
  duration: number
  /** seconds of events before the window (not measured) */
  warmup: number
  viaNginx: boolean
  /** chat messages per second (0 = none) */
  chat: number
  chatters: number
  saturate: boolean
  /** --saturate: events posted but not yet delivered to every connection, at most */
  window: number
  targets: TargetName[]
  loadgens: number
  /** handshakes in flight per load generator */
  concurrency: number
  /** seconds to wait for delivery to finish after the window */
  drain: number
  /** seconds the servers settle before and after connecting (for the RSS readings) */
  settle: number
  payload: number
  /** write V8 CPU profiles of the server processes into this directory */
  cpuProf: string | undefined
  /** extra environment for touchline's gateways, KEY=VALUE */
  gatewayEnv: Record<string, string>
  /** before each target, wait up to this many seconds for other work on the machine to stop */
  waitQuiet: number
  quiet: boolean
}

const USAGE = `pnpm bench fanout [--connections N] [--gateways G] [--rate R] [--duration S] [--warmup S]
  [--via-nginx] [--chat R2] [--chatters K] [--saturate] [--window W] [--targets a,b,…]
  [--loadgens L] [--concurrency C] [--drain S] [--settle S] [--payload BYTES] [--cpu-prof DIR] [--gateway-env K=V,…]
  [--wait-quiet S]  (before each target wait up to S seconds until nothing else keeps the machine busy)
targets: ${TARGETS.join(', ')} (default ${DEFAULT_TARGETS.join(',')})`

export function parseFanoutArgs(argv: string[]): FanoutOptions {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: {
      connections: { type: 'string', short: 'c', default: '1000' },
      gateways: { type: 'string', short: 'g', default: '1' },
      rate: { type: 'string', short: 'r', default: '10' },
      duration: { type: 'string', short: 'd', default: '10' },
      warmup: { type: 'string', default: '' },
      'via-nginx': { type: 'boolean', default: false },
      chat: { type: 'string', default: '0' },
      chatters: { type: 'string', default: '' },
      saturate: { type: 'boolean', default: false },
      window: { type: 'string', default: '' },
      targets: { type: 'string', short: 't', default: DEFAULT_TARGETS.join(',') },
      loadgens: { type: 'string', default: '' },
      concurrency: { type: 'string', default: '200' },
      drain: { type: 'string', default: '15' },
      settle: { type: 'string', default: '2' },
      payload: { type: 'string', default: String(EVENT_BYTES) },
      'cpu-prof': { type: 'string' },
      'gateway-env': { type: 'string', default: '' },
      'wait-quiet': { type: 'string', default: '0' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const num = (name: string, v: string, min: number) => {
    const n = Number(v)
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(v)}\n${USAGE}`)
    return n
  }
  const connections = Math.floor(num('connections', values.connections, 1))
  const targets = values.targets
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  for (const t of targets) if (!(TARGETS as readonly string[]).includes(t)) throw new Error(`unknown target ${t}\n${USAGE}`)
  if (targets.length === 0) throw new Error(`--targets names no target\n${USAGE}`)
  if (new Set(targets).size !== targets.length) throw new Error(`--targets names a target twice: ${values.targets}\n${USAGE}`)
  const duration = num('duration', values.duration, 0.5)
  const chat = num('chat', values.chat, 0)
  const gatewayEnv: Record<string, string> = {}
  for (const kv of values['gateway-env'].split(',').filter(Boolean)) {
    const i = kv.indexOf('=')
    const key = kv.slice(0, i)
    if (i <= 0 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new Error(`--gateway-env takes KEY=VALUE,…; ${JSON.stringify(kv)} is not KEY=VALUE\n${USAGE}`)
    }
    gatewayEnv[key] = kv.slice(i + 1)
  }
  return {
    connections,
    gateways: Math.floor(num('gateways', values.gateways, 1)),
    rate: num('rate', values.rate, 0.1),
    duration,
    warmup: values.warmup === '' ? Math.min(2, duration / 4) : num('warmup', values.warmup, 0),
    viaNginx: values['via-nginx'],
    chat,
    chatters: values.chatters === '' ? Math.max(1, Math.ceil(chat * 2)) : Math.floor(num('chatters', values.chatters, 1)),
    saturate: values.saturate,
    window:
      values.window === '' ? Math.max(4, Math.min(128, Math.ceil(40_000 / connections))) : Math.floor(num('window', values.window, 1)),
    targets: targets as TargetName[],
    // ≤ 9,000 sockets per process keeps each well under the 20,000 fd limit
    loadgens: values.loadgens === '' ? Math.max(2, Math.ceil(connections / 9000)) : Math.floor(num('loadgens', values.loadgens, 1)),
    concurrency: Math.floor(num('concurrency', values.concurrency, 1)),
    drain: num('drain', values.drain, 0),
    settle: num('settle', values.settle, 0),
    payload: Math.floor(num('payload', values.payload, 100)),
    cpuProf: values['cpu-prof'],
    gatewayEnv,
    waitQuiet: num('wait-quiet', values['wait-quiet'], 0),
    quiet: values.quiet,
  }
}

export interface TargetResult {
  target: TargetName
  describe: string
  error?: string
  serverProcesses: number
  connections: {
    requested: number
    open: number
    failed: number
    closed: number
    establishSec: number
    perSec: number
    /** CPU of the server processes while connecting, per connection opened (absent in older results) */
    serverCpuUsPerConn?: number
    /** the same for the load generators */
    loadgenCpuUsPerConn?: number
  }
  events: { posted: number; accepted: number; postErrors: number; offeredPerSec: number; lastSeq: number }
  delivered: { perSec: number; inWindow: number; expectedInWindow: number; ratio: number; bytesPerMessage: number }
  latency: LatencySummary
  /**
   * received: chat frames received over the whole run; inWindow: received inside the measuring
   * window (by receive time), perSec = inWindow ÷ window (absent in results from before it was kept)
   */
  chat: { sent: number; received: number; inWindow?: number; perSec?: number; latency: LatencySummary }
  /**
   * Counters of touchline's gateways (Prometheus /metrics, summed over gateways and labels):
   * `window` is the growth inside the measuring window, `run` the value after the drain (the
   * gateways start fresh for each target). Metrics a gateway does not have are absent.
   */
  gatewayCounters?: { window: Record<string, number>; run: Record<string, number> }
  cpu: Record<string, number | undefined>
  machineBusyPct: number | undefined
  machine?: MachineCpu
  /** CPU of processes outside the run during the window (noise) */
  othersPct?: number
  others?: Array<{ pid: number; cmd: string; pct: number }>
  memory: { rssBeforeMiB: number; rssIdleMiB: number; rssEndMiB: number; perConnKiB: number; marginalPerConnKiB: number }
  integrity: { gaps: number; duplicates: number; missingAtEnd: number; missingClosed: number; closeReasons: Record<string, number> }
  otherFrames: Record<string, number>
  /** delivered messages per second, second by second from the first event */
  timeline: number[]
  errors: string[]
  histogram: string
  notes: string[]
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const MiB = 2 ** 20

let quiet = false
function log(msg: string): void {
  if (!quiet) process.stderr.write(`[fanout] ${msg}\n`)
}

/** One forked load generator and its replies. */
class Loadgen {
  readonly child: ChildProcess
  completed = 0
  open = 0
  private waiters = new Map<string, (m: unknown) => void>()
  onProgress: (() => void) | undefined

  readonly id: number

  constructor(id: number, script: string) {
    this.id = id
    this.child = fork(script, [], {
      execArgv: ['--max-semi-space-size=64'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.child.on('message', (m: { t: string; completed?: number }) => {
      if (m.t === 'progress') {
        this.completed = m.completed ?? this.completed
        this.onProgress?.()
        return
      }
      const w = this.waiters.get(m.t)
      if (w) {
        this.waiters.delete(m.t)
        w(m)
      }
    })
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  request<T>(msg: unknown, reply: string, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(reply)
        reject(new Error(`loadgen ${this.id}: no '${reply}' within ${timeoutMs} ms`))
      }, timeoutMs)
      const onExit = (code: number | null) => {
        clearTimeout(timer)
        reject(new Error(`loadgen ${this.id} exited (${code}) while waiting for '${reply}'`))
      }
      this.child.once('exit', onExit)
      this.waiters.set(reply, (m) => {
        clearTimeout(timer)
        this.child.off('exit', onExit)
        resolve(m as T)
      })
      if (msg !== undefined) this.child.send(msg as object)
    })
  }

  send(msg: unknown): void {
    if (this.child.connected) this.child.send(msg as object)
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.send({ t: 'stop' })
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000)
    await exited
    clearTimeout(t)
  }
}

function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0))
}

function sumRss(pids: number[]): number {
  return pids.reduce((a, p) => a + (rssBytes(p) ?? 0), 0)
}

interface Chatter {
  say(text: string): void
  close(): void
}

async function openChatters(t: RunningTarget, n: number): Promise<Chatter[]> {
  const out: Chatter[] = []
  for (const c of t.chatters(n)) {
    let k = 0
    if (t.kind === 'ws') {
      const ws = new WebSocket(c.url, { perMessageDeflate: false })
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve())
        ws.once('error', reject)
      })
      ws.on('message', () => {})
      out.push({
        say: (text) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(c.frame(text, ++k))),
        close: () => ws.terminate(),
      })
    } else {
      const s: IoSocket = ioClient(c.url, {
        transports: ['websocket'],
        path: SOCKETIO_PATH,
        addTrailingSlash: false,
        query: { match: t.matchId },
        forceNew: true,
        reconnection: false,
      })
      await new Promise<void>((resolve, reject) => {
        s.once('subscribed', () => resolve())
        s.once('connect_error', reject)
      })
      out.push({ say: (text) => s.emit('chat', c.frame(text, ++k)), close: () => s.disconnect() })
    }
  }
  return out
}

async function measure(t: RunningTarget, o: FanoutOptions, shared: { natsPids: number[]; redisPids: number[] }): Promise<TargetResult> {
  const script = fileURLToPath(new URL('./loadgen.ts', import.meta.url))
  const counts = split(o.connections, o.loadgens)
  const lgs = counts.map((_, i) => new Loadgen(i, script))
  const notes = [...t.notes]
  const errors: string[] = []
  try {
    await Promise.all(
      lgs.map((lg, i) => {
        const cfg: LoadgenConfig = {
          id: i,
          kind: t.kind,
          urls: t.spectatorUrls,
          matchId: t.matchId,
          count: counts[i] as number,
          concurrency: o.concurrency,
          startSeq: t.startSeq,
          bucketMs: 100,
          connectTimeoutMs: 60_000,
        }
        return lg.request({ t: 'init', cfg }, 'ready', 20_000)
      }),
    )
    await sleep((o.settle * 1000) / 2)
    const rssBefore = sumRss(t.serverPids)
    log(`${t.name}: opening ${o.connections} connections from ${lgs.length} load generators`)
    const connectTimeout = 60_000 + o.connections * 20
    // two halves: memory per connection is also read as the RSS growth of the second half,
    // which leaves out what a process grows once whatever the number of connections
    // CPU seconds of the servers (gateways or baseline processes) and of the load generators
    // while connecting: what a connection costs, which wall time on a shared machine hides.
    const cpuOf = (pids: number[]) => pids.reduce((a, pid) => a + (cpuSeconds(pid) ?? 0), 0)
    const serverGroup = t.groups.gateway ?? t.serverPids
    const connectCpu = { server: 0, loadgen: 0 }
    const phase = async (fraction: number) => {
      const cpu0 = { server: cpuOf(serverGroup), loadgen: cpuOf(lgs.map((lg) => lg.pid)) }
      const replies = await Promise.all(
        lgs.map((lg, i) =>
          lg.request<LoadgenConnected>({ t: 'connect', upTo: Math.floor((counts[i] as number) * fraction) }, 'connected', connectTimeout),
        ),
      )
      connectCpu.server += cpuOf(serverGroup) - cpu0.server
      connectCpu.loadgen += cpuOf(lgs.map((lg) => lg.pid)) - cpu0.loadgen
      const started = replies.filter((c) => c.lastUs > c.firstUs)
      const seconds = started.length ? (Math.max(...started.map((c) => c.lastUs)) - Math.min(...started.map((c) => c.firstUs))) / 1e6 : 0
      return { replies, seconds, open: replies.reduce((a, c) => a + c.open, 0) }
    }
    const half = await phase(0.5)
    await sleep(o.settle * 1000)
    const rssHalf = sumRss(t.serverPids)
    const full = await phase(1)
    const connected = full.replies
    const open = full.open
    const failed = connected.reduce((a, c) => a + c.failed, 0)
    for (let i = 0; i < lgs.length; i++) (lgs[i] as Loadgen).open = (connected[i] as LoadgenConnected).open
    for (const c of [...half.replies, ...connected]) errors.push(...c.errors)
    const establishSec = half.seconds + full.seconds
    log(`${t.name}: ${open} open, ${failed} failed in ${establishSec.toFixed(2)} s`)
    await sleep(o.settle * 1000)
    const rssIdle = sumRss(t.serverPids)

    const chatters = o.chat > 0 ? await openChatters(t, o.chatters) : []
    const text = paddedText(o.payload)
    const startUs = nowUs() + 300_000
    const windowStart = startUs + Math.round(o.warmup * 1e6)
    const windowEnd = windowStart + Math.round(o.duration * 1e6)
    for (const lg of lgs) lg.send({ t: 'window', baseUs: startUs, startUs: windowStart, endUs: windowEnd })
    const meter = new CpuMeter({
      ...t.groups,
      ...(shared.natsPids.length && isTouchline(t.name) ? { nats: shared.natsPids } : {}),
      redis: shared.redisPids,
      loadgen: lgs.map((lg) => lg.pid),
      driver: [process.pid],
    })
    // the gateways' own counters (socket writes, chat shed/refused) over the same window
    const scrape = (): Promise<Counters | undefined> =>
      t.metricsUrls.length === 0
        ? Promise.resolve(undefined)
        : scrapeCounters(t.metricsUrls).catch((err: unknown) => {
            errors.push(`metrics: ${(err as Error).message}`)
            return undefined
          })
    let countersAtStart: Promise<Counters | undefined> | undefined
    let countersAtEnd: Promise<Counters | undefined> | undefined
    const cpuStart = setTimeout(
      () => {
        meter.start()
        countersAtStart = scrape()
      },
      (windowStart - nowUs()) / 1000,
    )
    let cpu: CpuReading | undefined
    const cpuStop = setTimeout(
      () => {
        cpu = meter.stop()
        countersAtEnd = scrape()
      },
      (windowEnd - nowUs()) / 1000,
    )

    let posted = 0
    let accepted = 0
    let postErrors = 0
    let lastSeq = t.startSeq
    const inflight = new Set<Promise<void>>()
    const post = (sched: number) => {
      posted++
      const p = t
        .publish(eventBody(text, sched))
        .then(
          (seq) => {
            accepted++
            if (seq > lastSeq) lastSeq = seq
          },
          (err: unknown) => {
            postErrors++
            if (errors.length < 40) errors.push(`post: ${(err as Error).message}`)
          },
        )
        .finally(() => inflight.delete(p))
      inflight.add(p)
    }

    // chat, open loop at o.chat per second over the chatters
    let chatSent = 0
    const chatLoop = (async () => {
      if (chatters.length === 0) return
      let i = 0
      while (true) {
        const due = startUs + (i * 1e6) / o.chat
        if (due >= windowEnd) break
        const wait = (due - nowUs()) / 1000
        if (wait > 1) await sleep(wait)
        ;(chatters[i % chatters.length] as Chatter).say(chatText(Math.round(due)))
        chatSent++
        i++
      }
    })()

    if (!o.saturate) {
      const total = Math.floor(((windowEnd - startUs) / 1e6) * o.rate)
      let i = 0
      while (i < total) {
        const now = nowUs()
        while (i < total && startUs + (i * 1e6) / o.rate <= now) {
          post(Math.round(startUs + (i * 1e6) / o.rate))
          i++
        }
        if (i >= total) break
        const wait = (startUs + (i * 1e6) / o.rate - nowUs()) / 1000
        await sleep(Math.max(0, wait))
      }
    } else {
      // closed loop: keep at most o.window events not yet delivered to every connection
      const live = () => lgs.filter((lg) => lg.open > 0)
      const delivered = () => Math.min(...live().map((lg) => lg.completed))
      let wake: (() => void) | undefined
      for (const lg of lgs)
        lg.onProgress = () => {
          const w = wake
          wake = undefined
          w?.()
        }
      const first = nowUs()
      if (startUs > first) await sleep((startUs - first) / 1000)
      while (nowUs() < windowEnd) {
        if (live().length === 0) break
        while (posted - postErrors - delivered() < o.window && nowUs() < windowEnd) post(nowUs())
        await new Promise<void>((resolve) => {
          wake = resolve
          setTimeout(resolve, 50)
        })
      }
      for (const lg of lgs) lg.onProgress = undefined
    }
    await chatLoop
    await Promise.all([...inflight])
    clearTimeout(cpuStart)
    // wait for the window to close (steady mode ends posting at windowEnd already)
    if (nowUs() < windowEnd) await sleep((windowEnd - nowUs()) / 1000 + 5)
    clearTimeout(cpuStop)
    if (!cpu) {
      cpu = meter.stop()
      countersAtEnd = scrape()
    }

    // drain: until every accepted event reached every open connection, or --drain seconds
    const drainUntil = Date.now() + o.drain * 1000
    const liveLgs = lgs.filter((lg) => lg.open > 0)
    while (Date.now() < drainUntil && liveLgs.some((lg) => lg.completed < accepted)) await sleep(50)
    if (liveLgs.some((lg) => lg.completed < accepted)) {
      notes.push(`${t.name}: delivery had not finished ${o.drain} s after the window`)
    }
    await sleep(300)
    const reports = await Promise.all(lgs.map((lg) => lg.request<LoadgenReport>({ t: 'final', lastSeq }, 'report', 60_000)))
    const rssEnd = sumRss(t.serverPids)
    for (const c of chatters) c.close()
    const [cStart, cEnd, cRun] = await Promise.all([countersAtStart, countersAtEnd, scrape()])
    const gatewayCounters = cRun ? { window: cStart && cEnd ? counterGrowth(cStart, cEnd) : {}, run: cRun } : undefined

    for (const r of reports) errors.push(...r.errors)
    const hist = mergeEncoded(reports.map((r) => r.latency))
    const chatHist = mergeEncoded(reports.map((r) => r.chatLatency))
    const bucketsPerSec = 10
    const maxLen = Math.max(0, ...reports.map((r) => r.buckets.length))
    const buckets = Array.from({ length: maxLen }, (_, i) => reports.reduce((a, r) => a + (r.buckets[i] ?? 0), 0))
    const w0 = Math.round(((windowStart - startUs) / 1e6) * bucketsPerSec)
    const w1 = Math.round(((windowEnd - startUs) / 1e6) * bucketsPerSec)
    const inWindow = buckets.slice(w0, w1).reduce((a, b) => a + b, 0)
    const chatInWindow = reports.reduce((a, r) => a + r.chatInWindow, 0)
    const timeline: number[] = []
    for (let i = 0; i < buckets.length; i += bucketsPerSec) timeline.push(buckets.slice(i, i + bucketsPerSec).reduce((a, b) => a + b, 0))
    const windowEvents = reports.reduce((a, r) => a + r.windowEvents, 0)
    // steady: the events the schedule put inside the window, counted as the load generators test it
    // (floor(duration × rate) is one too many when warmup × rate is not whole)
    let scheduledInWindow = 0
    if (!o.saturate) {
      const total = Math.floor(((windowEnd - startUs) / 1e6) * o.rate)
      for (let i = 0; i < total; i++) {
        const t = Math.round(startUs + (i * 1e6) / o.rate)
        if (t >= windowStart && t < windowEnd) scheduledInWindow++
      }
    }
    const eventsScheduledInWindow = o.saturate ? windowEvents / Math.max(1, open) : scheduledInWindow
    const expectedInWindow = o.saturate ? windowEvents : eventsScheduledInWindow * open
    const totalEvents = reports.reduce((a, r) => a + r.events, 0)
    const bytes = reports.reduce((a, r) => a + r.bytes, 0)
    const closeReasons: Record<string, number> = {}
    const otherFrames: Record<string, number> = {}
    for (const r of reports) {
      for (const [k, v] of Object.entries(r.closeReasons)) closeReasons[k] = (closeReasons[k] ?? 0) + v
      for (const [k, v] of Object.entries(r.other)) otherFrames[k] = (otherFrames[k] ?? 0) + v
    }
    const result: TargetResult = {
      target: t.name,
      describe: t.describe,
      serverProcesses: t.serverPids.length,
      connections: {
        requested: o.connections,
        open,
        failed,
        closed: reports.reduce((a, r) => a + r.closed, 0),
        establishSec,
        perSec: establishSec > 0 ? open / establishSec : 0,
        serverCpuUsPerConn: open > 0 ? (connectCpu.server * 1e6) / open : 0,
        loadgenCpuUsPerConn: open > 0 ? (connectCpu.loadgen * 1e6) / open : 0,
      },
      events: {
        posted,
        accepted,
        postErrors,
        offeredPerSec: o.saturate ? accepted / ((windowEnd - startUs) / 1e6) : o.rate,
        lastSeq,
      },
      delivered: {
        perSec: inWindow / o.duration,
        inWindow,
        expectedInWindow,
        ratio: expectedInWindow > 0 ? windowEvents / expectedInWindow : 0,
        bytesPerMessage:
          t.kind === 'ws' && totalEvents > 0 ? Math.round(bytes / (totalEvents + reports.reduce((a, r) => a + r.chat, 0))) : 0,
      },
      latency: summarize(hist),
      chat: {
        sent: chatSent,
        received: reports.reduce((a, r) => a + r.chat, 0),
        inWindow: chatInWindow,
        perSec: chatInWindow / o.duration,
        latency: summarize(chatHist),
      },
      ...(gatewayCounters ? { gatewayCounters } : {}),
      cpu: cpu.groups,
      machineBusyPct: cpu.machineBusyPct,
      ...(cpu.machine ? { machine: cpu.machine } : {}),
      othersPct: cpu.othersPct,
      others: cpu.others,
      memory: {
        rssBeforeMiB: rssBefore / MiB,
        rssIdleMiB: rssIdle / MiB,
        rssEndMiB: rssEnd / MiB,
        perConnKiB: open > 0 ? (rssIdle - rssBefore) / open / 1024 : 0,
        marginalPerConnKiB: open > half.open ? (rssIdle - rssHalf) / (open - half.open) / 1024 : 0,
      },
      integrity: {
        gaps: reports.reduce((a, r) => a + r.gaps, 0),
        duplicates: reports.reduce((a, r) => a + r.duplicates, 0),
        missingAtEnd: reports.reduce((a, r) => a + r.missingAtEnd, 0),
        missingClosed: reports.reduce((a, r) => a + r.missingClosed, 0),
        closeReasons,
      },
      otherFrames,
      timeline,
      errors: [...new Set(errors)].slice(0, 30),
      histogram: encodeHistogram(hist),
      notes,
    }
    log(
      `${t.name}: delivered ${Math.round(result.delivered.perSec)} msg/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ` +
        `max ${result.latency.max} ms, gaps ${result.integrity.gaps}, missing ${result.integrity.missingAtEnd}, closed ${result.connections.closed}` +
        (chatSent ? `; chat ${Math.round(chatInWindow / o.duration)} msg/s delivered, p99 ${result.chat.latency.p99} ms` : ''),
    )
    return result
  } finally {
    await Promise.all(lgs.map((lg) => lg.stop()))
  }
}

function emptyResult(target: TargetName, error: string, o: FanoutOptions): TargetResult {
  const z: LatencySummary = { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 }
  return {
    target,
    describe: '',
    error,
    serverProcesses: 0,
    connections: { requested: o.connections, open: 0, failed: 0, closed: 0, establishSec: 0, perSec: 0 },
    events: { posted: 0, accepted: 0, postErrors: 0, offeredPerSec: 0, lastSeq: 0 },
    delivered: { perSec: 0, inWindow: 0, expectedInWindow: 0, ratio: 0, bytesPerMessage: 0 },
    latency: z,
    chat: { sent: 0, received: 0, inWindow: 0, perSec: 0, latency: z },
    cpu: {},
    machineBusyPct: undefined,
    memory: { rssBeforeMiB: 0, rssIdleMiB: 0, rssEndMiB: 0, perConnKiB: 0, marginalPerConnKiB: 0 },
    integrity: { gaps: 0, duplicates: 0, missingAtEnd: 0, missingClosed: 0, closeReasons: {} },
    otherFrames: {},
    timeline: [],
    errors: [error],
    histogram: '',
    notes: [],
  }
}

export async function runFanout(o: FanoutOptions): Promise<{ options: FanoutOptions; results: TargetResult[] }> {
  quiet = o.quiet
  const runId = `f${Date.now().toString(36)}`
  const matchId = `bench-${runId}`
  const results: TargetResult[] = []
  let redis: RedisServer | undefined
  let nats: NatsServer | undefined
  try {
    redis = await startRedis()
    const redisPort = redis.port
    const redisPids = findPids((c) => c.includes('redis-server') && c.includes(`:${redisPort}`))
    let natsPids: number[] = []
    if (o.targets.some(isTouchline)) {
      nats = await startNats()
      const dir = nats.storeDir.replace(/\/js$/, '')
      natsPids = findPids((c) => c.includes('nats-server') && c.includes(`${dir}/nats.conf`))
    }
    for (const name of o.targets) {
      if (o.waitQuiet > 0) {
        const busy = await waitQuiet(30, o.waitQuiet, (b) => log(`waiting for the machine to be quiet (busy ${b.toFixed(0)} % of a core)`))
        if (busy >= 30) log(`machine still busy (${busy.toFixed(0)} %) after ${o.waitQuiet} s: measuring anyway`)
      }
      log(`== ${name}: starting (${o.gateways} gateway process(es)${o.viaNginx ? ', via nginx' : ''})`)
      let target: RunningTarget
      const serverEnv: Record<string, string> = {}
      if (o.cpuProf) serverEnv.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${o.cpuProf}/${name}`
      try {
        target = await startTarget(name, {
          gateways: o.gateways,
          viaNginx: o.viaNginx,
          redisUrl: redis.url,
          ...(nats ? { natsUrl: nats.url } : {}),
          matchId,
          runId: `${runId}${name.replace(/[^a-z]/g, '')}`,
          serverEnv,
          gatewayEnv: o.gatewayEnv,
          connections: o.connections,
        })
      } catch (err) {
        log(`${name}: could not start: ${(err as Error).message}`)
        results.push(emptyResult(name, `could not start: ${(err as Error).message.slice(0, 2000)}`, o))
        continue
      }
      try {
        results.push(await measure(target, o, { natsPids, redisPids }))
      } catch (err) {
        log(`${name}: failed: ${(err as Error).message}\n${target.output().slice(-3000)}`)
        results.push(emptyResult(name, `failed: ${(err as Error).message}`, o))
      } finally {
        await target.stop()
      }
      await sleep((o.settle * 1000) / 2)
    }
  } finally {
    await nats?.stop()
    await redis?.stop()
  }
  return { options: o, results }
}

// ---- tables -------------------------------------------------------------------------------

/** What touchline is divided by in the ratio columns, when the run has it. */
const COMPARED: TargetName[] = ['touchline-nocoalesce', 'ws-send', 'ws-prebuilt', 'socketio']

type Row = { label: string; get: (r: TargetResult, o: FanoutOptions) => number | string | undefined; better?: 'higher' | 'lower' }

const counter = (r: TargetResult, which: 'window' | 'run', name: string): number | undefined =>
  r.gatewayCounters?.[which][`touchline_gateway_${name}`]

const ROWS: Row[] = [
  { label: 'server processes', get: (r) => r.serverProcesses },
  { label: 'connections open / requested', get: (r) => `${r.connections.open} / ${r.connections.requested}` },
  { label: 'connect failures', get: (r) => r.connections.failed },
  { label: 'time to establish all (s)', get: (r) => r.connections.establishSec, better: 'lower' },
  { label: 'connections established /s', get: (r) => r.connections.perSec, better: 'higher' },
  { label: 'server CPU µs per connection established', get: (r) => r.connections.serverCpuUsPerConn, better: 'lower' },
  { label: 'load-generator CPU µs per connection', get: (r) => r.connections.loadgenCpuUsPerConn, better: 'lower' },
  { label: 'events accepted (posted)', get: (r) => `${r.events.accepted} (${r.events.posted})` },
  { label: 'events offered /s', get: (r) => r.events.offeredPerSec },
  { label: 'delivered msgs/s', get: (r) => r.delivered.perSec, better: 'higher' },
  { label: 'delivered / expected in window', get: (r) => r.delivered.ratio },
  { label: 'latency p50 (ms)', get: (r) => r.latency.p50, better: 'lower' },
  { label: 'latency p99 (ms)', get: (r) => r.latency.p99, better: 'lower' },
  { label: 'latency p99.9 (ms)', get: (r) => r.latency.p999, better: 'lower' },
  { label: 'latency max (ms)', get: (r) => r.latency.max, better: 'lower' },
  { label: 'chat sent / received', get: (r) => (r.chat.sent ? `${r.chat.sent} / ${r.chat.received}` : undefined) },
  { label: 'chat delivered msgs/s (received in window)', get: (r) => (r.chat.sent ? r.chat.perSec : undefined), better: 'higher' },
  { label: 'chat latency p50 (ms)', get: (r) => (r.chat.sent ? r.chat.latency.p50 : undefined), better: 'lower' },
  { label: 'chat latency p99 (ms)', get: (r) => (r.chat.sent ? r.chat.latency.p99 : undefined), better: 'lower' },
  {
    label: 'gateway socket writes /s',
    get: (r, o) => {
      const w = counter(r, 'window', 'socket_writes_total')
      return w === undefined ? undefined : w / o.duration
    },
    better: 'lower',
  },
  {
    label: 'gateway frames per socket write',
    get: (r) => {
      const w = counter(r, 'window', 'socket_writes_total')
      const f = counter(r, 'window', 'frames_sent_total')
      return w && f !== undefined ? f / w : undefined
    },
    better: 'higher',
  },
  { label: 'gateway chat accepted (run)', get: (r) => (r.chat.sent ? counter(r, 'run', 'chat_accepted_total') : undefined) },
  { label: 'gateway chat refused (run)', get: (r) => (r.chat.sent ? counter(r, 'run', 'chat_refused_total') : undefined) },
  { label: 'gateway chat + online frames shed (run)', get: (r) => counter(r, 'run', 'chat_shed_total') },
  { label: 'server CPU % (sum)', get: (r) => r.cpu.gateway, better: 'lower' },
  {
    label: 'server CPU µs per delivered msg',
    get: (r) => (r.cpu.gateway !== undefined && r.delivered.perSec > 0 ? (r.cpu.gateway * 10_000) / r.delivered.perSec : undefined),
    better: 'lower',
  },
  { label: 'ingest CPU %', get: (r) => r.cpu.ingest },
  { label: 'nginx CPU %', get: (r) => r.cpu.nginx },
  { label: 'NATS CPU %', get: (r) => r.cpu.nats },
  { label: 'Redis CPU %', get: (r) => r.cpu.redis },
  { label: 'load generators CPU %', get: (r) => r.cpu.loadgen },
  { label: 'machine busy % (of 100×cores)', get: (r) => r.machineBusyPct },
  {
    label: '… user / system / softirq / steal %',
    get: (r) =>
      r.machine
        ? `${r.machine.userPct.toFixed(0)} / ${r.machine.systemPct.toFixed(0)} / ${r.machine.softirqPct.toFixed(0)} / ${r.machine.stealPct.toFixed(0)}`
        : undefined,
  },
  { label: 'other processes CPU % (noise)', get: (r) => r.othersPct },
  { label: 'server RSS idle (MiB)', get: (r) => r.memory.rssIdleMiB },
  { label: 'memory per idle connection (KiB)', get: (r) => r.memory.perConnKiB, better: 'lower' },
  { label: '… of the second half only (KiB)', get: (r) => r.memory.marginalPerConnKiB, better: 'lower' },
  { label: 'server RSS at end (MiB)', get: (r) => r.memory.rssEndMiB },
  { label: 'bytes per message', get: (r) => r.delivered.bytesPerMessage || undefined },
  { label: 'gaps (missing seqs)', get: (r) => r.integrity.gaps },
  { label: 'missing at end (open conns)', get: (r) => r.integrity.missingAtEnd },
  { label: 'duplicates / out of order', get: (r) => r.integrity.duplicates },
  { label: 'closed by server', get: (r) => r.connections.closed },
  {
    label: 'other frames received',
    get: (r) =>
      Object.entries(r.otherFrames)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || undefined,
  },
]

export function fanoutTables(o: FanoutOptions, results: TargetResult[]): BenchTable[] {
  const present = results.map((r) => r.target)
  const tl = results.find((r) => r.target === 'touchline' && !r.error)
  const ratioTo = COMPARED.filter((b) => present.includes(b) && tl && results.find((r) => r.target === b && !r.error))
  const columns = ['', ...results.map((r) => r.target), ...ratioTo.map((b) => `touchline ÷ ${b}`)]
  const rows = ROWS.map((row) => {
    const vals = results.map((r) => (r.error ? (row === ROWS[0] ? 'failed' : undefined) : row.get(r, o)))
    const ratios = ratioTo.map((b) => {
      const base = results.find((r) => r.target === b)
      if (!tl || !base || !row.better) return ''
      const a = row.get(tl, o)
      const c = row.get(base, o)
      return typeof a === 'number' && typeof c === 'number' && c !== 0 ? `${(a / c).toFixed(2)}×` : ''
    })
    return [row.label, ...vals, ...ratios]
  }).filter((r) => r.slice(1).some((v) => v !== undefined && v !== ''))
  const mode = o.saturate ? `saturation (closed loop, window ${o.window} events)` : `${o.rate} events/s`
  return [
    {
      title: `fan-out: ${o.connections.toLocaleString('en-US')} connections, ${o.gateways} gateway(s)${o.viaNginx ? ' via nginx' : ''}, ${mode}, ${o.duration} s (+${o.warmup} s warm-up), ~${o.payload}-byte events${o.chat ? `, chat ${o.chat}/s` : ''}`,
      columns,
      rows,
    },
  ]
}

export async function main(argv: string[]): Promise<BenchResult> {
  const o = parseFanoutArgs(argv)
  const { results } = await runFanout(o)
  const notes: string[] = []
  for (const r of results) {
    notes.push(`${r.target}: ${r.describe || 'not started'}${r.error ? ` — ERROR: ${r.error.split('\n')[0]}` : ''}`)
    for (const n of r.notes) notes.push(`${r.target}: ${n}`)
    if (!r.error && r.errors.length) notes.push(`${r.target}: first errors: ${r.errors.slice(0, 3).join(' | ')}`)
    if (Object.keys(r.integrity.closeReasons).length) notes.push(`${r.target}: close reasons ${JSON.stringify(r.integrity.closeReasons)}`)
    if (r.others?.length)
      notes.push(
        `${r.target}: busy outside the run during the window: ${r.others.map((x) => `${x.cmd.split(' ').slice(0, 3).join(' ')} ${x.pct}%`).join(', ')}`,
      )
  }
  return {
    scenario: 'fanout',
    params: {
      ...o,
      targets: o.targets,
      gatewayEnv:
        Object.entries(o.gatewayEnv)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ') || undefined,
    },
    tables: fanoutTables(o, results),
    notes,
    data: { results },
  }
}

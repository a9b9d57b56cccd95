/**
 * An open-loop HTTP/1.1 load generator: requests are scheduled at a fixed rate, whatever the
 * server does, and each request's latency is counted from its *scheduled* time. When the server
 * (or this client) falls behind, the requests wait and the wait shows up as latency: no
 * coordinated omission (a closed loop such as autocannon only sends the next request when the
 * previous one answered, so a stall delays the sending and hides most of its cost).
 *
 * Raw keep-alive sockets with hand-built requests and a minimal response parser (status line,
 * content-length): the bench shares the machine's cores with the server, so the client is kept
 * cheap. A request goes to an idle connection; when all are busy it queues in the client (its
 * clock is already running). Latencies go into an HdrHistogram in microseconds.
 */
import net from 'node:net'
import { type Histogram, newHistogram } from './histogram.ts'

export interface OpenLoopRequest {
  /** The whole request (head and body) as bytes. */
  bytes: Buffer
}

export interface OpenLoopOptions {
  host: string
  port: number
  /** Requests per second, scheduled evenly. */
  rate: number
  /** Seconds of unmeasured load first. */
  warmupSec: number
  /** Seconds whose scheduled requests are measured. */
  durationSec: number
  /** Keep-alive connections (the most requests in flight). */
  connections: number
  /** A request without an answer after this long counts as a timeout (its socket is replaced). */
  timeoutMs: number
  /** The n-th request (0-based, warmup included). */
  request: (n: number) => OpenLoopRequest
}

export interface OpenLoopResult {
  histogram: Histogram
  /** Requests scheduled inside the measuring window. */
  scheduled: number
  /** Answers by status code (measured requests only). */
  statuses: Record<string, number>
  /** Socket errors and timeouts (measured requests only). */
  errors: number
  timeouts: number
  /** From the window's start to the last measured answer, seconds (≥ durationSec when the server fell behind). */
  elapsedSec: number
  /** 201s over the whole run (warmup included), and requests of the whole run without an answer. */
  created201All: number
  unansweredAll: number
  /** Worst latency (ms) of the measured requests due in each 500 ms of the window: where stalls were. */
  worstByHalfSecond: number[]
  /** Most requests waiting in the client for a free connection at once. */
  maxQueued: number
  /** How late the scheduler ran at worst (timer and event-loop lag of this process), ms. */
  maxScheduleLagMs: number
}

interface Pending {
  n: number
  /** performance.now() at which the request was due */
  due: number
  measured: boolean
  bytes: Buffer
}

class Conn {
  readonly socket: net.Socket
  current: Pending | undefined
  sentAt = 0
  private buf: Buffer = Buffer.alloc(0)
  closed = false

  private readonly onAnswer: (c: Conn, p: Pending, status: number) => void
  private readonly onFail: (c: Conn, p: Pending | undefined, err: Error) => void

  constructor(
    host: string,
    port: number,
    onAnswer: (c: Conn, p: Pending, status: number) => void,
    onFail: (c: Conn, p: Pending | undefined, err: Error) => void,
  ) {
    this.onAnswer = onAnswer
    this.onFail = onFail
    this.socket = net.connect({ host, port, noDelay: true })
    this.socket.on('data', (d: Buffer) => this.data(d))
    this.socket.on('error', (err) => this.fail(err))
    this.socket.on('close', () => this.fail(new Error('connection closed')))
  }

  send(p: Pending): void {
    this.current = p
    this.sentAt = performance.now()
    this.socket.write(p.bytes)
  }

  fail(err: Error): void {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
    const p = this.current
    this.current = undefined
    this.onFail(this, p, err)
  }

  private data(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n')
      if (end < 0) return
      const head = this.buf.toString('latin1', 0, end)
      const status = Number(head.slice(9, 12))
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head)
      if (!m) {
        // Every answer of the API has a length; anything else is a protocol error here.
        this.fail(new Error(`answer without content-length: ${head.split('\r\n', 1)[0]}`))
        return
      }
      const total = end + 4 + Number(m[1])
      if (this.buf.length < total) return
      this.buf = this.buf.subarray(total)
      const p = this.current
      this.current = undefined
      if (p) this.onAnswer(this, p, status)
    }
  }
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const histogram = newHistogram()
  const statuses: Record<string, number> = {}
  let errors = 0
  let timeouts = 0
  let scheduled = 0
  let maxQueued = 0
  let maxLag = 0
  let lastAnswer = 0
  let created201All = 0
  let unansweredAll = 0
  const idle: Conn[] = []
  const all = new Set<Conn>()
  const queue: Pending[] = []
  let qHead = 0
  let outstanding = 0
  let stopped = false

  const intervalMs = 1000 / o.rate
  const total = Math.round(o.rate * (o.warmupSec + o.durationSec))
  const firstMeasured = Math.round(o.rate * o.warmupSec)
  const start = performance.now() + 50
  const windowStart = start + firstMeasured * intervalMs

  const finish = (p: Pending) => {
    outstanding--
    if (p.measured) lastAnswer = Math.max(lastAnswer, performance.now())
  }
  const dispatch = () => {
    while (qHead < queue.length && idle.length > 0) {
      const c = idle.pop() as Conn
      const p = queue[qHead++] as Pending
      c.send(p)
    }
    if (qHead > 4096 && qHead * 2 > queue.length) {
      queue.splice(0, qHead)
      qHead = 0
    }
  }
  const worst: number[] = []
  const onAnswer = (c: Conn, p: Pending, status: number) => {
    if (status === 201) created201All++
    if (p.measured) {
      const ms = performance.now() - p.due
      const b = Math.floor((p.due - windowStart) / 500)
      worst[b] = Math.max(worst[b] ?? 0, Math.round(ms))
      histogram.recordValue(Math.max(1, Math.round(ms * 1000)))
      statuses[status] = (statuses[status] ?? 0) + 1
    }
    finish(p)
    idle.push(c)
    dispatch()
  }
  const onFail = (c: Conn, p: Pending | undefined, err: Error) => {
    all.delete(c)
    const i = idle.indexOf(c)
    if (i >= 0) idle.splice(i, 1)
    if (p) {
      unansweredAll++
      if (p.measured) {
        if (err.message === 'timeout') timeouts++
        else errors++
      }
      finish(p)
    }
    if (!stopped) open()
  }
  const open = () => {
    const c = new Conn(o.host, o.port, onAnswer, onFail)
    all.add(c)
    c.socket.once('connect', () => {
      if (c.closed) return
      idle.push(c)
      dispatch()
    })
  }
  for (let i = 0; i < o.connections; i++) open()

  let n = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      while (n < total) {
        const due = start + n * intervalMs
        if (due > now) break
        maxLag = Math.max(maxLag, now - due)
        const measured = n >= firstMeasured
        if (measured) scheduled++
        queue.push({ n, due, measured, bytes: o.request(n).bytes })
        outstanding++
        n++
      }
      dispatch()
      maxQueued = Math.max(maxQueued, queue.length - qHead)
      // Timeouts: a request in flight for too long loses its socket (and is counted).
      for (const c of all) if (c.current && now - c.sentAt > o.timeoutMs) c.fail(new Error('timeout'))
      if (n >= total) {
        resolve()
        return
      }
      setTimeout(tick, Math.max(0, Math.min(1, start + n * intervalMs - performance.now())))
    }
    setTimeout(tick, Math.max(0, start - performance.now()))
  })
  // Let every request scheduled in the window answer (or time out).
  await new Promise<void>((resolve) => {
    const check = () => {
      const now = performance.now()
      for (const c of all) if (c.current && now - c.sentAt > o.timeoutMs) c.fail(new Error('timeout'))
      // Requests still queued in the client after the timeout never got a connection.
      if (outstanding === 0 || (qHead < queue.length && now - (queue[qHead] as Pending).due > o.timeoutMs * 2)) resolve()
      else setTimeout(check, 5)
    }
    check()
  })
  stopped = true
  for (const c of all) {
    c.closed = true
    c.socket.destroy()
  }
  for (let i = qHead; i < queue.length; i++) {
    unansweredAll++
    if ((queue[i] as Pending).measured) timeouts++
  }
  return {
    histogram,
    scheduled,
    statuses,
    errors,
    timeouts,
    elapsedSec: Math.max(o.durationSec, (lastAnswer - windowStart) / 1000),
    created201All,
    unansweredAll,
    worstByHalfSecond: Array.from(worst, (v) => v ?? 0),
    maxQueued: Math.max(0, maxQueued),
    maxScheduleLagMs: Math.round(maxLag * 100) / 100,
  }
}

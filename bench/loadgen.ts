/**
 * One load-generator process: opens spectator connections, checks every connection's event
 * sequence, and measures fan-out latency into an HDR histogram. Forked by bench/fanout.ts (IPC);
 * a run uses at least two of these so that sockets (and file descriptors) are spread over processes.
 *
 * Protocol with the driver (process.send / 'message'):
 *   driver → { t: 'init', cfg }             → { t: 'ready' }
 *   driver → { t: 'connect', upTo }         → { t: 'connected', … }  once connections [0, upTo) are subscribed or failed
 *   driver → { t: 'window', baseUs, startUs, endUs }  events SCHEDULED inside [startUs, endUs) go into
 *                                           the histogram; receive counters start at baseUs
 *   driver → { t: 'final', lastSeq }       → { t: 'report', … }
 *   driver → { t: 'stop' }                  closes everything and exits
 *   loadgen → { t: 'progress', completed } whenever more events have reached all of its open
 *                                           connections (the driver's closed loop in --saturate)
 */
import { io as ioClient, type Socket as IoSocket } from 'socket.io-client'
import { WebSocket } from 'ws'
import { SOCKETIO_PATH } from './baselines/shared.ts'
import { encodeHistogram, newHistogram } from './lib/histogram.ts'
import { nowUs, scanFrame } from './lib/wire.ts'

export interface LoadgenConfig {
  id: number
  /** `ws`: plain WebSocket (touchline and the ws baselines); `socketio`: socket.io-client */
  kind: 'ws' | 'socketio'
  /** ws: full URLs (with ?match=); socketio: http base URLs. Connections go round-robin. */
  urls: string[]
  matchId: string
  count: number
  /** handshakes in flight at once */
  concurrency: number
  /** the match's seq before the first bench event */
  startSeq: number
  /** width of the receive counters (origin: the `window` message's baseUs) */
  bucketMs: number
  connectTimeoutMs: number
}

export interface LoadgenConnected {
  t: 'connected'
  id: number
  open: number
  failed: number
  /** monotonic µs of the first connect attempt and of the last subscription */
  firstUs: number
  lastUs: number
  errors: string[]
}

export interface LoadgenReport {
  t: 'report'
  id: number
  pid: number
  requested: number
  open: number
  failed: number
  /** connections the server closed (or that broke) after subscribing */
  closed: number
  closeReasons: Record<string, number>
  events: number
  /** events inside the measuring window (by scheduled time) */
  windowEvents: number
  gaps: number
  duplicates: number
  /** events a still-open connection had not received when the driver asked for the report */
  missingAtEnd: number
  /** same, for connections that were closed */
  missingClosed: number
  chat: number
  /** chat frames received inside the measuring window (by receive time) */
  chatInWindow: number
  bytes: number
  other: Record<string, number>
  latency: string
  chatLatency: string
  /** messages (events + chat) received per bucket of `bucketMs`, by receive time */
  buckets: number[]
  errors: string[]
}

type FromDriver =
  | { t: 'init'; cfg: LoadgenConfig }
  | { t: 'connect'; upTo: number }
  | { t: 'window'; baseUs: number; startUs: number; endUs: number }
  | { t: 'final'; lastSeq: number }
  | { t: 'stop' }

const send = (m: unknown) => process.send?.(m)

let cfg: LoadgenConfig
let lastSeq: Float64Array
/** 0 connecting, 1 subscribed, 2 closed after subscribing, 3 failed */
let state: Uint8Array
const sockets: Array<WebSocket | IoSocket | undefined> = []
let live = 0
let open = 0
let failed = 0
let closed = 0
let firstUs = 0
let lastUs = 0
const closeReasons: Record<string, number> = {}
const errors: string[] = []
const other: Record<string, number> = {}
let events = 0
let windowEvents = 0
let gaps = 0
let duplicates = 0
let chat = 0
let chatInWindow = 0
let bytes = 0
let windowStart = Number.POSITIVE_INFINITY
let windowEnd = Number.POSITIVE_INFINITY
let baseUs = Number.POSITIVE_INFINITY
const latency = newHistogram()
const chatLatency = newHistogram()
const buckets: number[] = []
/** seq → connections that have it (or skipped it), until all open connections have it */
const pending = new Map<number, number>()
let completed = 0
let progressQueued = false
let connectDone: (() => void) | undefined

function note(err: string): void {
  if (errors.length < 20) errors.push(err.slice(0, 300))
}

function queueProgress(): void {
  if (progressQueued) return
  progressQueued = true
  setImmediate(() => {
    progressQueued = false
    send({ t: 'progress', completed })
  })
}

function credit(seq: number): void {
  const n = (pending.get(seq) ?? 0) + 1
  if (n >= live) {
    pending.delete(seq)
    completed++
    queueProgress()
  } else pending.set(seq, n)
}

/** After a connection closes fewer are needed: complete what now is. */
function recheck(): void {
  for (const [seq, n] of pending) {
    if (n >= live) {
      pending.delete(seq)
      completed++
    }
  }
  queueProgress()
}

function countBucket(now: number): void {
  const i = Math.floor((now - baseUs) / (cfg.bucketMs * 1000))
  if (i < 0) return
  while (buckets.length <= i) buckets.push(0)
  buckets[i] = (buckets[i] ?? 0) + 1
}

function onEvent(c: number, seq: number, t: number, now: number): void {
  const last = lastSeq[c] as number
  if (seq <= last) {
    duplicates++
    return
  }
  if (state[c] !== 1) return
  for (let k = last + 1; k < seq; k++) {
    gaps++
    credit(k)
  }
  lastSeq[c] = seq
  credit(seq)
  events++
  countBucket(now)
  if (t > 0 && t >= windowStart && t < windowEnd) {
    windowEvents++
    latency.recordValue(Math.max(1, now - t))
  }
}

function onChat(t: number, now: number): void {
  chat++
  if (now >= windowStart && now < windowEnd) chatInWindow++
  countBucket(now)
  if (t > 0 && t >= windowStart && t < windowEnd) chatLatency.recordValue(Math.max(1, now - t))
}

function onOther(c: number, frame: { type?: string; seq?: number; code?: string; message?: string } | undefined): void {
  const type = frame?.type ?? 'unparsed'
  other[type] = (other[type] ?? 0) + 1
  if (type === 'error') note(`server error frame: ${frame?.code} ${frame?.message}`)
  if ((type === 'snapshot' || type === 'subscribed') && typeof frame?.seq === 'number') {
    if (frame.seq > (lastSeq[c] as number)) lastSeq[c] = frame.seq
    if (type === 'subscribed') subscribed(c)
  }
}

let inflight = 0
let nextConn = 0
let upTo = 0

function subscribed(c: number): void {
  if (state[c] !== 0) return
  state[c] = 1
  live++
  open++
  inflight--
  lastUs = nowUs()
  pump()
}

function failedConn(c: number, why: string): void {
  if (state[c] === 0) {
    state[c] = 3
    failed++
    inflight--
    note(`connect ${c}: ${why}`)
    pump()
  } else if (state[c] === 1) {
    state[c] = 2
    live--
    closed++
    closeReasons[why] = (closeReasons[why] ?? 0) + 1
    recheck()
  }
}

function pump(): void {
  while (inflight < cfg.concurrency && nextConn < upTo) {
    const c = nextConn++
    inflight++
    if (cfg.kind === 'ws') openWs(c)
    else openIo(c)
  }
  if (open + failed >= upTo && connectDone) {
    const done = connectDone
    connectDone = undefined
    done()
  }
}

function openWs(c: number): void {
  const url = cfg.urls[c % cfg.urls.length] as string
  const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: cfg.connectTimeoutMs })
  sockets[c] = ws
  const timer = setTimeout(() => {
    if (state[c] === 0) {
      failedConn(c, 'timeout waiting for subscribed')
      ws.terminate()
    }
  }, cfg.connectTimeoutMs)
  ws.on('message', (data: Buffer) => {
    const now = nowUs()
    bytes += data.length
    const f = scanFrame(data)
    if (f.type === 'event') onEvent(c, f.seq, f.t, now)
    else if (f.type === 'chat') onChat(f.t, now)
    else {
      onOther(c, f.frame as { type?: string; seq?: number })
      if (state[c] === 1) clearTimeout(timer)
    }
  })
  ws.on('error', (err) => {
    if (state[c] === 0) {
      clearTimeout(timer)
      failedConn(c, err.message)
    }
  })
  ws.on('close', (code, reason) => {
    clearTimeout(timer)
    failedConn(c, `close ${code}${reason.length ? ` ${reason.toString().slice(0, 60)}` : ''}`)
  })
}

function openIo(c: number): void {
  const url = cfg.urls[c % cfg.urls.length] as string
  const s = ioClient(url, {
    transports: ['websocket'],
    path: SOCKETIO_PATH,
    addTrailingSlash: false,
    query: { match: cfg.matchId },
    forceNew: true,
    reconnection: false,
    timeout: cfg.connectTimeoutMs,
  })
  sockets[c] = s
  s.on('event', (frame: { seq?: number; data?: { bench_t?: number } }) => {
    onEvent(c, Number(frame?.seq), Number(frame?.data?.bench_t ?? -1), nowUs())
  })
  s.on('chat', (frame: { text?: string }) => {
    const m = /~bt~(\d+)~/.exec(String(frame?.text ?? ''))
    onChat(m ? Number(m[1]) : -1, nowUs())
  })
  s.on('subscribed', (frame: { type?: string; seq?: number }) => onOther(c, { ...frame, type: 'subscribed' }))
  s.on('connect_error', (err: Error) => failedConn(c, `connect_error ${err.message}`))
  s.on('disconnect', (reason: string) => {
    if (reason !== 'io client disconnect') failedConn(c, `disconnect ${reason}`)
  })
}

function report(finalSeq: number): LoadgenReport {
  let missingAtEnd = 0
  let missingClosed = 0
  for (let c = 0; c < cfg.count; c++) {
    const behind = Math.max(0, finalSeq - (lastSeq[c] as number))
    if (state[c] === 1) missingAtEnd += behind
    else if (state[c] === 2) missingClosed += behind
  }
  return {
    t: 'report',
    id: cfg.id,
    pid: process.pid,
    requested: cfg.count,
    open: live,
    failed,
    closed,
    closeReasons,
    events,
    windowEvents,
    gaps,
    duplicates,
    missingAtEnd,
    missingClosed,
    chat,
    chatInWindow,
    bytes,
    other,
    latency: encodeHistogram(latency),
    chatLatency: encodeHistogram(chatLatency),
    buckets,
    errors,
  }
}

function stop(): void {
  for (const s of sockets) {
    if (!s) continue
    if (s instanceof WebSocket) s.terminate()
    else s.disconnect()
  }
  setTimeout(() => process.exit(0), 200).unref()
  process.disconnect?.()
}

process.on('message', (m: FromDriver) => {
  switch (m.t) {
    case 'init':
      cfg = m.cfg
      lastSeq = new Float64Array(cfg.count).fill(cfg.startSeq)
      state = new Uint8Array(cfg.count)
      send({ t: 'ready' })
      break
    case 'connect': {
      upTo = Math.min(cfg.count, m.upTo)
      firstUs = nowUs()
      lastUs = firstUs
      const done = new Promise<void>((resolve) => {
        connectDone = resolve
      })
      pump()
      void done.then(() => {
        const msg: LoadgenConnected = { t: 'connected', id: cfg.id, open, failed, firstUs, lastUs, errors: errors.slice() }
        send(msg)
      })
      break
    }
    case 'window':
      baseUs = m.baseUs
      windowStart = m.startUs
      windowEnd = m.endUs
      break
    case 'final':
      send(report(m.lastSeq))
      break
    case 'stop':
      stop()
      break
  }
})
process.on('disconnect', () => {
  for (const s of sockets) {
    if (s instanceof WebSocket) s.terminate()
    else s?.disconnect()
  }
  process.exit(0)
})

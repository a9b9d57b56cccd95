/**
 * A spectator that behaves like the web page: connects to /ws through the public URL, subscribes
 * to one match, and whenever its socket closes (1012 drain, a crashed gateway, anything) it
 * reconnects after a short random delay and resumes with `since`. It records what it saw so a
 * check can prove "no gap, no duplicate": used by the runner's `check` and by the end-to-end tests.
 */
import WebSocket from 'ws'

export interface SpectatorOptions {
  /** ws://host:port (the /ws path is added). */
  url: string
  matchId: string
  /** Bind the client socket to this local address (ip_hash tests use several loopback addresses). */
  localAddress?: string
  /** Random reconnect delay range in ms (default 50–300). */
  reconnectDelayMs?: [number, number]
}

export interface SpectatorRecord {
  /** Event seqs in the order received (live and replayed). */
  seqs: number[]
  /** The node of every connection, in order. */
  nodes: string[]
  /** Close codes received, in order. */
  closes: number[]
  /** A lost event (gap), a reset snapshot, a snapshot on resume, an error frame. */
  anomalies: string[]
  /** Events received twice (a client can drop them by seq; the contract says exactly once). */
  duplicates: string[]
  /** Failed connection attempts (HTTP status or error message). */
  failedAttempts: string[]
}

export class Spectator {
  readonly options: SpectatorOptions
  readonly record: SpectatorRecord = { seqs: [], nodes: [], closes: [], anomalies: [], duplicates: [], failedAttempts: [] }
  /** Last event seq seen (or the snapshot's seq). */
  last = -1
  private ws: WebSocket | undefined
  private stopped = false
  private subscribedWaiters: Array<() => void> = []
  /** The `since` of the current connection, and the frame types it received (for anomaly reports). */
  private since = -1
  private frames: string[] = []
  private subscribedCount = 0

  constructor(options: SpectatorOptions) {
    this.options = options
  }

  get node(): string | undefined {
    return this.record.nodes.at(-1)
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN
  }

  /** Connect and resolve once the subscription is live. */
  async start(): Promise<void> {
    const first = this.nextSubscribed()
    this.connect()
    await first
  }

  /** Resolves at the next `subscribed` frame (after a reconnect, for instance). */
  nextSubscribed(): Promise<void> {
    return new Promise((r) => this.subscribedWaiters.push(r))
  }

  get subscriptions(): number {
    return this.subscribedCount
  }

  async stop(): Promise<void> {
    this.stopped = true
    const ws = this.ws
    if (!ws || ws.readyState === WebSocket.CLOSED) return
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve())
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate()
      else ws.close(1000)
      setTimeout(() => {
        ws.terminate()
        resolve()
      }, 2000).unref()
    })
  }

  private connect(): void {
    if (this.stopped) return
    const q = new URLSearchParams({ match: this.options.matchId })
    if (this.last >= 0) q.set('since', String(this.last))
    this.since = this.last
    this.frames = []
    const ws = new WebSocket(`${this.options.url}/ws?${q}`, { localAddress: this.options.localAddress, perMessageDeflate: false })
    this.ws = ws
    let opened = false
    ws.on('unexpected-response', (_req, res) => {
      this.record.failedAttempts.push(`HTTP ${res.statusCode}`)
      res.resume()
      ws.terminate()
    })
    ws.on('error', (err) => {
      if (!opened) this.record.failedAttempts.push(err.message)
    })
    ws.on('open', () => {
      opened = true
    })
    ws.on('message', (data) => this.onFrame(String(data)))
    ws.on('close', (code) => {
      if (opened) this.record.closes.push(code)
      if (this.ws !== ws || this.stopped) return
      const [min, max] = this.options.reconnectDelayMs ?? [50, 300]
      setTimeout(() => this.connect(), min + Math.random() * (max - min))
    })
  }

  private onFrame(text: string): void {
    let f: { type: string; [k: string]: unknown }
    try {
      f = JSON.parse(text)
    } catch {
      this.record.anomalies.push(`not JSON: ${text.slice(0, 80)}`)
      return
    }
    this.frames.push(f.type === 'event' ? String(f.seq) : f.type)
    if (this.frames.length > 40) this.frames.splice(0, 20)
    switch (f.type) {
      case 'welcome':
        this.record.nodes.push(String(f.node))
        break
      case 'snapshot': {
        if (f.reset === true) this.record.anomalies.push(`reset snapshot at seq ${String(f.seq)} (last seen ${this.last})`)
        if (this.last >= 0 && f.reset !== true) this.record.anomalies.push(`snapshot on resume (last seen ${this.last})`)
        // Events in the snapshot are history: take the snapshot's seq as the starting point.
        this.last = Number(f.seq)
        break
      }
      case 'event': {
        const seq = Number(f.seq)
        if (f.matchId !== this.options.matchId) break
        this.record.seqs.push(seq)
        if (this.last >= 0 && seq !== this.last + 1) {
          const where = `on connection ${this.record.nodes.length} (since=${this.since}; frames: ${this.frames.slice(-12).join(' ')})`
          if (seq <= this.last) this.record.duplicates.push(`seq ${seq} again ${where}`)
          else this.record.anomalies.push(`gap ${this.last} -> ${seq} ${where}`)
        }
        if (seq > this.last) this.last = seq
        break
      }
      case 'subscribed': {
        this.subscribedCount++
        if (this.last < 0) this.last = Number(f.seq)
        const waiters = this.subscribedWaiters
        this.subscribedWaiters = []
        for (const w of waiters) w()
        break
      }
      case 'error':
        this.record.anomalies.push(`error frame: ${String(f.code)} ${String(f.message)}`)
        break
      default:
        break
    }
  }
}

/** Open one WebSocket to /ws and resolve with the node named in its welcome frame. */
export function welcomeNode(
  url: string,
  options: { query?: Record<string, string>; localAddress?: string; keepOpen?: boolean } = {},
): Promise<{ node: string; ws: WebSocket }> {
  const q = new URLSearchParams(options.query ?? {})
  const ws = new WebSocket(`${url}/ws${q.size > 0 ? `?${q}` : ''}`, { localAddress: options.localAddress, perMessageDeflate: false })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate()
      reject(new Error('no welcome frame within 5 s'))
    }, 5000)
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as { type: string; node?: string }
      if (f.type !== 'welcome') return
      clearTimeout(timer)
      if (options.keepOpen) {
        resolve({ node: String(f.node), ws })
        return
      }
      // Resolve once closed: by then nginx has finished the request and counted it (its passive
      // health state and least_conn counters change only when a proxied connection ends).
      ws.once('close', () => resolve({ node: String(f.node), ws }))
      ws.close(1000)
    })
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer)
      res.resume()
      ws.terminate()
      reject(new Error(`HTTP ${res.statusCode}`))
    })
    ws.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })
}

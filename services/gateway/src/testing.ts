/**
 * Test helpers for the gateway's own tests (unit, integration and e2e): a recording fake socket
 * and a small WebSocket client that keeps every frame it received.
 */
import WebSocket from 'ws'

/** A socket that records what is sent; `bufferedAmount` is set by the test. */
export class FakeSocket {
  bufferedAmount = 0
  readyState = 1
  sent: Buffer[] = []
  options: Array<{ binary: boolean }> = []
  closedWith: { code?: number; reason?: string } | undefined
  terminated = false

  send(data: Buffer, options: { binary: boolean }): void {
    this.sent.push(data)
    this.options.push(options)
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason }
    this.readyState = 2
  }

  terminate(): void {
    this.terminated = true
    this.readyState = 3
  }

  frames<T = Record<string, unknown>>(): T[] {
    return this.sent.map((b) => JSON.parse(b.toString('utf8')) as T)
  }
}

// biome-ignore lint/suspicious/noExplicitAny: frames are whatever the server sent
export type Frame = Record<string, any>

export interface ClientOptions {
  /** Do not answer WebSocket pings (to test the heartbeat). */
  noPong?: boolean
  /** Called in the `open` handler, before any await (for same-tick sends). */
  onOpen?: (ws: WebSocket) => void
  /** Keep only this many frames (the e2e suites count events instead of keeping them). */
  keep?: boolean
}

/** A spectator client that records frames and tracks event seqs per match. */
export class TestClient {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  /** seqs per match: a snapshot's events, then every `event` frame in arrival order (duplicates kept). */
  readonly seqs = new Map<string, number[]>()
  readonly opened: Promise<void>
  readonly closed: Promise<{ code: number; reason: string }>
  closeInfo: { code: number; reason: string } | undefined
  #waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void; from: number }> = []
  #keep: boolean

  constructor(url: string, options: ClientOptions = {}) {
    this.#keep = options.keep ?? true
    this.ws = new WebSocket(url, { autoPong: !options.noPong, perMessageDeflate: false })
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => {
        options.onOpen?.(this.ws)
        resolve()
      })
      this.ws.once('error', reject)
    })
    this.opened.catch(() => {})
    this.ws.on('error', () => {})
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() }
        resolve(this.closeInfo)
      })
    })
    this.ws.on('message', (data, isBinary) => {
      if (isBinary) return
      const f = JSON.parse(data.toString()) as Frame
      if (f.type === 'event') {
        let list = this.seqs.get(f.matchId)
        if (!list) {
          list = []
          this.seqs.set(f.matchId, list)
        }
        list.push(f.seq)
      } else if (f.type === 'snapshot') {
        // A snapshot replaces what the client knew of the match (as a real client would).
        this.seqs.set(
          f.matchId,
          (f.events as Frame[]).map((e) => e.seq as number),
        )
      }
      if (this.#keep || f.type !== 'event') this.frames.push(f)
      const idx = this.frames.length - 1
      for (const w of [...this.#waiters]) {
        if (idx >= w.from && w.pred(f)) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1)
          w.resolve(f)
        }
      }
    })
  }

  static async open(url: string, options: ClientOptions = {}): Promise<TestClient> {
    const c = new TestClient(url, options)
    await c.opened
    return c
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The first frame (already received or coming) matching `pred`, searching from index `from`. */
  next(pred: (f: Frame) => boolean, timeoutMs = 5000, from = 0): Promise<Frame> {
    for (let i = from; i < this.frames.length; i++) {
      const f = this.frames[i] as Frame
      if (pred(f)) return Promise.resolve(f)
    }
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (f: Frame) => {
          clearTimeout(t)
          resolve(f)
        },
        from,
      }
      const t = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1)
        reject(
          new Error(`timed out after ${timeoutMs} ms waiting for a frame; last: ${JSON.stringify(this.frames.slice(-3)).slice(0, 600)}`),
        )
      }, timeoutMs)
      this.#waiters.push(w)
    })
  }

  /** Wait for a frame of a type (optionally for a match), from frame index `from`. */
  nextOf(type: string, matchId?: string, timeoutMs = 5000, from = 0): Promise<Frame> {
    return this.next((f) => f.type === type && (matchId === undefined || f.matchId === matchId), timeoutMs, from)
  }

  ofType(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type)
  }

  seqsOf(matchId: string): number[] {
    return this.seqs.get(matchId) ?? []
  }

  /** Resolves when the client has seen event `seq` of `matchId`. */
  async waitSeq(matchId: string, seq: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const list = this.seqs.get(matchId)
      if (list && list.length > 0 && (list[list.length - 1] as number) >= seq) return
      if (this.closeInfo) throw new Error(`closed (${this.closeInfo.code}) before seq ${seq}; last ${list?.[list.length - 1]}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    throw new Error(`timed out waiting for seq ${seq} of ${matchId}; last ${this.seqs.get(matchId)?.slice(-1)[0]}`)
  }

  close(): void {
    try {
      this.ws.close()
    } catch {}
  }
}

/** Each number from `from` to `to` exactly once, in order. */
export function contiguous(from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i <= to; i++) out.push(i)
  return out
}

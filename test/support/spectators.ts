/**
 * WebSocket spectators for end-to-end tests: open N sockets to a gateway (or nginx), collect the
 * frames they receive, and wait for conditions over all of them.
 *
 *   const group = await openSpectators(gateway.url, 100, { match: 'm1' })
 *   await group.waitAll('online 300', (s) => s.online('m1') === 300)
 *   expect(group.list[0]!.eventSeqs('m1')).toEqual([1, 2, 3])
 *   await group.close()
 *
 * Frames are parsed once and kept in order (`frames`); the accessors below read them. A spectator
 * does not reconnect by itself: a test that kills its gateway sees `closed` and `closeCode`.
 */
import type { ServerFrame } from '../../packages/protocol/src/frames.ts'
import WebSocket from 'ws'

export type Frame = ServerFrame | ({ type: string } & Record<string, unknown>)

export interface SpectatorOptions {
  /** Subscribe at once with `?match=`. */
  match?: string
  /** With `match`: resume after this seq (`?since=`). */
  since?: number
  /** Extra query parameters (e.g. `token`). */
  query?: Record<string, string>
  /** Path of the WebSocket endpoint; default /ws. */
  path?: string
  /** How long one socket may take to open and get `welcome`; default 10 s. */
  openTimeoutMs?: number
}

export class Spectator {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  /** Gateway node id from `welcome`. */
  node: string | undefined
  closed = false
  closeCode: number | undefined
  /** JSON that did not parse, or binary frames (the protocol allows neither). */
  readonly bad: string[] = []
  readonly #waiters = new Set<() => void>()

  constructor(url: string) {
    this.ws = new WebSocket(url, { perMessageDeflate: false })
    this.ws.on('message', (data, isBinary) => {
      const text = data.toString()
      if (isBinary) {
        this.bad.push(`binary: ${text.slice(0, 100)}`)
        return
      }
      let frame: Frame
      try {
        frame = JSON.parse(text) as Frame
      } catch {
        this.bad.push(text.slice(0, 200))
        return
      }
      if (frame.type === 'welcome' && typeof (frame as { node?: unknown }).node === 'string') this.node = (frame as { node: string }).node
      this.frames.push(frame)
      this.#notify()
    })
    this.ws.on('close', (code) => {
      this.closed = true
      this.closeCode = code
      this.#notify()
    })
    // Errors show as `close` too; without a listener ws would throw.
    this.ws.on('error', () => {})
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w()
  }

  /** Frames of one type (optionally for one match), in arrival order. */
  ofType<T extends string>(type: T, matchId?: string): Array<Extract<Frame, { type: T }> & Record<string, unknown>> {
    return this.frames.filter(
      (f) => f.type === type && (matchId === undefined || (f as { matchId?: unknown }).matchId === matchId),
    ) as Array<Extract<Frame, { type: T }> & Record<string, unknown>>
  }

  /** The count of the latest `online` frame for the match, or undefined before the first. */
  online(matchId: string): number | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i] as { type: string; matchId?: string; count?: number }
      if (f.type === 'online' && f.matchId === matchId) return f.count
    }
    return undefined
  }

  /** Every `online` count received for the match, in order. */
  onlineHistory(matchId: string): number[] {
    return this.ofType('online', matchId).map((f) => f.count as number)
  }

  /** Seqs of the live/replayed `event` frames for the match, in arrival order (snapshot events excluded). */
  eventSeqs(matchId: string): number[] {
    return this.ofType('event', matchId).map((f) => f.seq as number)
  }

  /** The `seq` of the first `snapshot` for the match (the position live events continue from). */
  snapshotSeq(matchId: string): number | undefined {
    return this.ofType('snapshot', matchId)[0]?.seq as number | undefined
  }

  subscribed(matchId: string): boolean {
    return this.ofType('subscribed', matchId).length > 0
  }

  /** Resolves when `pred` holds (checked now and after every frame or close). */
  waitFor(what: string, pred: (s: Spectator) => boolean, timeoutMs = 10_000): Promise<void> {
    if (pred(this)) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this)) return
        this.#waiters.delete(check)
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        this.#waiters.delete(check)
        reject(new Error(`spectator on ${this.node ?? '?'}: timed out after ${timeoutMs} ms waiting for ${what}`))
      }, timeoutMs)
      this.#waiters.add(check)
    })
  }

  send(frame: Record<string, unknown>): void {
    this.ws.send(JSON.stringify(frame))
  }

  /** Close and wait until the socket is closed (terminate after 2 s). */
  close(): Promise<void> {
    if (this.closed || this.ws.readyState === WebSocket.CLOSED) return Promise.resolve()
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve())
      if (this.ws.readyState === WebSocket.CONNECTING) {
        this.ws.terminate()
        return
      }
      this.ws.close(1000)
      setTimeout(() => this.ws.terminate(), 2000).unref()
    })
  }

  /** Drop the TCP connection without a close frame (a client that vanished). */
  terminate(): void {
    this.ws.terminate()
  }
}

export function wsUrl(baseUrl: string, options: SpectatorOptions = {}): string {
  const u = new URL(options.path ?? '/ws', baseUrl)
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
  if (options.match !== undefined) u.searchParams.set('match', options.match)
  if (options.since !== undefined) u.searchParams.set('since', String(options.since))
  for (const [k, v] of Object.entries(options.query ?? {})) u.searchParams.set(k, v)
  return u.toString()
}

/** Open one spectator and wait for its `welcome`. */
export async function openSpectator(baseUrl: string, options: SpectatorOptions = {}): Promise<Spectator> {
  const s = new Spectator(wsUrl(baseUrl, options))
  try {
    await s.waitFor('welcome', (x) => x.node !== undefined || x.closed, options.openTimeoutMs ?? 10_000)
  } catch (err) {
    s.terminate()
    throw err
  }
  if (s.node === undefined) throw new Error(`spectator at ${wsUrl(baseUrl, options)} closed before welcome (code ${s.closeCode})`)
  return s
}

export class SpectatorGroup {
  readonly list: Spectator[]
  constructor(list: Spectator[]) {
    this.list = list
  }

  get size(): number {
    return this.list.length
  }

  /** Resolves when `pred` holds for every spectator; the error names how many did not. */
  async waitAll(what: string, pred: (s: Spectator) => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    const results = await Promise.allSettled(this.list.map((s) => s.waitFor(what, pred, Math.max(1, deadline - Date.now()))))
    const failed = results.filter((r) => r.status === 'rejected').length
    if (failed > 0) {
      const sample = this.list.find((s) => !pred(s))
      const tail = sample ? JSON.stringify(sample.frames.slice(-5)) : ''
      throw new Error(
        `${failed} of ${this.size} spectators timed out after ${timeoutMs} ms waiting for ${what}; one's last frames: ${tail}`,
      )
    }
  }

  /** Spectators for which `pred` does not hold. */
  failing(pred: (s: Spectator) => boolean): Spectator[] {
    return this.list.filter((s) => !pred(s))
  }

  async close(): Promise<void> {
    await Promise.all(this.list.map((s) => s.close()))
  }
}

/**
 * Open `n` spectators to `baseUrl` (http(s) URL of a gateway or nginx), at most `concurrency`
 * handshakes at a time, each waiting for its `welcome`. With `match`, wait also for `subscribed`
 * unless `waitSubscribed` is false.
 */
export async function openSpectators(
  baseUrl: string,
  n: number,
  options: SpectatorOptions & { concurrency?: number; waitSubscribed?: boolean; subscribeTimeoutMs?: number } = {},
): Promise<SpectatorGroup> {
  const concurrency = options.concurrency ?? 25
  const list: Spectator[] = []
  let next = 0
  let failure: unknown
  const worker = async () => {
    while (next < n && failure === undefined) {
      next++
      try {
        list.push(await openSpectator(baseUrl, options))
      } catch (err) {
        failure ??= err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  const group = new SpectatorGroup(list)
  if (failure !== undefined) {
    await group.close()
    throw failure
  }
  const match = options.match
  if (match !== undefined && options.waitSubscribed !== false) {
    await group.waitAll(`subscribed to ${match}`, (s) => s.subscribed(match) || s.closed, options.subscribeTimeoutMs ?? 20_000)
    const closed = group.list.filter((s) => s.closed)
    if (closed.length > 0) {
      await group.close()
      throw new Error(`${closed.length} of ${n} spectators closed before subscribing (code ${closed[0]!.closeCode})`)
    }
  }
  return group
}

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type ConnState, LiveConnection, type Target } from './connection.ts'
import type { ServerFrame } from './protocol.ts'

/** A WebSocket the test drives: open it, hand it frames, read what was sent. */
class FakeSocket {
  static all: FakeSocket[] = []
  readyState = 0
  sent: Array<Record<string, unknown>> = []
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: string }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  readonly url: string
  constructor(url: string) {
    this.url = url
    FakeSocket.all.push(this)
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data))
  }
  close(): void {
    this.readyState = 3
  }
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }
  receive(frame: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
  subscribes(): Array<Record<string, unknown>> {
    return this.sent.filter((f) => f.type === 'subscribe')
  }
}

function connect(target: () => Target | null) {
  const states: Array<{ state: ConnState; reason?: string; retryAt?: number }> = []
  const frames: ServerFrame[] = []
  const conn = new LiveConnection({
    urls: () => ['ws://test/ws'],
    target,
    token: () => null,
    onFrame: (f) => frames.push(f),
    onState: (state, info) => states.push({ state, ...info }),
    WebSocketImpl: FakeSocket as unknown as typeof WebSocket,
    random: () => 1,
  })
  conn.start()
  const ws = FakeSocket.all.at(-1) as FakeSocket
  ws.open()
  ws.receive({ type: 'welcome', node: 'gw', connId: 'c', heartbeatMs: 15_000, v: 1 })
  return { conn, ws, states, frames }
}

beforeEach(() => {
  vi.useFakeTimers()
  vi.stubGlobal('window', globalThis)
  FakeSocket.all = []
})
afterEach(() => {
  vi.useRealTimers()
  vi.unstubAllGlobals()
})

describe('LiveConnection: a refused subscribe', () => {
  it('unavailable: says so, subscribes again on the same socket after a backoff (resuming), then goes live', () => {
    const { conn, ws, states, frames } = connect(() => ({ matchId: 'm1', since: 7, epoch: 'e1' }))
    expect(ws.subscribes()).toEqual([{ type: 'subscribe', matchId: 'm1', since: 7, epoch: 'e1' }])
    ws.receive({ type: 'error', code: 'unavailable', message: 'the event log is unavailable: timeout', matchId: 'm1' })
    expect(conn.state).toBe('reconnecting')
    expect(states.at(-1)).toMatchObject({ state: 'reconnecting', reason: 'the event log is unavailable: timeout' })
    expect(states.at(-1)?.retryAt).toBeGreaterThan(Date.now())

    vi.advanceTimersByTime(499)
    expect(ws.subscribes()).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(ws.subscribes()).toHaveLength(2)
    expect(ws.subscribes()[1]).toEqual({ type: 'subscribe', matchId: 'm1', since: 7, epoch: 'e1' })

    // Refused again: the wait doubles.
    ws.receive({ type: 'error', code: 'unavailable', message: 'still down', matchId: 'm1' })
    vi.advanceTimersByTime(999)
    expect(ws.subscribes()).toHaveLength(2)
    vi.advanceTimersByTime(1)
    expect(ws.subscribes()).toHaveLength(3)

    ws.receive({ type: 'subscribed', matchId: 'm1', seq: 7, epoch: 'e1' })
    expect(conn.state).toBe('live')
    // The page is not bothered with the refusals.
    expect(frames.filter((f) => f.type === 'error')).toEqual([])
    conn.stop()
  })

  it('"retry now" skips the wait', () => {
    const { conn, ws } = connect(() => ({ matchId: 'm1' }))
    ws.receive({ type: 'error', code: 'unavailable', message: 'down', matchId: 'm1' })
    conn.reconnectNow()
    expect(ws.subscribes()).toHaveLength(2)
    conn.stop()
  })

  it('unknown_match: a lasting no_match state, no retry; another match subscribes without unsubscribing the missing one', () => {
    let matchId = 'gone'
    const { conn, ws, states } = connect(() => ({ matchId }))
    ws.receive({ type: 'error', code: 'unknown_match', message: 'no match gone', matchId: 'gone' })
    expect(conn.state).toBe('no_match')
    expect(states.at(-1)).toMatchObject({ state: 'no_match', reason: 'no match gone' })
    vi.advanceTimersByTime(30_000) // (under the 2.5 heartbeats of silence that count as a dead socket)
    expect(ws.subscribes()).toHaveLength(1)
    expect(conn.state).toBe('no_match')

    matchId = 'other'
    conn.resubscribe('gone')
    expect(ws.sent.filter((f) => f.type === 'unsubscribe')).toEqual([])
    expect(ws.subscribes().at(-1)).toEqual({ type: 'subscribe', matchId: 'other' })
    ws.receive({ type: 'subscribed', matchId: 'other', seq: 0, epoch: 'e' })
    expect(conn.state).toBe('live')
    conn.stop()
  })

  it('errors of chat messages (with ref) and of other matches go to the page', () => {
    const { conn, ws, frames } = connect(() => ({ matchId: 'm1' }))
    ws.receive({ type: 'subscribed', matchId: 'm1', seq: 0, epoch: 'e' })
    ws.receive({ type: 'error', code: 'unavailable', message: 'chat down', ref: 'c1', matchId: 'm1' })
    ws.receive({ type: 'error', code: 'unknown_match', message: 'no match x', matchId: 'x' })
    expect(frames.filter((f) => f.type === 'error')).toHaveLength(2)
    expect(conn.state).toBe('live')
    conn.stop()
  })
})

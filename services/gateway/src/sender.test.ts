import { afterEach, describe, expect, it, vi } from 'vitest'
import { Sender, type SenderLimits } from './sender.ts'
import { newStats } from './stats.ts'
import { FakeSocket } from './testing.ts'

const limits = (over: Partial<SenderLimits> = {}): SenderLimits => ({
  maxBufferedBytes: 1000,
  chatShedBytes: 300,
  slowCloseGraceMs: 50,
  cork: false,
  ...over,
})

const frame = (n: number) => Buffer.alloc(n, 0x61)

describe('Sender', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('writes the given Buffer itself as a text frame and counts it', () => {
    const ws = new FakeSocket()
    const stats = newStats()
    const s = new Sender(ws, limits(), stats)
    const buf = Buffer.from('{"type":"event"}')
    expect(s.send(buf)).toBe(true)
    expect(ws.sent[0]).toBe(buf) // the same object: no copy, no re-encoding
    expect(ws.options[0]).toEqual({ binary: false })
    expect(stats.framesSent).toBe(1)
    expect(stats.bytesSent).toBe(buf.byteLength)
  })

  it('drops droppable frames over the shed limit, counting them, while events still go out', () => {
    const ws = new FakeSocket()
    const stats = newStats()
    const s = new Sender(ws, limits(), stats)
    ws.bufferedAmount = 250
    expect(s.sendDroppable(frame(100))).toBe(false)
    expect(stats.chatShed).toBe(1)
    expect(s.send(frame(100))).toBe(true)
    ws.bufferedAmount = 100
    expect(s.sendDroppable(frame(100))).toBe(true)
    expect(ws.sent).toHaveLength(2)
  })

  it('closes with 1013 when an event does not fit, and terminates after the grace period', () => {
    vi.useFakeTimers()
    const ws = new FakeSocket()
    const stats = newStats()
    let slow = 0
    const s = new Sender(ws, limits(), stats, () => slow++)
    ws.bufferedAmount = 950
    expect(s.send(frame(100))).toBe(false)
    expect(ws.closedWith?.code).toBe(1013)
    expect(stats.slowCloses).toBe(1)
    expect(slow).toBe(1)
    expect(ws.terminated).toBe(false)
    vi.advanceTimersByTime(60)
    expect(ws.terminated).toBe(true)
    // Closed: everything after is a no-op, and the close is not repeated.
    expect(s.send(frame(1))).toBe(false)
    expect(s.sendDroppable(frame(1))).toBe(false)
    s.closeSlow()
    expect(stats.slowCloses).toBe(1)
    expect(ws.sent).toHaveLength(0)
  })

  it('lets one frame larger than the cap through when nothing is buffered (a big snapshot)', () => {
    const ws = new FakeSocket()
    const s = new Sender(ws, limits(), newStats())
    expect(s.send(frame(5000))).toBe(true)
  })

  it('does not write to a socket that is not open', () => {
    const ws = new FakeSocket()
    ws.readyState = 2
    const s = new Sender(ws, limits(), newStats())
    expect(s.send(frame(1))).toBe(false)
    expect(ws.sent).toHaveLength(0)
  })

  it('writes the first frame of a tick at once, corks from the second frame on and uncorks once', async () => {
    const ws = new FakeSocket() as FakeSocket & { _socket: { cork(): void; uncork(): void; corked: number; flushes: number } }
    ws._socket = {
      corked: 0,
      flushes: 0,
      cork() {
        this.corked++
      },
      uncork() {
        this.corked--
        if (this.corked === 0) this.flushes++
      },
    }
    const s = new Sender(ws, limits({ cork: true }), newStats())
    s.send(frame(10))
    expect(ws._socket.corked).toBe(0) // a lone event is not held back
    s.send(frame(10))
    s.sendDroppable(frame(10))
    expect(ws._socket.corked).toBe(1)
    await new Promise((r) => process.nextTick(r))
    expect(ws._socket.corked).toBe(0)
    expect(ws._socket.flushes).toBe(1)
    await new Promise((r) => setImmediate(r))
    s.send(frame(10))
    expect(ws._socket.corked).toBe(0)
    s.send(frame(10))
    expect(ws._socket.corked).toBe(1)
    await new Promise((r) => process.nextTick(r))
    expect(ws._socket.flushes).toBe(2)
  })

  it('waitBelow resolves once the buffer drained', async () => {
    const ws = new FakeSocket()
    const s = new Sender(ws, limits(), newStats())
    ws.bufferedAmount = 900
    let done = false
    const p = s.waitBelow(500, 1).then(() => {
      done = true
    })
    await new Promise((r) => setTimeout(r, 10))
    expect(done).toBe(false)
    ws.bufferedAmount = 100
    await p
    expect(done).toBe(true)
  })
})

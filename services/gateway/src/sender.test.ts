import { afterEach, describe, expect, it, vi } from 'vitest'
import { FrameBatch, textFrame } from './frame.ts'
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

/** A fake socket whose TCP socket counts corks and the flushes of its corked runs. */
function corkable() {
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
  return ws
}

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
    const ws = corkable()
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

  it('holdTick holds the first frame too, in one corked run with the rest of the tick; no-op without cork or when closed', async () => {
    const ws = corkable()
    const stats = newStats()
    const s = new Sender(ws, limits({ cork: true }), stats)
    s.holdTick()
    expect(ws._socket.corked).toBe(1)
    s.send(frame(10))
    s.holdTick() // already held: nothing more
    s.send(frame(10))
    expect(ws._socket.corked).toBe(1)
    await new Promise((r) => process.nextTick(r))
    expect(ws._socket.corked).toBe(0)
    expect(ws._socket.flushes).toBe(1)
    expect(stats.socketWrites).toBe(1)
    expect(stats.framesSent).toBe(2)

    const off = corkable()
    new Sender(off, limits({ cork: false }), newStats()).holdTick()
    expect(off._socket.corked).toBe(0)
    const closed = corkable()
    closed.readyState = 3
    new Sender(closed, limits({ cork: true }), newStats()).holdTick()
    expect(closed._socket.corked).toBe(0)
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

describe('Sender batches (coalesced chat)', () => {
  const batchOf = (...sizes: number[]) => {
    const b = new FrameBatch()
    for (const n of sizes) b.add(frame(n), textFrame(frame(n)), true)
    return b
  }

  it('sheds a whole batch by its size under pressure, counting every frame, while events still go out', () => {
    const ws = new FakeSocket()
    const stats = newStats()
    const s = new Sender(ws, limits(), stats)
    ws.bufferedAmount = 150
    // 150 alone is under the shed limit (300), but not with the batch's 200 bytes.
    expect(s.sendDroppableBatch(batchOf(100, 100))).toBe(false)
    expect(stats.chatShed).toBe(2)
    expect(s.send(frame(100))).toBe(true)
    ws.bufferedAmount = 50
    expect(s.sendDroppableBatch(batchOf(100, 100))).toBe(true)
    expect(ws.sent).toHaveLength(3)
    expect(stats.framesSent).toBe(3)
  })

  it('without a TCP socket to write to (a fake), sends each payload with ws.send, in order', () => {
    const ws = new FakeSocket()
    const stats = newStats()
    const s = new Sender(ws, limits(), stats)
    expect(s.direct).toBe(false)
    const b = batchOf(1, 2, 3)
    expect(s.sendDroppableBatch(b)).toBe(true)
    expect(ws.sent).toEqual(b.payloads)
    expect(stats.socketWrites).toBe(3)
    expect(stats.bytesSent).toBe(6)
  })

  it('a closed socket gets nothing', () => {
    const ws = new FakeSocket()
    ws.readyState = 3
    const stats = newStats()
    expect(new Sender(ws, limits(), stats).sendDroppableBatch(batchOf(1))).toBe(false)
    expect(ws.sent).toHaveLength(0)
    expect(stats.chatShed).toBe(0)
  })
})

import { describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { canWriteDirect, directMismatches, directTarget } from './direct.ts'
import { FrameBatch, textFrame } from './frame.ts'
import { Sender, type SenderLimits } from './sender.ts'
import { newStats } from './stats.ts'
import { wsPairsForSuite } from './ws-pair.ts'

const limits = (over: Partial<SenderLimits> = {}): SenderLimits => ({
  maxBufferedBytes: 1 << 20,
  chatShedBytes: 1 << 18,
  slowCloseGraceMs: 50,
  cork: false,
  ...over,
})
const msg = (i: number) => Buffer.from(JSON.stringify({ type: 'event', seq: i, data: 'x'.repeat(i * 10) }))

describe('direct write path on real ws sockets', () => {
  const pairs = wsPairsForSuite()

  it('the installed ws has exactly the internals the direct path relies on (fails after a ws upgrade that changes them)', async () => {
    const { server } = await pairs.open()
    // An upgrade of ws that changes bufferedAmount, Sender#send/dispatch/sendFrame/enqueue/dequeue
    // or the Sender's initial state lands here: read direct.ts and the new ws code, then adapt.
    expect(directMismatches(server)).toEqual([])
    const t = directTarget(server)
    expect(t).toBeDefined()
    expect(canWriteDirect(t as NonNullable<typeof t>)).toBe(true)
  })

  it('stays off for a WebSocket class whose code differs from what it expects', async () => {
    const { server } = await pairs.open()
    class Changed extends WebSocket {}
    Object.defineProperty(Changed.prototype, 'bufferedAmount', { get: () => 0 })
    const odd = Object.create(Changed.prototype, Object.getOwnPropertyDescriptors(server)) as object
    expect(directMismatches(odd)).toContain('WebSocket#bufferedAmount counts the socket buffer and the Sender queue')
    expect(directTarget(odd)).toBeUndefined()
    expect(new Sender(odd as WebSocket, limits(), newStats()).direct).toBe(false)
  })

  it('writes each pre-built frame with one socket write and no ws.send; the client reads them in order', async () => {
    const pair = await pairs.open()
    const stats = newStats()
    const s = new Sender(pair.server, limits(), stats)
    expect(s.direct).toBe(true)
    let wsSends = 0
    const send = pair.server.send.bind(pair.server)
    pair.server.send = ((...a: Parameters<WebSocket['send']>) => {
      wsSends++
      send(...a)
    }) as WebSocket['send']
    const before = pair.writes()
    for (let i = 1; i <= 5; i++) expect(s.send(msg(i), textFrame(msg(i)))).toBe(true)
    expect(pair.writes() - before).toBe(5)
    expect(wsSends).toBe(0)
    expect(stats.socketWrites).toBe(5)
    expect(stats.framesSent).toBe(5)
    // Without a pre-built frame (replies, replays) it goes through ws.send, in the same order.
    s.send(msg(6))
    expect(wsSends).toBe(1)
    expect(await pair.received(6)).toEqual([1, 2, 3, 4, 5, 6].map((i) => msg(i).toString()))
  })

  it('bufferedAmount counts bytes written directly (so shedding and 1013 still see them)', async () => {
    const pair = await pairs.open()
    const stats = newStats()
    const s = new Sender(pair.server, limits({ chatShedBytes: 1000, maxBufferedBytes: 3000 }), stats)
    const tcp = (pair.server as unknown as { _socket: { cork(): void; uncork(): void } })._socket
    tcp.cork() // hold everything in the socket's writable buffer, as a slow peer would
    const big = Buffer.from(JSON.stringify({ type: 'event', data: 'y'.repeat(990) }))
    expect(s.send(big, textFrame(big))).toBe(true)
    expect(pair.server.bufferedAmount).toBe(textFrame(big).byteLength)
    // Over the shed limit now: chat is dropped and counted.
    const chat = Buffer.from('{"type":"chat"}')
    expect(s.sendDroppable(chat, textFrame(chat))).toBe(false)
    expect(stats.chatShed).toBe(1)
    expect(s.send(big, textFrame(big))).toBe(true)
    // A third does not fit under maxBufferedBytes: close 1013.
    expect(s.send(big, textFrame(big))).toBe(false)
    expect(stats.slowCloses).toBe(1)
    tcp.uncork()
    await pair.received(2)
  })

  it('falls back to ws.send while ws has a frame queued, so nothing overtakes it', async () => {
    const pair = await pairs.open()
    const s = new Sender(pair.server, limits(), newStats())
    // A Blob is read asynchronously: ws's Sender leaves DEFAULT state and queues what follows.
    pair.server.send(new Blob(['first']))
    const t = directTarget(pair.server)
    expect(t && canWriteDirect(t)).toBe(false)
    s.send(msg(1), textFrame(msg(1)))
    const b = new FrameBatch()
    b.add(msg(2), textFrame(msg(2)), true)
    b.add(msg(3), textFrame(msg(3)), true)
    expect(s.sendDroppableBatch(b)).toBe(true)
    const got = await pair.received(4)
    expect(got).toEqual(['first', msg(1).toString(), msg(2).toString(), msg(3).toString()])
    expect(t && canWriteDirect(t)).toBe(true)
  })

  it('a batch goes out in one write; corked bursts count one write per tick', async () => {
    const pair = await pairs.open()
    const stats = newStats()
    const s = new Sender(pair.server, limits({ cork: true }), stats)
    const b = new FrameBatch()
    for (let i = 1; i <= 4; i++) b.add(msg(i), textFrame(msg(i)), true)
    const before = pair.writes()
    expect(s.sendDroppableBatch(b)).toBe(true)
    expect(pair.writes() - before).toBe(1)
    expect(stats.socketWrites).toBe(1)
    // Same tick: the next two frames cork the socket and leave together at the next tick.
    s.send(msg(5), textFrame(msg(5)))
    s.send(msg(6), textFrame(msg(6)))
    expect(stats.socketWrites).toBe(2)
    expect(stats.framesSent).toBe(6)
    expect(await pair.received(6)).toEqual([1, 2, 3, 4, 5, 6].map((i) => msg(i).toString()))
  })
})

describe('direct write path with permessage-deflate', () => {
  const pairs = wsPairsForSuite({ perMessageDeflate: true })

  it('is not taken on a socket that negotiated compression; frames still arrive through ws.send', async () => {
    const pair = await pairs.open({ perMessageDeflate: true })
    expect(pair.server.extensions).toContain('permessage-deflate')
    const s = new Sender(pair.server, limits(), newStats())
    expect(s.direct).toBe(false)
    s.send(msg(1), textFrame(msg(1)))
    const b = new FrameBatch()
    b.add(msg(2), textFrame(msg(2)), true)
    b.add(msg(3), textFrame(msg(3)), true)
    s.sendDroppableBatch(b)
    expect(await pair.received(3)).toEqual([1, 2, 3].map((i) => msg(i).toString()))
  })
})

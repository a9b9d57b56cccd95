import { CLOSE } from '@touchline/protocol'
import { describe, expect, it } from 'vitest'
import { type Beating, HEARTBEAT_CHUNK, Heartbeat } from './heartbeat.ts'

function peers(n: number) {
  const pinged: number[] = []
  const list = Array.from({ length: n }, (_, i) => {
    const b: Beating & { terminated: boolean; calls: string[] } = {
      alive: true,
      terminated: false,
      /** close and terminate, in the order they came. */
      calls: [],
      ping: () => pinged.push(i),
      close: (code, reason) => {
        b.calls.push(`close ${code} ${reason}`)
      },
      terminate: () => {
        b.terminated = true
        b.calls.push('terminate')
      },
    }
    return b
  })
  return { list, pinged }
}

const turn = () => new Promise((r) => setImmediate(r))

describe('Heartbeat', () => {
  it('pings a large set in chunks, one per event-loop turn, each peer once per round', async () => {
    const { list, pinged } = peers(HEARTBEAT_CHUNK * 2 + 10)
    const hb = new Heartbeat(60_000, () => list)
    hb.tick()
    expect(pinged).toHaveLength(HEARTBEAT_CHUNK) // the rest waits: events get the loop in between
    hb.tick() // a round in progress is not restarted
    await turn()
    expect(pinged).toHaveLength(HEARTBEAT_CHUNK * 2)
    await turn()
    await turn()
    expect(pinged).toEqual(list.map((_, i) => i))
  })

  it('terminates a peer that did not answer the previous round; one that answered is pinged again', async () => {
    const { list, pinged } = peers(3)
    let dead = 0
    const hb = new Heartbeat(
      60_000,
      () => list,
      () => dead++,
    )
    hb.tick()
    await turn()
    ;(list[0] as Beating).alive = true // answered
    ;(list[2] as Beating).alive = true
    hb.tick()
    await turn()
    expect(dead).toBe(1)
    expect(list.map((b) => b.terminated)).toEqual([false, true, false])
    expect(pinged).toEqual([0, 1, 2, 0, 2])
  })

  it('sends a dead peer close 1001 (heartbeat timeout) and then terminates it at once', async () => {
    const { list } = peers(2)
    const hb = new Heartbeat(60_000, () => list)
    hb.tick()
    await turn()
    ;(list[1] as Beating).alive = true // answered
    hb.tick()
    await turn()
    expect(CLOSE.heartbeat.code).toBe(1001)
    // The frame first (a live but slow peer learns why), the terminate in the same pass (a dead
    // peer never completes the closing handshake).
    expect(list[0]?.calls).toEqual([`close 1001 ${CLOSE.heartbeat.reason}`, 'terminate'])
    expect(list[1]?.calls).toEqual([])
  })

  it('terminates even when sending the close frame throws', async () => {
    const { list } = peers(1)
    const peer = list[0]!
    peer.close = () => {
      throw new Error('socket already gone')
    }
    const hb = new Heartbeat(60_000, () => list)
    hb.tick()
    await turn()
    hb.tick()
    await turn()
    expect(peer.terminated).toBe(true)
  })

  it('stop() cancels a round in progress', async () => {
    const { list, pinged } = peers(HEARTBEAT_CHUNK + 5)
    const hb = new Heartbeat(60_000, () => list)
    hb.tick()
    hb.stop()
    await turn()
    await turn()
    expect(pinged).toHaveLength(HEARTBEAT_CHUNK)
  })
})

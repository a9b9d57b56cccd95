import { describe, expect, it } from 'vitest'
import type { Alert } from '../types.ts'
import { ABANDONED, type Channel, type Delivery, Dispatcher } from './dispatcher.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function alert(target: string, type: Alert['type'], n = 0): Alert {
  return {
    id: `${target}:${type}:${n}`,
    type,
    target: { name: target, kind: 'http', target: 'http://x', discovered: false },
    state: type === 'recovered' ? 'up' : 'down',
    previous: 'up',
    since: new Date().toISOString(),
    at: new Date(Date.now() + n).toISOString(),
    message: `${target} ${type}`,
    monitor: { host: 'h', version: '0' },
  }
}

function channel(name: string, send: Channel['send'], o: Partial<Channel> = {}): Channel {
  return { name, retries: 3, backoffMs: 10, timeoutMs: 100, send, ...o }
}

describe('alert dispatcher', () => {
  it('retries with back-off and keeps one target in order', async () => {
    const got: string[] = []
    let failures = 2
    const deliveries: Delivery[] = []
    const d = new Dispatcher({
      channels: [
        channel('hook', async (a) => {
          if (failures-- > 0) throw new Error('HTTP 500')
          got.push(a.id)
        }),
      ],
      onDelivery: (x) => deliveries.push(x),
    })
    d.dispatch(alert('gw', 'down'))
    d.dispatch(alert('gw', 'recovered'))
    expect(d.stats().pending).toBe(2)
    await d.flush(2000)
    expect(got).toEqual(['gw:down:0', 'gw:recovered:0'])
    expect(deliveries.filter((x) => x.retrying).length).toBe(2)
    expect(d.stats()).toMatchObject({ sent: 2, failed: 0, pending: 0 })
  })

  it('a slow or dead channel never holds the others or other targets; attempts time out', async () => {
    const fast: string[] = []
    const slowSeen: string[] = []
    const d = new Dispatcher({
      channels: [
        channel('fast', async (a) => void fast.push(a.id)),
        channel(
          'slow',
          (a, signal) =>
            new Promise<void>((_, reject) => {
              slowSeen.push(a.id)
              signal.addEventListener('abort', () => reject(new Error('aborted')))
            }),
          { retries: 1, timeoutMs: 50 },
        ),
      ],
    })
    const t0 = Date.now()
    d.dispatch(alert('a', 'down'))
    d.dispatch(alert('b', 'down'))
    await sleep(5)
    expect(fast).toEqual(['a:down:0', 'b:down:0'])
    expect(Date.now() - t0).toBeLessThan(50)
    await d.flush(1000)
    // Two targets in parallel on the slow channel, each tried twice.
    expect(slowSeen.sort()).toEqual(['a:down:0', 'a:down:0', 'b:down:0', 'b:down:0'])
    expect(d.stats().channels.slow).toEqual({ sent: 0, failed: 2, pending: 0 })
  })

  it('flush is bounded: what is left is abandoned and counted failed', async () => {
    const d = new Dispatcher({
      channels: [channel('dead', async () => Promise.reject(new Error('ECONNREFUSED')), { retries: 50, backoffMs: 1000 })],
    })
    d.dispatch(alert('a', 'down'))
    d.dispatch(alert('a', 'recovered'))
    const t0 = Date.now()
    const left = await d.flush(150)
    expect(Date.now() - t0).toBeLessThan(600)
    expect(left).toBe(2)
    expect(d.stats()).toMatchObject({ sent: 0, failed: 2, pending: 0 })
  })

  it('stopping during a back-off: nothing more is handed to the channel, and the alert is abandoned, not timed out', async () => {
    const sends: number[] = []
    const deliveries: Delivery[] = []
    const d = new Dispatcher({
      channels: [
        channel(
          'mail',
          async () => {
            sends.push(Date.now())
            throw new Error('SMTP: connect ECONNREFUSED')
          },
          { retries: 5, backoffMs: 1000 },
        ),
      ],
      onDelivery: (x) => deliveries.push(x),
    })
    d.dispatch(alert('a', 'down'))
    await sleep(20) // the first attempt failed; the retry waits for its back-off
    expect(deliveries.map((x) => x.retrying)).toEqual([true])
    const left = await d.flush(50)
    expect(left).toBe(1)
    expect(sends).toHaveLength(1)
    expect(deliveries.at(-1)).toMatchObject({ ok: false, dropped: 'shutdown', error: ABANDONED, attempts: 1 })
    expect(d.stats()).toMatchObject({ sent: 0, failed: 1, pending: 0 })
  })

  it('an attempt cut off by the end of the flush is abandoned, not a channel failure', async () => {
    const deliveries: Delivery[] = []
    const d = new Dispatcher({
      channels: [
        channel(
          'hook',
          (_a, signal) =>
            new Promise<void>((_, reject) => {
              signal.addEventListener('abort', () => reject(new Error('This operation was aborted')))
            }),
          { retries: 3, timeoutMs: 10_000 },
        ),
      ],
      onDelivery: (x) => deliveries.push(x),
    })
    d.dispatch(alert('a', 'down'))
    expect(await d.flush(30)).toBe(1)
    expect(deliveries).toEqual([expect.objectContaining({ ok: false, dropped: 'shutdown', error: ABANDONED, attempts: 1 })])
  })

  it('drops the oldest waiting delivery past queueMax', async () => {
    const dropped: Delivery[] = []
    const d = new Dispatcher({
      channels: [channel('stuck', () => new Promise(() => {}), { retries: 0, timeoutMs: 10_000 })],
      queueMax: 2,
      onDelivery: (x) => x.dropped && dropped.push(x),
    })
    d.dispatch(alert('a', 'down', 1))
    d.dispatch(alert('a', 'recovered', 2))
    d.dispatch(alert('a', 'down', 3))
    expect(dropped.map((x) => [x.alert.id, x.dropped])).toEqual([['a:recovered:2', 'queue_full']])
    expect(d.stats().pending).toBe(2)
    await d.flush(10)
  })
})

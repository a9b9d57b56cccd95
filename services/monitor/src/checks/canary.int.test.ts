/**
 * CanaryListener against a WebSocket server in this test that plays a gateway: it subscribes,
 * tracks the delivered seq, and fails the gateway when a due canary did not arrive.
 */
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { WebSocketServer, type WebSocket as WsSocket } from 'ws'
import { waitFor } from '../testing/helpers.ts'
import { CanaryListener, wsUrl } from './canary.ts'

const servers: WebSocketServer[] = []
const listeners: CanaryListener[] = []
afterEach(async () => {
  for (const l of listeners.splice(0)) l.close()
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r))
})

async function fakeGateway(onSocket: (ws: WsSocket, url: URL) => void): Promise<string> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  servers.push(wss)
  await new Promise((r) => wss.once('listening', r))
  wss.on('connection', (ws, req) => onSocket(ws, new URL(req.url ?? '/', 'http://x')))
  return `http://127.0.0.1:${(wss.address() as AddressInfo).port}`
}

describe('canary listener', () => {
  it('builds the WebSocket URL from a gateway base', () => {
    expect(wsUrl('http://10.0.0.5:8082', 'monitor-canary')).toBe('ws://10.0.0.5:8082/ws?match=monitor-canary')
    expect(wsUrl('https://lb.example/gw1/', 'c')).toBe('wss://lb.example/gw1/ws?match=c')
  })

  it('passes while canaries arrive; fails when a due canary is not delivered although the socket is open', async () => {
    const sockets: WsSocket[] = []
    const base = await fakeGateway((ws, url) => {
      sockets.push(ws)
      const matchId = url.searchParams.get('match')!
      ws.send(JSON.stringify({ type: 'welcome', node: 'g', connId: 'c', heartbeatMs: 15000 }))
      ws.send(JSON.stringify({ type: 'snapshot', matchId, seq: 4, epoch: 'e', events: [], chat: [], match: {} }))
      ws.send(JSON.stringify({ type: 'subscribed', matchId, seq: 4, epoch: 'e' }))
    })
    let t = 1_000_000
    const l = new CanaryListener(wsUrl(base, 'canary'), 'canary', () => t)
    listeners.push(l)
    await waitFor('subscribed', () => (l.subscribedAt !== undefined ? true : undefined), 3000, 10)
    expect(l.maxSeq).toBe(4)

    // Canary #5 posted after the subscription and delivered.
    const probe = { firstPostAt: t, due: () => ({ seq: 5, at: t }) as { seq: number; at: number } | undefined }
    sockets[0]!.send(JSON.stringify({ type: 'event', matchId: 'canary', seq: 5, kind: 'commentary', at: '', data: {} }))
    await waitFor('seq 5', () => (l.maxSeq === 5 ? true : undefined), 3000, 10)
    t += 5000
    expect(l.verdict(probe, 1000)).toBeUndefined()

    // Canary #6 is due but the gateway never sends it: delivery is dead.
    probe.due = () => ({ seq: 6, at: t - 1000 })
    expect(l.verdict(probe, 1000)).toMatch(/canary event #6 not delivered within 1000 ms \(delivery dead; last seen #5\)/)
    // Nothing due yet: nothing to judge.
    probe.due = () => undefined
    expect(l.verdict(probe, 1000)).toBeUndefined()
  })

  it('does not blame a gateway before the first canary was accepted; then fails it while it refuses the subscription', async () => {
    const base = await fakeGateway((ws, url) => {
      ws.send(JSON.stringify({ type: 'error', code: 'unknown_match', message: `no match ${url.searchParams.get('match')}` }))
    })
    let t = 5_000_000
    const l = new CanaryListener(wsUrl(base, 'canary'), 'canary', () => t)
    listeners.push(l)
    await waitFor('refused', () => (l.lastError?.includes('unknown_match') ? true : undefined), 3000, 10)
    t += 60_000
    expect(l.verdict({ firstPostAt: undefined, due: () => undefined }, 1000)).toBeUndefined()
    expect(l.verdict({ firstPostAt: t - 1500, due: () => undefined }, 1000)).toBeUndefined()
    expect(l.verdict({ firstPostAt: t - 2500, due: () => undefined }, 1000)).toMatch(/canary: no live subscription .*unknown_match/)
  })
})

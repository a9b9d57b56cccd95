/**
 * A spectator page behind real nginx loses its gateway: real processes (ingest, two gateways on
 * one testkit NATS and Redis), nginx rendered by nginx/render.ts serving the built pages and
 * proxying /ws and /api. The gateway serving the page is killed (SIGKILL); the page shows
 * "reconnecting", comes back through nginx on the other gateway, and shows every event posted
 * meanwhile exactly once, in order, with the right score. Then a rolling restart: the dead one
 * comes back on its port and the serving one is stopped gracefully (1012); the page moves again.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startNginx, startService, type NginxServer, type ServiceProcess } from '../packages/testkit/src/index.ts'
import { ensureWebBuilt } from '../services/web/src/index.ts'
import { type Backends, startBackends } from './support/backends.ts'
import { connStates, createMatch, feedSeqs, launchBrowser, openPage, postEvent, recordConnStates, waitForConn } from './support/browser.ts'
import { renderForTestkit } from './support/nginx.ts'

const ADMIN = 'admin-pages-reconnect-key'
const COMMENTATOR = 'commentator-pages-reconnect-key'

let backends: Backends
let ingest: ServiceProcess
const gateways = new Map<string, ServiceProcess>()
let nginx: NginxServer
let browser: Browser
let env: Record<string, string>
const ports = new Map<string, number>()

beforeAll(async () => {
  const webRoot = await ensureWebBuilt()
  ;[backends, browser] = await Promise.all([startBackends(), launchBrowser()])
  env = {
    ...backends.env(),
    TOUCHLINE_TOKEN_SECRET: 'pages-reconnect-token-secret-0123456789',
    TOUCHLINE_API_KEYS: `admin:${ADMIN},commentator:${COMMENTATOR}`,
    TRUST_PROXY: '127.0.0.1',
    PRESENCE_TTL_MS: '3000',
    PRESENCE_HEARTBEAT_MS: '1000',
    DRAIN_SPREAD_MS: '100',
    DRAIN_GRACE_MS: '500',
  }
  const [i, a, b] = await Promise.all([
    startService('ingest', { env }),
    startService('gateway', { env: { ...env, NODE_ID: 'gw-a' } }),
    startService('gateway', { env: { ...env, NODE_ID: 'gw-b' } }),
  ])
  ingest = i
  gateways.set('gw-a', a)
  gateways.set('gw-b', b)
  ports.set('gw-a', a.port)
  ports.set('gw-b', b.port)
  nginx = await startNginx(
    renderForTestkit({
      workerProcesses: 1,
      webRoot,
      gateways: { servers: [a, b].map((g) => ({ address: `127.0.0.1:${g.port}`, maxFails: 1, failTimeout: 1 })) },
      ingest: { servers: [{ address: `127.0.0.1:${ingest.port}` }], keepalive: 4 },
      websocket: { heartbeatMs: 15_000, connectTimeoutSeconds: 1 },
    }),
  )
})

afterAll(async () => {
  await browser?.close()
  await nginx?.stop()
  await Promise.allSettled([...gateways.values()].map((g) => g.stop()))
  await ingest?.stop()
  await backends?.stop()
})

describe('spectator page behind nginx', () => {
  it('survives the death of its gateway and a rolling restart: reconnecting, back through nginx, every event exactly once', async () => {
    const base = nginx.url
    await createMatch(base, ADMIN, 'p-reconnect')
    const before = [
      await postEvent(base, COMMENTATOR, 'p-reconnect', { kind: 'period', text: 'Kick-off', data: { period: '1st half' } }),
      await postEvent(base, COMMENTATOR, 'p-reconnect', { kind: 'goal', text: 'GOAL 1-0', score: { home: 1, away: 0 } }),
    ]

    const { page } = await openPage(browser, `${base}/?match=p-reconnect`)
    await waitForConn(page, 'live')
    await page.waitForSelector(`#feed li[data-seq="${before[1]}"]`)
    const served = (await page.textContent('#node'))?.replace('gateway ', '') ?? ''
    expect(['gw-a', 'gw-b']).toContain(served)
    await recordConnStates(page)

    // The gateway serving the page dies.
    const victim = gateways.get(served)!
    gateways.delete(served)
    await victim.kill()
    await page.waitForFunction(() => (window as unknown as { __connStates: string[] }).__connStates.includes('reconnecting'), undefined, {
      timeout: 5000,
    })
    expect(await page.textContent('#conn .label')).not.toBe('live')

    // Events posted while the page has no gateway.
    const meanwhile: number[] = []
    for (let i = 0; i < 5; i++) {
      meanwhile.push(
        await postEvent(
          base,
          COMMENTATOR,
          'p-reconnect',
          i === 2 ? { kind: 'goal', text: 'GOAL 1-1', score: { home: 1, away: 1 } } : { kind: 'commentary', text: `meanwhile ${i}` },
        ),
      )
    }
    expect(await page.getAttribute('#conn', 'data-state')).not.toBe('live')

    // Back, through nginx, on the other gateway.
    await waitForConn(page, 'live', 15_000)
    const other = served === 'gw-a' ? 'gw-b' : 'gw-a'
    expect(await page.textContent('#node')).toBe(`gateway ${other}`)
    const after = await postEvent(base, COMMENTATOR, 'p-reconnect', { kind: 'goal', text: 'GOAL 2-1', score: { home: 2, away: 1 } })

    const all = [...before, ...meanwhile, after]
    await page.waitForSelector(`#feed li[data-seq="${after}"]`)
    const shown = await feedSeqs(page)
    expect(shown).toEqual([...all].sort((x, y) => y - x))
    expect(new Set(shown).size).toBe(shown.length)
    expect(await page.textContent('#home-score')).toBe('2')
    expect(await page.textContent('#away-score')).toBe('1')

    const states = await connStates(page)
    expect(states[0]).toBe('live')
    expect(states).toContain('reconnecting')
    expect(states).toContain('catching_up')
    expect(states.at(-1)).toBe('live')

    // A rolling restart: the dead gateway comes back on its port, the serving one is stopped
    // gracefully (1012), and the page moves back without losing or repeating anything.
    gateways.set(served, await startService('gateway', { env: { ...env, NODE_ID: served }, port: ports.get(served) }))
    await recordConnStates(page)
    const draining = gateways.get(other)!
    gateways.delete(other)
    const stopped = draining.stop()
    await page.waitForFunction(() => (window as unknown as { __connStates: string[] }).__connStates.includes('reconnecting'), undefined, {
      timeout: 5000,
    })
    const during = await postEvent(base, COMMENTATOR, 'p-reconnect', { kind: 'commentary', text: 'during the restart' })
    await stopped
    await waitForConn(page, 'live', 15_000)
    expect(await page.textContent('#node')).toBe(`gateway ${served}`)
    await page.waitForSelector(`#feed li[data-seq="${during}"]`)
    const final = await feedSeqs(page)
    expect(final).toEqual([...all, during].sort((x, y) => y - x))
    await page.context().close()
  })
})

/**
 * The ops status page in a real browser against a real stack (the local runner's `up`: Redis,
 * NATS, ingest, two gateways, the monitor, nginx, as separate processes), read through nginx's
 * public URL as an operator reads it. It shows the monitor's targets all `up` (nginx, ingest,
 * nats, redis and both gateways found in presence), the two gateways with their connection counts
 * and the online count of a match with three spectators; then one gateway is SIGKILLed and, within
 * a few refreshes, the page shows its target `down` (with the error), and after the presence TTL
 * the gateway leaves the live nodes and the match's count drops to what the survivor holds.
 * Screenshots: test-results/screenshots/status-stack-{desktop,phone}.png. When the API and the
 * monitor stop answering, the page keeps what they said last but marks it stale (greyed rows,
 * "unknown" summaries, an "updated" stamp that says what is not answering), and clears the mark
 * when they answer again. pages.e2e.test.ts covers the page without a monitor (embedded process).
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page, Route } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { down, up, type UpResult } from '../infra/local/src/stack.ts'
import { freePort, guardProcessGroup, repoRoot } from '../packages/testkit/src/index.ts'
import { createMatch, DESKTOP, launchBrowser, openPage, PHONE, type PageProbe } from './support/browser.ts'
import { openSpectators, type SpectatorGroup } from './support/spectators.ts'

const ADMIN = 'admin-status-e2e-key'
const COMMENTATOR = 'commentator-status-e2e-key'
const SHOTS = join(repoRoot, 'test-results', 'screenshots')
const MATCH = `status-${Date.now()}`
/** The page refreshes every 2 s; a few refreshes, with room for a machine under load. */
const PAGE_WAIT_MS = 12_000

const stateDir = mkdtempSync(join(tmpdir(), 'touchline-status-e2e-'))
const unguard: Array<() => void> = []
const onSpawn = (pid: number) => unguard.push(guardProcessGroup(pid))

let stack: UpResult | undefined
let browser: Browser | undefined
let spectators: SpectatorGroup | undefined
const probes: PageProbe[] = []

beforeAll(async () => {
  await Promise.all([
    up({
      stateDir,
      port: await freePort(),
      gateways: 2,
      onSpawn,
      processEnv: { TOUCHLINE_API_KEYS: `admin:${ADMIN},commentator:${COMMENTATOR}` },
      env: {
        LOG_LEVEL: 'warn',
        // Every service gets these; each reads its own.
        MONITOR_INTERVAL_MS: '500',
        MONITOR_TIMEOUT_MS: '500',
        PRESENCE_TTL_MS: '3000',
        PRESENCE_HEARTBEAT_MS: '1000',
      },
    }).then((s) => {
      stack = s
    }),
    launchBrowser().then((b) => {
      browser = b
    }),
  ])
  mkdirSync(SHOTS, { recursive: true })
})

afterAll(async () => {
  await spectators?.close().catch(() => {})
  await browser?.close().catch(() => {})
  await down({ stateDir }).catch(() => {})
  for (const u of unguard) u()
  rmSync(stateDir, { recursive: true, force: true })
})

function gateway(nodeId: string): { pid: number; target: string } {
  const p = stack!.processes.find((x) => x.role === 'gateway' && x.nodeId === nodeId)
  if (!p) throw new Error(`no ${nodeId} in the stack`)
  // The monitor names a gateway found in presence after the URL it advertises (NODE_URL, default http://HOST:PORT).
  return { pid: p.pid, target: `gateway@127.0.0.1:${p.port}` }
}

/** Target name → state, as the page shows it. */
function targetStates(page: Page): Promise<Record<string, string>> {
  return page.$$eval('#targets tr[data-target]', (rows) =>
    Object.fromEntries(rows.map((r) => [(r as HTMLElement).dataset.target, (r as HTMLElement).dataset.state])),
  )
}

/** Node id → connections, as the page shows it. */
function nodeCounts(page: Page): Promise<Record<string, number>> {
  return page.$$eval('#nodes tr[data-node]', (rows) =>
    Object.fromEntries(rows.map((r) => [(r as HTMLElement).dataset.node, Number(r.querySelector('td.num')?.textContent)])),
  )
}

function watching(page: Page, matchId: string): Promise<string | null> {
  return page.textContent(`#matches tr[data-match="${matchId}"] td.watching`).catch(() => null)
}

/** Wait until `read` (evaluated in the test, re-read every 250 ms) equals `want`; the error shows the last value. */
async function until<T>(what: string, read: () => Promise<T>, want: T, timeoutMs = PAGE_WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  for (;;) {
    last = await read()
    try {
      expect(last).toEqual(want)
      return
    } catch {}
    if (Date.now() > deadline) {
      throw new Error(`status page: timed out after ${timeoutMs} ms waiting for ${what}; last seen ${JSON.stringify(last)}`)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
}

async function statusPage(viewport: { width: number; height: number }): Promise<PageProbe> {
  const probe = await openPage(browser!, `${stack!.publicUrl}/status.html`, { viewport })
  probes.push(probe)
  await probe.page.waitForSelector('#monitor-state[data-state="running"]', { timeout: PAGE_WAIT_MS })
  return probe
}

describe('status page against a real stack behind nginx', () => {
  let desktop: PageProbe
  let perNode: Record<string, number>

  it('lists the monitor targets up, both gateways with their connections and the online count of a match', async () => {
    expect(stack!.healthy).toBe(true)
    expect(stack!.processes.map((p) => p.role)).toContain('monitor')
    const gw1 = gateway('gw-1')
    const gw2 = gateway('gw-2')

    await createMatch(stack!.publicUrl, ADMIN, MATCH)
    // Three spectators through nginx (round robin: spread over the two gateways).
    spectators = await openSpectators(stack!.publicUrl, 3, { match: MATCH })
    perNode = { 'gw-1': 0, 'gw-2': 0 }
    for (const s of spectators.list) perNode[s.node!] = (perNode[s.node!] ?? 0) + 1
    expect(Object.keys(perNode).sort()).toEqual(['gw-1', 'gw-2'])

    desktop = await statusPage(DESKTOP)
    const { page } = desktop
    const expected = ['nginx', 'ingest', 'nats', 'redis', gw1.target, gw2.target]
    await until('every target up', () => targetStates(page), Object.fromEntries(expected.map((n) => [n, 'up'])))
    expect(await page.textContent('#monitor-summary')).toBe('(6 targets: 6 up, 0 degraded, 0 down, 0 unknown)')
    expect(await page.textContent('#monitor-state')).toMatch(/^running since .+, checks every 0\.5 s/)
    for (const t of [gw1.target, gw2.target]) {
      const cells = await page.$$eval(`#targets tr[data-target="${t}"] td`, (tds) => tds.map((td) => td.textContent))
      expect(cells[0]).toMatch(new RegExp(`^${t.replace(/[.]/g, '\\.')} \\(discovered, node gw-[12]\\)$`))
      expect(cells[1]).toBe('up')
      expect(cells[2]).toBe('gateway')
      expect(cells[3]).toBe(`http://${t.slice('gateway@'.length)}`)
    }

    await until('both gateways with their connections', () => nodeCounts(page), perNode)
    expect(await page.textContent('#nodes-summary')).toBe('(2 live, 3 connections)')
    await until('3 watching the match', () => watching(page, MATCH), '3')
    const perGateway = await page.textContent(`#matches tr[data-match="${MATCH}"] td:last-child`)
    for (const [node, n] of Object.entries(perNode)) if (n > 0) expect(perGateway).toContain(`${node}: ${n}`)
    expect(desktop.errors).toEqual([])
  })

  it('shows a SIGKILLed gateway down, then gone from the live nodes after the presence TTL', async () => {
    const gw1 = gateway('gw-1')
    const gw2 = gateway('gw-2')
    const { page } = desktop
    const survivors = perNode['gw-1'] ?? 0
    process.kill(gw2.pid, 'SIGKILL')

    // The monitor sees it fail (2 checks at 500 ms) while presence still lists it: a crash, kept watched, down.
    await page.waitForSelector(`#targets tr[data-target="${gw2.target}"][data-state="down"]`, { timeout: PAGE_WAIT_MS })
    const row = await page.$$eval(`#targets tr[data-target="${gw2.target}"] td`, (tds) => tds.map((td) => td.textContent ?? ''))
    expect(row[0]).toContain('node gw-2')
    expect(row[1]).toBe('down')
    expect(row[7]).not.toBe('') // the last error, e.g. ECONNREFUSED
    expect((await targetStates(page))[gw1.target]).toBe('up')

    // Its heartbeat expires (PRESENCE_TTL_MS 3000): the live nodes and the online count lose it.
    await until('only gw-1 live', () => nodeCounts(page), { 'gw-1': survivors })
    expect(await page.textContent('#nodes-summary')).toBe(`(1 live, ${survivors} connections)`)
    await until(`${survivors} watching after the kill`, () => watching(page, MATCH), String(survivors))
    // Still down (not dropped as a clean leave) once presence no longer lists it.
    expect((await targetStates(page))[gw2.target]).toBe('down')
    expect(await page.textContent('#monitor-summary')).toBe('(6 targets: 5 up, 0 degraded, 1 down, 0 unknown)')

    await page.screenshot({ path: join(SHOTS, 'status-stack-desktop.png'), fullPage: true })
    const phone = await statusPage(PHONE)
    await phone.page.waitForSelector(`#targets tr[data-target="${gw2.target}"][data-state="down"]`, { timeout: PAGE_WAIT_MS })
    await until('only gw-1 live (phone)', () => nodeCounts(phone.page), { 'gw-1': survivors })
    await phone.page.screenshot({ path: join(SHOTS, 'status-stack-phone.png'), fullPage: true })
    for (const p of probes) expect(p.errors).toEqual([])
  })

  it('marks what it shows stale while the API and the monitor do not answer, and current again once they do', async () => {
    const { page } = desktop
    const before = await targetStates(page)
    const refuse = (r: Route) => r.abort('connectionrefused')
    await page.route('**/api/**', refuse)
    await page.route('**/monitor/**', refuse)
    for (const rows of ['#targets', '#nodes', '#matches']) {
      await page.waitForSelector(`${rows}[data-stale="true"]`, { timeout: PAGE_WAIT_MS })
    }
    for (const summary of ['#monitor-summary', '#nodes-summary', '#matches-summary'])
      expect(await page.textContent(summary)).toBe('(unknown)')
    expect(await page.getAttribute('#monitor-state', 'data-state')).toBe('not-answering')
    expect(await page.textContent('#nodes-state')).toMatch(
      /^API not answering \(.+\)\. The rows below are from .+ and may be out of date\.$/,
    )
    expect(await page.textContent('#monitor-state')).toMatch(/^monitor not answering \(.+\)\. The rows below are from /)
    expect(await page.textContent('#updated')).toMatch(/^monitor, gateways, matches not answering at .+; last full update .+$/)
    // What was known is still there (a down target must not vanish in an outage), only marked.
    expect(await targetStates(page)).toEqual(before)
    expect(await page.$$('#matches tr[data-match]')).not.toHaveLength(0)

    await page.unroute('**/api/**', refuse)
    await page.unroute('**/monitor/**', refuse)
    await page.waitForSelector('#updated:not([data-stale])', { timeout: PAGE_WAIT_MS })
    expect(await page.$$('[data-stale]')).toHaveLength(0)
    expect(await page.textContent('#updated')).toMatch(/^updated /)
    expect(await page.textContent('#nodes-summary')).toMatch(/^\(1 live, \d+ connections\)$/)
    expect(await page.getAttribute('#monitor-state', 'data-state')).toBe('running')
  })
})

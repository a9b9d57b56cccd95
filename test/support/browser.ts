/**
 * Browser tests' support: one headless Chromium for a test file (Debian's /usr/bin/chromium, or CHROMIUM_PATH), with a
 * fresh context per test. The flags keep it off the network: without
 * --disable-background-networking it keeps trying to reach Google's hosts.
 */
import { existsSync } from 'node:fs'
import { type Browser, type BrowserContext, chromium, type ConsoleMessage, type Page } from 'playwright-core'
import { apiRequestInit } from './http.ts'

export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

export function chromiumPath(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv && existsSync(fromEnv)) return fromEnv
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p))
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath()
  if (!executablePath) {
    throw new Error('Chromium was not found: install it (Debian: apt-get install -y chromium) or set CHROMIUM_PATH')
  }
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      '--disable-dev-shm-usage',
    ],
  })
}

export const DESKTOP = { width: 1280, height: 800 } as const
export const PHONE = { width: 390, height: 844 } as const

export interface PageProbe {
  page: Page
  /** Console errors and uncaught page errors, for assertions and failure messages. */
  errors: string[]
  dialogs: string[]
}

/** A page in its own context, recording errors and any dialog (which it dismisses). */
export async function openPage(
  browser: Browser,
  url: string,
  options: { viewport?: { width: number; height: number }; context?: BrowserContext } = {},
): Promise<PageProbe> {
  const context = options.context ?? (await browser.newContext({ viewport: options.viewport ?? DESKTOP }))
  const page = await context.newPage()
  const errors: string[] = []
  const dialogs: string[] = []
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`)
    void d.dismiss().catch(() => {})
  })
  await page.goto(url)
  return { page, errors, dialogs }
}

// ---- the API as a commentator uses it, and what a spectator page shows ----------------------

export interface ApiResult<T = unknown> {
  status: number
  json: T
}

export async function call<T = unknown>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  key?: string,
  headers: Record<string, string> = {},
): Promise<ApiResult<T>> {
  const res = await fetch(`${base}/api${path}`, apiRequestInit(method, { key, body, headers }))
  const text = await res.text()
  let json: unknown
  try {
    json = text ? JSON.parse(text) : undefined
  } catch {
    json = text
  }
  return { status: res.status, json: json as T }
}

export async function createMatch(base: string, key: string, id: string, home = 'Riverside', away = 'Harbour Town'): Promise<void> {
  const r = await call(base, 'POST', '/v1/matches', { id, title: `Test ${id}`, home, away, startsAt: new Date().toISOString() }, key)
  if (r.status !== 201) throw new Error(`create ${id}: ${r.status} ${JSON.stringify(r.json)}`)
}

export async function postEvent(
  base: string,
  key: string,
  matchId: string,
  body: Record<string, unknown>,
  idempotencyKey?: string,
): Promise<number> {
  const r = await call<{ seq: number }>(
    base,
    'POST',
    `/v1/matches/${matchId}/events`,
    body,
    key,
    idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
  )
  if (r.status !== 201) throw new Error(`post to ${matchId}: ${r.status} ${JSON.stringify(r.json)}`)
  return r.json.seq
}

export async function storedEvents(
  base: string,
  matchId: string,
): Promise<Array<{ seq: number; kind: string; data: Record<string, unknown> }>> {
  const r = await call<{ events: Array<{ seq: number; kind: string; data: Record<string, unknown> }> }>(
    base,
    'GET',
    `/v1/matches/${matchId}/events?since=0&limit=1000`,
  )
  return r.json.events
}

/** Wait until the page's connection indicator says `state`. */
export async function waitForConn(page: Page, state: string, timeout = 10_000): Promise<void> {
  await page.waitForSelector(`#conn[data-state="${state}"]`, { timeout })
}

/** Seqs of the feed items shown, in display order, with how often each appears. */
export async function feedSeqs(page: Page): Promise<number[]> {
  return page.$$eval('#feed li[data-seq]', (els) => els.map((e) => Number((e as HTMLElement).dataset.seq)))
}

/** Join the chat with a name (the page's name prompt). */
export async function joinChat(page: Page, name: string): Promise<void> {
  await page.fill('#name-input', name)
  await page.click('#name-form button[type=submit]')
  await page.waitForSelector('#chat-form:not([hidden])')
  await page.waitForSelector('#chat-form button:not([disabled])')
}

export async function sendChat(page: Page, text: string): Promise<void> {
  await page.fill('#chat-input', text)
  await page.press('#chat-input', 'Enter')
}

/** Record every value the connection indicator takes from now on (window.__connStates). */
export async function recordConnStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __connStates: string[] }
    const el = document.querySelector('#conn') as HTMLElement
    w.__connStates = [el.dataset.state ?? '']
    new MutationObserver(() => {
      const s = el.dataset.state ?? ''
      if (w.__connStates.at(-1) !== s) w.__connStates.push(s)
    }).observe(el, { attributes: true, attributeFilter: ['data-state'] })
  })
}

export async function connStates(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __connStates: string[] }).__connStates)
}

/**
 * One headless Chromium for a test file (Debian's /usr/bin/chromium, or CHROMIUM_PATH), with a
 * fresh context per test. The flags keep it off the network: without
 * --disable-background-networking it keeps trying to reach Google's hosts.
 */
import { existsSync } from 'node:fs'
import { type Browser, type BrowserContext, chromium, type ConsoleMessage, type Page } from 'playwright-core'

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

/**
 * The pages in a real browser (Debian Chromium through playwright-core) against the embedded
 * process, started as `pnpm start` starts it: a goal posted through the API shows within a
 * second with the new score; three pages see an online count of 3; two pages chat; markup in chat
 * stays text; the console posts a goal and a card, a double click posts once, and a lost answer
 * is retried with the same Idempotency-Key; screenshots of the three pages at desktop and phone
 * sizes. The gateway-kill test (nginx in front of two gateways) is in pages-reconnect.e2e.test.ts.
 * Also what an audit of the pages found: a late joiner's board under a spoiler delay, refused
 * subscribes, a feed of hundreds of events, chat acks lost with their connection, lengths in
 * characters; in the console live chat after signing in again, a reload while the API is away, two
 * goals in quick succession, keys with characters a key cannot have, long team names.
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { repoRoot, startService, type ServiceProcess } from '../packages/testkit/src/index.ts'
import { ensureWebBuilt } from '../services/web/src/index.ts'
import {
  call,
  createMatch,
  DESKTOP,
  feedSeqs,
  joinChat,
  launchBrowser,
  openPage,
  PHONE,
  postEvent,
  sendChat,
  storedEvents,
  waitForConn,
} from './support/browser.ts'

const ADMIN = 'admin-pages-e2e-key'
const COMMENTATOR = 'commentator-pages-e2e-key'
const SHOTS = join(repoRoot, 'test-results', 'screenshots')
const DOC_SHOT = join(repoRoot, 'docs', 'screenshots', 'spectator.png')

let app: ServiceProcess
let browser: Browser
let base: string

beforeAll(async () => {
  // Build once here, so the service's start-up does not race the readiness timeout.
  await ensureWebBuilt()
  ;[app, browser] = await Promise.all([
    startService('embedded', {
      env: { TOUCHLINE_API_KEYS: `admin:${ADMIN},commentator:${COMMENTATOR}`, EMBEDDED_DEMO: '1', ONLINE_INTERVAL_MS: '300' },
    }),
    launchBrowser(),
  ])
  base = app.url
  mkdirSync(SHOTS, { recursive: true })
})

afterAll(async () => {
  await browser?.close()
  await app?.stop()
})

async function spectator(matchId: string, viewport: { width: number; height: number } = DESKTOP) {
  const probe = await openPage(browser, `${base}/?match=${matchId}`, { viewport })
  await waitForConn(probe.page, 'live')
  return probe
}

async function close(...pages: Page[]): Promise<void> {
  await Promise.all(pages.map((p) => p.context().close()))
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Sign in to the console (`page` on console.html) and wait for the post card. */
async function consoleSignIn(page: Page, key: string): Promise<void> {
  await page.fill('#api-key', key)
  await page.click('#signin-form button[type=submit]')
  await page.waitForSelector('#post-card:not([hidden])')
}

/** Alex on page `a` and Sam on page `b` join the chat and say one line each; each line shows on the other page. */
async function chatOneLineEach(a: Page, b: Page, fromAlex: string, fromSam: string): Promise<void> {
  await joinChat(a, 'Alex')
  await joinChat(b, 'Sam')
  await sendChat(a, fromAlex)
  await b.waitForSelector(`#chat .chat-line:has-text(${JSON.stringify(fromAlex)})`)
  await sendChat(b, fromSam)
  await a.waitForSelector(`#chat .chat-line:has-text(${JSON.stringify(fromSam)})`)
}

describe('spectator page', () => {
  it('shows a goal posted through the API within a second, with the new score', async () => {
    await createMatch(base, ADMIN, 'p-goal')
    const { page, errors } = await spectator('p-goal')
    expect(await page.textContent('#home-name')).toBe('Riverside')
    expect(await page.textContent('#home-score')).toBe('0')

    const started = Date.now()
    const seq = await postEvent(base, COMMENTATOR, 'p-goal', {
      kind: 'goal',
      text: 'GOAL! Lindqvist',
      minute: 23,
      score: { home: 1, away: 0 },
    })
    await page.waitForSelector(`#feed li[data-seq="${seq}"].kind-goal`, { timeout: 1000 })
    await page.waitForFunction(() => document.querySelector('#home-score')?.textContent === '1', undefined, { timeout: 1000 })
    const elapsed = Date.now() - started
    expect(elapsed).toBeLessThan(1000)
    expect(await page.textContent(`#feed li[data-seq="${seq}"] .text`)).toBe('GOAL! Lindqvist')
    expect(await page.textContent('#away-score')).toBe('0')

    // A retraction withdraws it and the scoreboard goes back (refetched from the API).
    const r = await postEvent(base, COMMENTATOR, 'p-goal', { kind: 'retraction', refSeq: seq, text: 'VAR: offside' })
    await page.waitForSelector(`#feed li[data-seq="${seq}"].withdrawn`)
    await page.waitForFunction(() => document.querySelector('#home-score')?.textContent === '0')
    expect(await page.$(`#feed li[data-seq="${r}"]`)).toBeNull()
    expect(errors).toEqual([])
    await close(page)
  })

  it('shows the right online count with three pages open', async () => {
    await createMatch(base, ADMIN, 'p-online')
    const pages = await Promise.all([0, 1, 2].map(() => spectator('p-online')))
    for (const { page } of pages) {
      await page.waitForFunction(() => (document.querySelector('#online') as HTMLElement).dataset.count === '3', undefined, {
        timeout: 5000,
      })
    }
    expect(await pages[0]?.page.textContent('#online')).toBe('3 watching')
    const api = await call<{ total: number }>(base, 'GET', '/v1/matches/p-online/online')
    expect(api.json.total).toBe(3)
    // One leaves: the others see 2.
    await close(pages[2]!.page)
    await pages[0]!.page.waitForFunction(() => (document.querySelector('#online') as HTMLElement).dataset.count === '2', undefined, {
      timeout: 5000,
    })
    await close(pages[0]!.page, pages[1]!.page)
  })

  it('two pages chat with each other', async () => {
    await createMatch(base, ADMIN, 'p-chat')
    const [a, b] = await Promise.all([spectator('p-chat'), spectator('p-chat')])
    await chatOneLineEach(a.page, b.page, 'Hello from Alex', 'Hi Alex, Sam here')
    expect(await b.page.textContent('#chat .chat-line:has-text("Hello from Alex") .chat-user')).toBe('Alex')
    // Each message once on each page (the sender's pending line is replaced, not duplicated).
    await a.page.waitForFunction(() => document.querySelectorAll('#chat .chat-line.pending').length === 0)
    expect(await a.page.$$eval('#chat .chat-text', (els) => els.map((e) => e.textContent))).toEqual([
      'Hello from Alex',
      'Hi Alex, Sam here',
    ])
    expect(await b.page.$$eval('#chat .chat-text', (els) => els.map((e) => e.textContent))).toEqual([
      'Hello from Alex',
      'Hi Alex, Sam here',
    ])
    await close(a.page, b.page)
  })

  it('shows markup in chat and commentary as text and runs nothing', async () => {
    await createMatch(base, ADMIN, 'p-xss')
    const [a, b] = await Promise.all([spectator('p-xss'), spectator('p-xss')])
    const evil = '<img src=x onerror="window.__pwned=1;alert(1)">'
    await joinChat(a.page, '<b>Mallory</b>')
    await sendChat(a.page, evil)
    const seq = await postEvent(base, COMMENTATOR, 'p-xss', {
      kind: 'commentary',
      text: '<script>window.__pwned=2</script><img src=y onerror=alert(2)>',
    })
    for (const { page } of [a, b]) {
      await page.waitForSelector(`#feed li[data-seq="${seq}"]`)
      await page.waitForFunction((t) => [...document.querySelectorAll('#chat .chat-text')].some((e) => e.textContent === t), evil)
      // The literal text is visible, and no element was made from it.
      expect(await page.textContent(`#feed li[data-seq="${seq}"] .text`)).toBe(
        '<script>window.__pwned=2</script><img src=y onerror=alert(2)>',
      )
      expect(await page.$$('#chat img, #feed img, #chat script, #feed script, #chat b')).toHaveLength(0)
      expect(await page.isVisible(`#chat .chat-text:text-is(${JSON.stringify(evil)})`)).toBe(true)
      await page.waitForTimeout(200)
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
    }
    expect(await b.page.textContent('#chat .chat-user')).toBe('<b>Mallory</b>')
    expect([...a.dialogs, ...b.dialogs]).toEqual([])
    await close(a.page, b.page)
  })
  it('holds events and chat for the spoiler delay, and says so', async () => {
    await createMatch(base, ADMIN, 'p-delay')
    const live = await spectator('p-delay')
    const delayed = await openPage(browser, `${base}/?match=p-delay&delay=2`)
    await waitForConn(delayed.page, 'live')
    expect(await delayed.page.textContent('#delay-note')).toContain('appear 2 s after they happen')
    await joinChat(live.page, 'Alex')

    const posted = Date.now()
    const seq = await postEvent(base, COMMENTATOR, 'p-delay', { kind: 'goal', text: 'GOAL! spoiler', score: { home: 1, away: 0 } })
    await sendChat(live.page, 'did you see that goal')
    await live.page.waitForSelector(`#feed li[data-seq="${seq}"]`)
    // The delayed page holds both, shows the old score, and counts what is waiting.
    await delayed.page.waitForFunction(() => document.querySelector('#delay-note')?.textContent?.includes('(2 waiting)'))
    expect(await delayed.page.$(`#feed li[data-seq="${seq}"]`)).toBeNull()
    expect(await delayed.page.textContent('#home-score')).toBe('0')
    expect(await delayed.page.$$('#chat .chat-line')).toHaveLength(0)

    await delayed.page.waitForSelector(`#feed li[data-seq="${seq}"]`, { timeout: 5000 })
    expect(Date.now() - posted).toBeGreaterThanOrEqual(1500)
    expect(await delayed.page.textContent('#home-score')).toBe('1')
    await delayed.page.waitForSelector('#chat .chat-line:has-text("did you see that goal")')
    await close(live.page, delayed.page)
  })

  it('under a spoiler delay, a late joiner whose snapshot is all held sees the score as of what was released, not 0–0', async () => {
    const delay = 5
    await createMatch(base, ADMIN, 'p-late')
    await postEvent(base, COMMENTATOR, 'p-late', { kind: 'goal', text: 'GOAL 1', score: { home: 1, away: 0 }, minute: 10 })
    await postEvent(base, COMMENTATOR, 'p-late', { kind: 'goal', text: 'GOAL 2', score: { home: 2, away: 0 }, minute: 20 })
    await postEvent(base, COMMENTATOR, 'p-late', { kind: 'period', text: 'Half-time', data: { period: 'Half-time' }, minute: 45 })
    await sleep(delay * 1000 + 500)
    // 55 lines: the snapshot's 50 events (9–58) do not reach back to the goals and are all younger than the delay.
    let last = 0
    for (let i = 1; i <= 55; i++) last = await postEvent(base, COMMENTATOR, 'p-late', { kind: 'commentary', text: `line ${i}` })
    const { page, errors } = await openPage(browser, `${base}/?match=p-late&delay=${delay}`)
    await waitForConn(page, 'live')
    await page.waitForSelector(`#feed li[data-seq="${last}"]`, { timeout: (delay + 5) * 1000 })
    await page.waitForFunction(() => !document.querySelector('#delay-note')?.textContent?.includes('waiting'))
    expect(await page.textContent('#home-score')).toBe('2')
    expect(await page.textContent('#away-score')).toBe('0')
    expect(await page.textContent('#period')).toBe('Half-time')
    expect(errors).toEqual([])
    await close(page)
  })

  it('a refused subscribe: "unavailable" is tried again until live; "unknown_match" says so and stays', async () => {
    await createMatch(base, ADMIN, 'p-refused')
    const seq = await postEvent(base, COMMENTATOR, 'p-refused', { kind: 'goal', text: 'GOAL', score: { home: 1, away: 0 } })
    // The gateway's answer to the page's subscribes is replaced; everything else goes through.
    const refuse = async (page: Page, code: string, times: number) => {
      let n = 0
      await page.routeWebSocket(/\/ws/, (ws) => {
        const server = ws.connectToServer()
        ws.onMessage((m) => {
          const f = JSON.parse(String(m))
          if (f.type === 'subscribe' && n < times) {
            n++
            ws.send(
              JSON.stringify({
                type: 'error',
                code,
                message: code === 'unavailable' ? 'the event log is unavailable: timeout' : `no match ${f.matchId}`,
                matchId: f.matchId,
              }),
            )
            return
          }
          server.send(m)
        })
      })
      return () => n
    }
    const context = await browser.newContext({ viewport: DESKTOP })
    const page = await context.newPage()
    const refused = await refuse(page, 'unavailable', 2)
    await page.goto(`${base}/?match=p-refused`)
    await page.waitForFunction(() =>
      document.querySelector('#conn-detail')?.textContent?.includes('the event log is unavailable: timeout; retrying'),
    )
    await waitForConn(page, 'live')
    expect(refused()).toBe(2)
    await page.waitForSelector(`#feed li[data-seq="${seq}"]`)
    expect(await page.textContent('#home-score')).toBe('1')

    const gone = await context.newPage()
    await refuse(gone, 'unknown_match', 100)
    await gone.goto(`${base}/?match=p-refused`)
    await waitForConn(gone, 'no_match')
    expect(await gone.textContent('#conn .label')).toBe('no such match')
    expect(await gone.textContent('#notice')).toContain('This match does not exist')
    // Not a notice that goes away after 6 s: the state lasts.
    await sleep(6500)
    expect(await gone.isVisible('#notice')).toBe(true)
    expect(await gone.getAttribute('#conn', 'data-state')).toBe('no_match')
    await context.close()
  })

  it('holds the newest 200 feed items, in order, each once, and still shows a correction of one of them', async () => {
    await createMatch(base, ADMIN, 'p-long')
    const { page, errors } = await spectator('p-long')
    let last = 0
    for (let i = 1; i <= 230; i++) last = await postEvent(base, COMMENTATOR, 'p-long', { kind: 'commentary', text: `line ${i}` })
    await page.waitForSelector(`#feed li[data-seq="${last}"]`)
    const newest = Array.from({ length: 200 }, (_, i) => last - i)
    expect(await feedSeqs(page)).toEqual(newest)
    const target = last - 100
    const c = await postEvent(base, COMMENTATOR, 'p-long', { kind: 'correction', refSeq: target, text: 'line, corrected' })
    await page.waitForSelector(`#feed li[data-seq="${target}"].corrected`)
    expect(await page.textContent(`#feed li[data-seq="${target}"] .text`)).toBe('line, corrected')
    expect(await page.$(`#feed li[data-seq="${c}"]`)).toBeNull()
    expect(await feedSeqs(page)).toEqual(newest)
    expect(errors).toEqual([])
    await close(page)
  })

  it('counts names and chat in characters, as the server does: a 40-emoji name, a 300-emoji message', async () => {
    await createMatch(base, ADMIN, 'p-emoji')
    const [a, b] = await Promise.all([spectator('p-emoji'), spectator('p-emoji')])
    const name = '😀'.repeat(40)
    await joinChat(a.page, name)
    expect(await a.page.textContent('#chat-as')).toBe(`as ${name}`)
    const text = '⚽'.repeat(150) + '😀'.repeat(150)
    await sendChat(a.page, text)
    await b.page.waitForFunction((t) => [...document.querySelectorAll('#chat .chat-text')].some((e) => e.textContent === t), text)
    expect(await a.page.textContent('#chat-status')).toBe('')
    // The input stops at 500 characters, wherever the emoji are.
    await a.page.fill('#chat-input', '😀'.repeat(520))
    expect([...(await a.page.inputValue('#chat-input'))]).toHaveLength(500)
    await close(a.page, b.page)
  })

  it('a message whose ack is lost with its connection is marked "not confirmed", not left pending', async () => {
    await createMatch(base, ADMIN, 'p-pending')
    const context = await browser.newContext({ viewport: DESKTOP })
    const page = await context.newPage()
    let cut = false
    await page.routeWebSocket(/\/ws/, (ws) => {
      const server = ws.connectToServer()
      server.onMessage((m) => {
        const f = JSON.parse(String(m))
        if (cut && (f.type === 'chat_ack' || f.type === 'chat')) {
          // Stored by the server; the answers are lost with the connection.
          cut = false
          ws.close({ code: 1011, reason: 'connection lost (test)' })
          return
        }
        ws.send(m)
      })
    })
    await page.goto(`${base}/?match=p-pending`)
    await waitForConn(page, 'live')
    await joinChat(page, 'Alex')
    cut = true
    await sendChat(page, 'lost in transit')
    await page.waitForSelector('#chat .chat-line.unconfirmed:has-text("lost in transit") .chat-note:text-is("not confirmed")')
    expect(await page.textContent('#chat-status')).toContain('not confirmed')
    await waitForConn(page, 'live')
    expect(await page.$$('#chat .chat-line.pending')).toHaveLength(0)
    // Not resent behind the viewer's back: stored once.
    expect(await page.$$('#chat .chat-line:has-text("lost in transit")')).toHaveLength(1)
    await context.close()
  })
})

describe('commentator console', () => {
  it('posts a goal and a card; a double click posts once; a lost answer is retried with the same key', async () => {
    await createMatch(base, ADMIN, 'p-console', 'Arsenal', 'Chelsea')
    const { page, errors } = await openPage(browser, `${base}/console.html?match=p-console`)
    await page.fill('#api-key', ADMIN)
    await page.click('#signin-form button[type=submit]')
    await page.waitForSelector('#post-card:not([hidden])')
    await page.waitForFunction(() => document.querySelector('#current')?.textContent?.includes('Arsenal 0–0 Chelsea'))
    expect(await page.textContent('#whoami')).toBe('signed in as admin')

    await page.fill('#minute', '12')
    await page.fill('#note', 'Saka')
    await page.click('[data-action=goal][data-team=home]')
    await page.waitForSelector('#post-result.ok:has-text("stored as #1")')
    await page.click('[data-action=card][data-card=yellow][data-team=away]')
    await page.waitForSelector('#post-result.ok:has-text("stored as #2")')

    // A double click is one action: the button is disabled while the post is in flight.
    await page.dblclick('[data-action=card][data-card=red][data-team=home]')
    await page.waitForSelector('#post-result.ok:has-text("stored as #3")')
    await page.waitForTimeout(500)

    // The answer to a post is lost (the server stored it): the page retries with the same key.
    const keys: string[] = []
    let dropped = false
    await page.route('**/api/v1/matches/p-console/events', async (route) => {
      if (route.request().method() !== 'POST') return route.continue()
      keys.push(route.request().headers()['idempotency-key'] ?? '')
      if (!dropped) {
        dropped = true
        await route.fetch()
        return route.abort('connectionreset')
      }
      return route.continue()
    })
    await page.fill('#text-form textarea[name=text]', 'Chelsea pressing for an equaliser')
    await page.click('#text-form button[type=submit]')
    await page.waitForSelector('#post-result.ok:has-text("stored as #4")')
    expect(await page.textContent('#post-result')).toContain('already stored')
    expect(keys).toHaveLength(2)
    // A UUIDv7 made just now (its time lets ingest skip the 24-hour record lookup).
    expect(keys[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(Math.abs(Date.now() - Number.parseInt(keys[0]!.slice(0, 8) + keys[0]!.slice(9, 13), 16))).toBeLessThan(60_000)
    expect(keys[1]).toBe(keys[0])
    await page.unroute('**/api/v1/matches/p-console/events')

    const events = await storedEvents(base, 'p-console')
    expect(events.map((e) => e.kind)).toEqual(['goal', 'card', 'card', 'commentary'])
    expect(events[0]?.data).toMatchObject({ score: { home: 1, away: 0 }, minute: 12, team: 'home', player: 'Saka' })
    expect(events[1]?.data).toMatchObject({ card: 'yellow', team: 'away' })
    expect(events[2]?.data).toMatchObject({ card: 'red', team: 'home' })
    const view = await call<{ scoreboard: { home: number; away: number } }>(base, 'GET', '/v1/matches/p-console')
    expect(view.json.scoreboard).toMatchObject({ home: 1, away: 0 })

    // The stored log with its seqs.
    await page.waitForFunction(() => document.querySelectorAll('#log tr[data-seq]').length === 4)
    expect(await page.$$eval('#log tr[data-seq]', (rows) => rows.map((r) => Number((r as HTMLElement).dataset.seq)))).toEqual([4, 3, 2, 1])
    expect(errors.filter((e) => !e.includes('net::ERR_CONNECTION_RESET'))).toEqual([])
    await close(page)
  })

  it('an admin who signs out and in again sees the live chat again', async () => {
    await createMatch(base, ADMIN, 'p-mod')
    const { page } = await openPage(browser, `${base}/console.html?match=p-mod`)
    await consoleSignIn(page, ADMIN)
    await page.waitForSelector('#chat-conn:text-is("chat: live")')
    await page.click('#signout')
    expect(await page.textContent('#chat-conn')).toBe('')
    await consoleSignIn(page, ADMIN)
    await page.waitForSelector('#chat-conn:text-is("chat: live")')
    const viewer = await spectator('p-mod')
    await joinChat(viewer.page, 'Vic')
    await sendChat(viewer.page, 'spam spam')
    await page.waitForSelector('#mod-chat tr:has-text("spam spam")')
    await close(page, viewer.page)
  })

  it('keeps the API key through a reload while the API does not answer; forgets it on 401; names a character a key cannot have', async () => {
    const { page } = await openPage(browser, `${base}/console.html?match=p-mod`)
    await consoleSignIn(page, COMMENTATOR)
    await page.route('**/api/**', (r) => r.abort('connectionrefused'))
    await page.reload()
    await page.waitForSelector('#signin-result.err:has-text("Could not check the API key: the server did not answer")')
    expect(await page.evaluate(() => sessionStorage.getItem('touchline.apiKey'))).toBe(COMMENTATOR)
    expect(await page.isVisible('#signin-retry')).toBe(true)
    await page.unroute('**/api/**')
    await page.click('#signin-retry')
    await page.waitForSelector('#post-card:not([hidden])')
    expect(await page.textContent('#whoami')).toBe('signed in as commentator')

    // A key the server refuses is forgotten.
    await page.evaluate(() => sessionStorage.setItem('touchline.apiKey', 'not-a-key-of-this-server'))
    await page.reload()
    await page.waitForSelector('#signin-result.err:has-text("(401)")')
    expect(await page.evaluate(() => sessionStorage.getItem('touchline.apiKey'))).toBeNull()

    // Pasted with a zero-width space: fetch could not even send it.
    await page.fill('#api-key', `${ADMIN.slice(0, 5)}\u200b${ADMIN.slice(5)}`)
    await page.click('#signin-form button[type=submit]')
    await page.waitForSelector('#signin-result.err:has-text("invisible character (U+200B)")')
    expect(await page.textContent('#signin-result')).not.toContain('did not answer')
    await close(page)
  })

  it('two goals 100 ms apart on a slow connection make 1–1, not 0–1', async () => {
    await createMatch(base, ADMIN, 'p-race', 'Lions', 'Tigers')
    const { page } = await openPage(browser, `${base}/console.html?match=p-race`)
    await consoleSignIn(page, COMMENTATOR)
    await page.waitForFunction(() => document.querySelector('#current')?.textContent?.includes('Lions 0–0 Tigers'))
    await page.route('**/api/v1/matches/**', async (route) => {
      await sleep(300)
      await route.continue()
    })
    await page.click('[data-action=goal][data-team=home]', { noWaitAfter: true })
    await sleep(100)
    await page.click('[data-action=goal][data-team=away]', { noWaitAfter: true })
    await page.waitForSelector('#post-result.ok:has-text("goal (away) stored as #2")', { timeout: 15_000 })
    const events = await storedEvents(base, 'p-race')
    expect(events.map((e) => e.data.score)).toEqual([
      { home: 1, away: 0 },
      { home: 1, away: 1 },
    ])
    const view = await call<{ scoreboard: { home: number; away: number } }>(base, 'GET', '/v1/matches/p-race')
    expect(view.json.scoreboard).toMatchObject({ home: 1, away: 1 })
    await page.unroute('**/api/v1/matches/**')
    await close(page)
  })

  it('quick buttons with long team names stay inside the card, on a phone and on a desktop', async () => {
    const long = 'Sport Club Corinthians Paulista Associação Desportiva Recreativa e Cultural Icasa Juazeiro do Norte'
    expect([...long].length).toBeLessThanOrEqual(100)
    await createMatch(base, ADMIN, 'p-names', 'Wolverhampton Wanderers Football Club', long)
    for (const viewport of [PHONE, DESKTOP]) {
      const { page } = await openPage(browser, `${base}/console.html?match=p-names`, { viewport })
      await consoleSignIn(page, COMMENTATOR)
      await page.waitForSelector('[data-action=goal][data-team=away]:has-text("Juazeiro do Norte")')
      const r = await page.evaluate(() => {
        const card = (document.querySelector('#post-card') as HTMLElement).getBoundingClientRect()
        const outside = [...document.querySelectorAll('[data-action]')].filter((b) => {
          const x = b.getBoundingClientRect()
          return x.left < card.left - 0.5 || x.right > card.right + 0.5
        })
        return { page: document.documentElement.scrollWidth, viewport: innerWidth, outside: outside.map((b) => b.textContent) }
      })
      expect(r.page).toBeLessThanOrEqual(r.viewport)
      expect(r.outside).toEqual([])
      await close(page)
    }
  })
})

describe('screenshots', () => {
  it('of the three pages at desktop and phone sizes', async () => {
    // The demo match (EMBEDDED_DEMO=1) with a little chat.
    const [a, b] = await Promise.all([spectator('demo'), spectator('demo')])
    await chatOneLineEach(a.page, b.page, 'What a header from Lindqvist!', 'Mensah with a worldie, 1–1 now')
    await a.page.waitForFunction(() => document.querySelectorAll('#chat .chat-line.pending').length === 0)
    await close(b.page)

    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      const s = size === 'desktop' ? a : await spectator('demo', viewport)
      await s.page.waitForSelector('#feed li[data-seq="8"]')
      await s.page.screenshot({ path: join(SHOTS, `spectator-${size}.png`) })
      if (size === 'desktop' && (process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(DOC_SHOT))) {
        await s.page.screenshot({ path: DOC_SHOT })
      }
      if (s !== a) await close(s.page)

      const c = await openPage(browser, `${base}/console.html?match=demo`, { viewport })
      await c.page.fill('#api-key', ADMIN)
      await c.page.click('#signin-form button[type=submit]')
      await c.page.waitForFunction(() => document.querySelectorAll('#log tr[data-seq]').length >= 8)
      await c.page.waitForSelector('#mod-chat tr[data-id]')
      await c.page.screenshot({ path: join(SHOTS, `console-${size}.png`), fullPage: true })
      await close(c.page)

      const st = await openPage(browser, `${base}/status.html`, { viewport })
      await st.page.waitForSelector('#nodes tr[data-node]')
      await st.page.waitForSelector('#matches tr[data-match="demo"]')
      expect(await st.page.textContent('#monitor-state')).toContain('monitor not running')
      await st.page.screenshot({ path: join(SHOTS, `status-${size}.png`), fullPage: true })
      await close(st.page)
    }
    await close(a.page)
    for (const name of ['spectator', 'console', 'status']) {
      for (const size of ['desktop', 'phone']) expect(existsSync(join(SHOTS, `${name}-${size}.png`))).toBe(true)
    }
  })
})

/**
 * The commentator console: sign in with an API key (sessionStorage, this tab only), create a
 * match, post every kind of event, read the stored log with its seqs, moderate the chat.
 *
 * Every post is one user action with one Idempotency-Key, generated when the button is pressed
 * and reused by every retry of that action (automatic ones after a lost answer or a 503, and the
 * "Retry" button), so the log never gets the same event twice. The button is disabled while its
 * action is in flight, so a double click is one action. Posts that change the score run one at a
 * time (a goal adds one to the score stored after the previous one's answer).
 */
import { api, ApiCallError, apiKeyProblem, newIdempotencyKey, withRetry } from './lib/api.ts'
import { ChatLog } from './lib/chat.ts'
import { LiveConnection, sameOriginWsUrl } from './lib/connection.ts'
import { $, formatTime, h, limitChars, replace, setText } from './lib/dom.ts'
import { Feed } from './lib/feed.ts'
import { kindLabel } from './lib/render.ts'
import { charLength, LIMITS } from './lib/protocol.ts'
import type { ChatFrame, EventsReply, MatchListReply, MatchView, PostEventBody, PostEventReply, ServerFrame } from './lib/protocol.ts'
import { gatewayUrls } from './lib/page.ts'

type Role = 'admin' | 'commentator'

const KEY_STORE = 'touchline.apiKey'
const MATCH_STORE = 'touchline.console.match'

const el = {
  whoami: $('#whoami'),
  signout: $<HTMLButtonElement>('#signout'),
  signin: $('#signin'),
  signinForm: $<HTMLFormElement>('#signin-form'),
  apiKey: $<HTMLInputElement>('#api-key'),
  signinResult: $('#signin-result'),
  signinRetry: $<HTMLButtonElement>('#signin-retry'),
  matchCard: $('#match-card'),
  matchSelect: $<HTMLSelectElement>('#match-select'),
  refresh: $<HTMLButtonElement>('#refresh'),
  watchLink: $<HTMLAnchorElement>('#watch-link'),
  current: $('#current'),
  createForm: $<HTMLFormElement>('#create-form'),
  createResult: $('#create-result'),
  postCard: $('#post-card'),
  minute: $<HTMLInputElement>('#minute'),
  note: $<HTMLInputElement>('#note'),
  textForm: $<HTMLFormElement>('#text-form'),
  scoreForm: $<HTMLFormElement>('#score-form'),
  subForm: $<HTMLFormElement>('#sub-form'),
  correctForm: $<HTMLFormElement>('#correct-form'),
  retractForm: $<HTMLFormElement>('#retract-form'),
  postResult: $('#post-result'),
  retry: $<HTMLButtonElement>('#retry'),
  logCard: $('#log-card'),
  log: $('#log'),
  logCount: $('#log-count'),
  modCard: $('#mod-card'),
  watchChat: $<HTMLInputElement>('#watch-chat'),
  chatConn: $('#chat-conn'),
  modChat: $('#mod-chat'),
  deleteForm: $<HTMLFormElement>('#delete-form'),
  muteForm: $<HTMLFormElement>('#mute-form'),
  wordsForm: $<HTMLFormElement>('#words-form'),
  wordsLoad: $<HTMLButtonElement>('#words-load'),
  modResult: $('#mod-result'),
}

const s = {
  apiKey: sessionStorage.getItem(KEY_STORE),
  role: null as Role | null,
  matches: [] as MatchView[],
  matchId: null as string | null,
  current: null as MatchView | null,
  epoch: undefined as string | undefined,
  lastFailed: null as Action | null,
  /** A key whose check failed for want of an answer (not refused): what "Try again" signs in with. */
  unchecked: null as string | null,
}
const feed = new Feed()
const chat = new ChatLog(300)
/** Buttons (and forms) with an action in flight. */
const busy = new WeakSet<object>()

function show(node: HTMLElement, text: string, kind: 'ok' | 'err' | '' = ''): void {
  node.className = `result ${kind}`
  setText(node, text)
}

function describe(err: unknown): string {
  if (err instanceof ApiCallError) {
    if (err.status === 401) return 'Not signed in, or the API key is wrong (401).'
    if (err.status === 403) return `Not allowed: ${err.message} (403).`
    return `${err.message}${err.status ? ` (${err.status} ${err.code})` : ''}`
  }
  return (err as Error).message ?? String(err)
}

// ---- sign in ------------------------------------------------------------------------------

/** The key's role: GET banned-words needs admin, so 200 = admin, 403 = commentator, 401 = no key. */
async function roleOf(key: string): Promise<Role> {
  try {
    await api('/v1/chat/banned-words', { apiKey: key })
    return 'admin'
  } catch (err) {
    if (err instanceof ApiCallError && err.status === 403) return 'commentator'
    throw err
  }
}

async function signIn(key: string): Promise<void> {
  el.signinRetry.hidden = true
  s.unchecked = null
  const problem = apiKeyProblem(key)
  if (problem) {
    // It could never be sent (fetch refuses it before the network): not "the server did not answer".
    show(el.signinResult, problem, 'err')
    forgetKey()
    return
  }
  show(el.signinResult, 'Checking the API key…')
  try {
    s.role = await withRetry(() => roleOf(key), {
      onRetry: (n, err) => show(el.signinResult, `Checking the API key: retry ${n} (${describe(err)})…`),
    })
  } catch (err) {
    if (err instanceof ApiCallError && err.status === 401) {
      show(el.signinResult, describe(err), 'err')
      forgetKey()
    } else {
      // The server did not answer or failed (network, 503, 500): the key may well be right. Keep a
      // stored one, so that a moment of downtime does not sign the commentator out.
      show(el.signinResult, `Could not check the API key: ${describe(err)}`, 'err')
      s.apiKey = null
      s.unchecked = key
      el.signinRetry.hidden = false
      showSignedIn(false)
    }
    return
  }
  s.apiKey = key
  sessionStorage.setItem(KEY_STORE, key)
  show(el.signinResult, '')
  showSignedIn(true)
  await loadMatches()
  syncChatWatch()
}

function forgetKey(): void {
  sessionStorage.removeItem(KEY_STORE)
  s.apiKey = null
  showSignedIn(false)
}

function showSignedIn(on: boolean): void {
  el.signin.hidden = on
  el.signout.hidden = !on
  el.matchCard.hidden = !on
  el.postCard.hidden = !on || !s.matchId
  el.logCard.hidden = !on || !s.matchId
  // Creating matches and moderating need the admin role: a commentator does not see them.
  el.modCard.hidden = !on || !s.matchId || s.role !== 'admin'
  ;(document.querySelector('#create-details') as HTMLElement).hidden = s.role !== 'admin'
  setText(el.whoami, on && s.role ? `signed in as ${s.role}` : '')
}

el.signinForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const key = el.apiKey.value.trim()
  if (key) void signIn(key)
})
el.signinRetry.addEventListener('click', () => {
  if (s.unchecked) void signIn(s.unchecked)
})
el.signout.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE)
  s.apiKey = null
  s.role = null
  syncChatWatch()
  showSignedIn(false)
})

// ---- matches ------------------------------------------------------------------------------

async function loadMatches(select?: string): Promise<void> {
  try {
    s.matches = (await api<MatchListReply>('/v1/matches')).matches
  } catch (err) {
    show(el.createResult, `Could not load matches: ${describe(err)}`, 'err')
    return
  }
  replace(
    el.matchSelect,
    ...s.matches.map((m) => h('option', { text: `${m.home} – ${m.away} · ${m.title} (${m.id})`, attrs: { value: m.id } })),
  )
  const want = select ?? s.matchId ?? new URLSearchParams(location.search).get('match') ?? localStorage.getItem(MATCH_STORE)
  const pick = s.matches.find((m) => m.id === want) ?? s.matches[0]
  ;(el.matchSelect.closest('details') as HTMLDetailsElement | null)?.removeAttribute('open')
  if (!pick) {
    setText(el.current, 'No match yet: create one below.')
    ;(document.querySelector('#create-details') as HTMLDetailsElement).open = true
    return
  }
  selectMatch(pick.id)
}

function selectMatch(matchId: string): void {
  el.matchSelect.value = matchId
  if (matchId === s.matchId) {
    void refresh()
    return
  }
  const previous = s.matchId ?? undefined
  s.matchId = matchId
  s.current = s.matches.find((m) => m.id === matchId) ?? null
  s.epoch = undefined
  localStorage.setItem(MATCH_STORE, matchId)
  el.watchLink.href = `/?match=${encodeURIComponent(matchId)}`
  feed.clear()
  chat.clear()
  renderLog()
  renderModChat()
  updateQuickLabels()
  showSignedIn(true)
  if (wantChat()) chatConn.resubscribe(previous)
  void refresh()
}

el.matchSelect.addEventListener('change', () => selectMatch(el.matchSelect.value))
el.refresh.addEventListener('click', () => void refresh())

async function refresh(): Promise<void> {
  const matchId = s.matchId
  if (!matchId) return
  try {
    const [view] = await Promise.all([api<MatchView>(`/v1/matches/${encodeURIComponent(matchId)}`), loadLog(matchId)])
    if (matchId !== s.matchId) return
    s.current = view
    renderCurrent()
  } catch (err) {
    setText(el.current, `Could not load the match: ${describe(err)}`)
  }
}

function renderCurrent(): void {
  const m = s.current
  if (!m) return
  const b = m.scoreboard
  const bits = [`${m.home} ${b.home}–${b.away} ${m.away}`]
  if (b.period) bits.push(b.period)
  if (b.minute !== null) bits.push(`${b.minute}'`)
  bits.push(`last seq ${m.seq}`)
  setText(el.current, bits.join(' · '))
  updateQuickLabels()
}

function updateQuickLabels(): void {
  const m = s.current
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-action]')) {
    const team = b.dataset.team === 'away' ? (m?.away ?? 'away') : (m?.home ?? 'home')
    if (b.dataset.action === 'goal') b.textContent = `Goal ${team}`
    if (b.dataset.action === 'card') b.textContent = `${b.dataset.card === 'red' ? 'Red' : 'Yellow'} ${team}`
  }
}

el.createForm.addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const f = new FormData(el.createForm)
  const startsLocal = String(f.get('startsAt') ?? '')
  const startsAt = startsLocal ? new Date(startsLocal).toISOString() : new Date().toISOString()
  const body: Record<string, string> = {
    title: String(f.get('title') ?? '').trim(),
    home: String(f.get('home') ?? '').trim(),
    away: String(f.get('away') ?? '').trim(),
    startsAt,
  }
  const id = String(f.get('id') ?? '').trim()
  if (id) body.id = id
  const button = el.createForm.querySelector('button') as HTMLButtonElement
  if (busy.has(button)) return
  busy.add(button)
  button.disabled = true
  try {
    const m = await withRetry(() => api<MatchView>('/v1/matches', { method: 'POST', body, apiKey: s.apiKey }))
    show(el.createResult, `Created ${m.id}.`, 'ok')
    el.createForm.reset()
    setDefaultKickoff()
    await loadMatches(m.id)
  } catch (err) {
    show(el.createResult, describe(err), 'err')
  } finally {
    button.disabled = false
    busy.delete(button)
  }
})

function setDefaultKickoff(): void {
  const d = new Date()
  d.setSeconds(0, 0)
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16)
  ;(el.createForm.elements.namedItem('startsAt') as HTMLInputElement).value = local
}

// ---- posting ------------------------------------------------------------------------------

interface Action {
  label: string
  matchId: string
  body: PostEventBody
  /** One per user action; every retry of this action sends the same key. */
  key: string
}

function minute(): number | undefined {
  const v = el.minute.value.trim()
  if (!v) return undefined
  const n = Number(v)
  return Number.isInteger(n) && n >= 0 && n <= 200 ? n : undefined
}

function withMinute(body: PostEventBody): PostEventBody {
  const m = minute()
  return m === undefined ? body : { ...body, minute: m }
}

/**
 * Score-changing posts, one at a time. A goal reads the score and posts it plus one: two goals
 * 100 ms apart would both read 0–0 and store 1–0 and 0–1 (the board then says 0–1, not 1–1).
 * Each waits for the previous one's answer, and reads the score only then.
 */
let scoreChain: Promise<unknown> = Promise.resolve()
function oneAtATime(task: () => Promise<void>): Promise<void> {
  const next = scoreChain.then(task, task)
  scoreChain = next.catch(() => {})
  return next
}

/**
 * Run a user action from `trigger` (a button or a form): one key, retries with it, no overlap.
 * `scoring`: the action can change the score (see oneAtATime).
 */
async function run(
  trigger: HTMLButtonElement,
  label: string,
  build: () => Promise<PostEventBody | string> | PostEventBody | string,
  scoring = false,
): Promise<void> {
  const matchId = s.matchId
  if (!matchId || busy.has(trigger)) return
  busy.add(trigger)
  trigger.disabled = true
  const key = newIdempotencyKey()
  const task = async () => {
    const body = await build()
    if (typeof body === 'string') {
      show(el.postResult, body, 'err')
      return
    }
    await send({ label, matchId, body, key })
  }
  try {
    await (scoring ? oneAtATime(task) : task())
  } finally {
    trigger.disabled = false
    busy.delete(trigger)
  }
}

async function send(action: Action): Promise<boolean> {
  show(el.postResult, `Posting ${action.label}…`)
  el.retry.hidden = true
  try {
    const r = await withRetry(
      () =>
        api<PostEventReply>(`/v1/matches/${encodeURIComponent(action.matchId)}/events`, {
          method: 'POST',
          body: action.body,
          apiKey: s.apiKey,
          idempotencyKey: action.key,
        }),
      { onRetry: (n, err) => show(el.postResult, `Posting ${action.label}: retry ${n} (${describe(err)})…`) },
    )
    show(el.postResult, `${action.label} stored as #${r.seq}${r.duplicate ? ' (it was already stored: nothing new)' : ''}.`, 'ok')
    s.lastFailed = null
    void refresh()
    return true
  } catch (err) {
    show(el.postResult, `${action.label} failed: ${describe(err)}`, 'err')
    if (err instanceof ApiCallError && err.retryable) {
      s.lastFailed = action
      el.retry.hidden = false
      el.retry.textContent = `Retry ${action.label} (same key)`
    }
    return false
  }
}

el.retry.addEventListener('click', async () => {
  const action = s.lastFailed
  if (!action || busy.has(el.retry)) return
  busy.add(el.retry)
  el.retry.disabled = true
  try {
    await send(action)
  } finally {
    el.retry.disabled = false
    busy.delete(el.retry)
  }
})

/** The match as stored now, so a goal adds to the real score; an error if it cannot be read. */
async function fresh(matchId: string): Promise<MatchView | string> {
  try {
    const view = await withRetry(() => api<MatchView>(`/v1/matches/${encodeURIComponent(matchId)}`))
    if (matchId === s.matchId) {
      s.current = view
      renderCurrent()
    }
    return view
  } catch (err) {
    // A score from an older read could undo another goal: better not to post.
    return `Could not read the current score, so the goal was not posted: ${describe(err)}`
  }
}

function teamName(m: MatchView | null, team: string): string {
  return team === 'away' ? (m?.away ?? 'Away') : (m?.home ?? 'Home')
}

for (const b of document.querySelectorAll<HTMLButtonElement>('[data-action]')) {
  b.addEventListener('click', () => {
    const action = b.dataset.action
    const team = b.dataset.team === 'away' ? 'away' : 'home'
    const note = el.note.value.trim()
    if (action === 'goal') {
      const matchId = s.matchId
      const at = withMinute({ kind: 'goal' }) // the minute as it was when the button was pressed
      if (!matchId) return
      // Runs only once the score-changing posts made before it have been answered (oneAtATime).
      const build = async () => {
        const m = await fresh(matchId)
        if (typeof m === 'string') return m
        const score = { home: m.scoreboard.home + (team === 'home' ? 1 : 0), away: m.scoreboard.away + (team === 'away' ? 1 : 0) }
        const text = `GOAL! ${teamName(m, team)}${note ? ` — ${note}` : ''}`
        const data: Record<string, unknown> = { team }
        if (note) data.player = note
        return { ...at, text, score, data }
      }
      void run(b, `goal (${team})`, build, true)
    } else if (action === 'card') {
      const card = b.dataset.card === 'red' ? 'red' : 'yellow'
      void run(b, `${card} card (${team})`, () => {
        const text = `${card === 'red' ? 'Red' : 'Yellow'} card${note ? `: ${note}` : ''} (${teamName(s.current, team)})`
        const data: Record<string, unknown> = { card, team }
        if (note) data.player = note
        return withMinute({ kind: 'card', text, data })
      })
    } else if (action === 'period') {
      const period = b.dataset.period ?? ''
      void run(b, period, () => withMinute({ kind: 'period', text: b.textContent?.trim() || period, data: { period } }))
    }
  })
}

function formButton(form: HTMLFormElement): HTMLButtonElement {
  return form.querySelector('button[type=submit]') as HTMLButtonElement
}

function field(form: HTMLFormElement, name: string): string {
  return String(new FormData(form).get(name) ?? '').trim()
}

function scoreFrom(form: HTMLFormElement): { home: number; away: number } | undefined | string {
  const home = field(form, 'home')
  const away = field(form, 'away')
  if (!home && !away) return undefined
  const h2 = Number(home)
  const a2 = Number(away)
  if (!home || !away || !Number.isInteger(h2) || !Number.isInteger(a2) || h2 < 0 || a2 < 0) return 'Give both scores as whole numbers.'
  return { home: h2, away: a2 }
}

el.textForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  void run(formButton(el.textForm), 'commentary', () => {
    const text = field(el.textForm, 'text')
    const imageUrl = field(el.textForm, 'imageUrl')
    if (!text) return 'Write some text.'
    if (charLength(text) > LIMITS.eventTextMaxLength) return `At most ${LIMITS.eventTextMaxLength} characters.`
    if (imageUrl && !/^https?:\/\//.test(imageUrl)) return 'The picture URL must start with http:// or https://.'
    const body: PostEventBody = { kind: 'commentary', text }
    if (imageUrl) body.imageUrl = imageUrl
    return withMinute(body)
  }).then(() => {
    if (el.postResult.classList.contains('ok')) el.textForm.reset()
  })
})

el.scoreForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  void run(
    formButton(el.scoreForm),
    'score',
    () => {
      const score = scoreFrom(el.scoreForm)
      if (typeof score === 'string' || !score) return typeof score === 'string' ? score : 'Give both scores.'
      return withMinute({ kind: 'score', text: `Score: ${score.home}–${score.away}`, score })
    },
    true,
  )
})

el.subForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  void run(formButton(el.subForm), 'substitution', () => {
    const team = field(el.subForm, 'team') === 'away' ? 'away' : 'home'
    const off = field(el.subForm, 'off')
    const on = field(el.subForm, 'on')
    if (!off || !on) return 'Name both players.'
    return withMinute({
      kind: 'substitution',
      text: `Substitution, ${teamName(s.current, team)}: ${on} replaces ${off}`,
      data: { team, off, on },
    })
  })
})

el.correctForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  void run(
    formButton(el.correctForm),
    'correction',
    () => {
      const refSeq = Number(field(el.correctForm, 'refSeq'))
      if (!Number.isInteger(refSeq) || refSeq < 1) return 'Give the seq to correct.'
      const score = scoreFrom(el.correctForm)
      if (typeof score === 'string') return score
      const text = field(el.correctForm, 'text')
      if (!text && !score && minute() === undefined) return 'Give a new text, score or minute.'
      const body: PostEventBody = { kind: 'correction', refSeq }
      if (text) body.text = text
      if (score) body.score = score
      return withMinute(body)
    },
    true,
  )
})

el.retractForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  void run(
    formButton(el.retractForm),
    'retraction',
    () => {
      const refSeq = Number(field(el.retractForm, 'refSeq'))
      if (!Number.isInteger(refSeq) || refSeq < 1) return 'Give the seq to retract.'
      const text = field(el.retractForm, 'text')
      return text ? { kind: 'retraction', refSeq, text } : { kind: 'retraction', refSeq }
    },
    true,
  )
})

// ---- the stored log -----------------------------------------------------------------------

async function loadLog(matchId: string): Promise<void> {
  let since = feed.lastSeq
  for (let page = 0; page < 50; page++) {
    const r = await api<EventsReply>(`/v1/matches/${encodeURIComponent(matchId)}/events?since=${since}&limit=${LIMITS.eventsPageMax}`)
    if (matchId !== s.matchId) return
    if (s.epoch !== undefined && r.epoch !== s.epoch) {
      // The log was recreated: read it again from the start.
      feed.clear()
      s.epoch = r.epoch
      since = 0
      continue
    }
    s.epoch = r.epoch
    for (const e of r.events) feed.add(e)
    const last = r.events.at(-1)
    if (!last || last.seq >= r.lastSeq) break
    since = last.seq
  }
  renderLog()
}

let renderedVersion = -1
function renderLog(): void {
  if (feed.version === renderedVersion) return
  renderedVersion = feed.version
  const rows: HTMLTableRowElement[] = []
  for (const seq of allSeqsDesc()) {
    const e = feed.entry(seq)
    if (!e) continue
    const raw = feed.get(seq)
    const notes: string[] = []
    if (e.withdrawnBy !== undefined) notes.push(`withdrawn by #${e.withdrawnBy}`)
    if (e.correctedBy.length > 0) notes.push(`corrected by #${e.correctedBy.join(', #')}`)
    const ref = raw?.data.refSeq
    const text = `${typeof ref === 'number' ? `→ #${ref} ` : ''}${e.text ?? (e.kind === 'period' ? (e.period ?? '') : '')}${notes.length ? ` [${notes.join('; ')}]` : ''}`
    const correct = h('button', { class: 'secondary', text: 'Correct', on: { click: () => prefill(el.correctForm, seq, e.text) } })
    const retract = h('button', { class: 'secondary', text: 'Retract', on: { click: () => prefill(el.retractForm, seq) } })
    rows.push(
      h(
        'tr',
        { class: e.withdrawnBy !== undefined ? 'withdrawn' : '', dataset: { seq: String(seq), kind: e.kind } },
        h('td', { class: 'num', text: String(seq) }),
        h('td', { text: kindLabel(e) || 'Commentary' }),
        h('td', { class: 'num', text: e.minute !== undefined ? String(e.minute) : '' }),
        h('td', { text }),
        h('td', { text: e.score ? `${e.score.home}–${e.score.away}` : '' }),
        h('td', { text: formatTime(e.at) }),
        h('td', {}, e.kind === 'correction' || e.kind === 'retraction' ? null : h('span', { class: 'row-actions' }, correct, retract)),
      ),
    )
  }
  replace(el.log, ...rows)
  setText(el.logCount, feed.size ? `(${feed.size} events, last #${feed.lastSeq})` : '(empty)')
}

function allSeqsDesc(): number[] {
  return feed
    .after(0)
    .map((e) => e.seq)
    .reverse()
}

function prefill(form: HTMLFormElement, seq: number, text?: string): void {
  ;(form.elements.namedItem('refSeq') as HTMLInputElement).value = String(seq)
  const t = form.elements.namedItem('text') as HTMLInputElement | null
  if (t && text !== undefined) t.value = text
  form.scrollIntoView({ behavior: 'smooth', block: 'center' })
  ;(form.elements.namedItem('text') as HTMLInputElement | null)?.focus()
}

// ---- moderation ---------------------------------------------------------------------------

let liveRefresh = 0
const chatConn = new LiveConnection({
  urls: () => gatewayUrls(new URLSearchParams(location.search).get('ws'), sameOriginWsUrl()),
  target: () => (s.matchId ? { matchId: s.matchId } : null),
  token: () => null,
  onFrame: (f: ServerFrame) => {
    if ('matchId' in f && f.matchId !== s.matchId) return
    if (f.type === 'snapshot') {
      chat.clear()
      for (const c of f.chat) chat.add(c)
      renderModChat()
    } else if (f.type === 'chat') {
      if (chat.add(f)) renderModChat()
    } else if (f.type === 'chat_deleted') {
      chat.delete(f.id)
      renderModChat()
    } else if (f.type === 'event' && f.seq > feed.lastSeq) {
      // The log table follows the live stream too (read from the log, so it has no holes).
      window.clearTimeout(liveRefresh)
      liveRefresh = window.setTimeout(() => void refresh(), 100)
    }
  },
  onState: (state, info) =>
    setText(el.chatConn, `chat: ${state.replace('_', ' ')}${info.reason && state !== 'live' ? ` (${info.reason})` : ''}`),
})

async function moderate(trigger: HTMLButtonElement, label: string, call: () => Promise<unknown>): Promise<void> {
  if (busy.has(trigger)) return
  busy.add(trigger)
  trigger.disabled = true
  try {
    await withRetry(call)
    show(el.modResult, `${label}: done.`, 'ok')
  } catch (err) {
    show(el.modResult, `${label} failed: ${describe(err)}`, 'err')
  } finally {
    trigger.disabled = false
    busy.delete(trigger)
  }
}

function deleteChat(trigger: HTMLButtonElement, chatId: string): Promise<void> {
  const matchId = s.matchId as string
  return moderate(trigger, `delete #${chatId}`, () =>
    api(`/v1/matches/${encodeURIComponent(matchId)}/chat/${encodeURIComponent(chatId)}`, { method: 'DELETE', apiKey: s.apiKey }),
  )
}

function mute(trigger: HTMLButtonElement, userId: string, seconds: number): Promise<void> {
  const matchId = s.matchId as string
  return moderate(trigger, `mute ${userId} for ${seconds} s`, () =>
    api(`/v1/matches/${encodeURIComponent(matchId)}/mutes`, { method: 'POST', body: { userId, seconds }, apiKey: s.apiKey }),
  )
}

function renderModChat(): void {
  const msgs = chat.list().slice(-100).reverse()
  replace(
    el.modChat,
    ...msgs.map((c: ChatFrame) => {
      const del = h('button', { class: 'danger', text: 'Delete' })
      del.addEventListener('click', () => void deleteChat(del, c.id))
      const mut = h('button', { class: 'secondary', text: 'Mute 5 min' })
      mut.addEventListener('click', () => void mute(mut, c.user.id, 300))
      return h(
        'tr',
        { dataset: { id: c.id } },
        h('td', { class: 'num', text: c.id }),
        h('td', { text: c.user.name, title: c.user.id }),
        h('td', { text: c.text }),
        h('td', {}, h('span', { class: 'row-actions' }, del, mut)),
      )
    }),
  )
}

/** Live chat for moderation: for an admin signed in, with a match, who asked for it. */
function wantChat(): boolean {
  return s.apiKey !== null && s.role === 'admin' && s.matchId !== null && el.watchChat.checked
}

/** Start or stop the live chat as wantChat says (sign-in, sign-out, the checkbox). */
function syncChatWatch(): void {
  if (wantChat()) {
    if (!chatConn.active) chatConn.start()
    return
  }
  chatConn.stop()
  // stop() reports no state: without this the label would keep saying "chat: live".
  setText(el.chatConn, '')
  chat.clear()
  renderModChat()
}

el.watchChat.addEventListener('change', () => {
  localStorage.setItem('touchline.console.watchChat', el.watchChat.checked ? '1' : '0')
  syncChatWatch()
})

el.deleteForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const id = field(el.deleteForm, 'chatId')
  if (id && s.matchId) void deleteChat(formButton(el.deleteForm), id)
})

el.muteForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const userId = field(el.muteForm, 'userId')
  const seconds = Number(field(el.muteForm, 'seconds'))
  if (userId && s.matchId && Number.isInteger(seconds) && seconds > 0) void mute(formButton(el.muteForm), userId, seconds)
})

function wordsArea(): HTMLTextAreaElement {
  return el.wordsForm.elements.namedItem('words') as HTMLTextAreaElement
}

el.wordsLoad.addEventListener(
  'click',
  () =>
    void moderate(el.wordsLoad, 'load banned words', async () => {
      const r = await api<{ words: string[] }>('/v1/chat/banned-words', { apiKey: s.apiKey })
      wordsArea().value = r.words.join('\n')
    }),
)

el.wordsForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  const words = wordsArea()
    .value.split(/[\n,]/)
    .map((w) => w.trim())
    .filter(Boolean)
  void moderate(formButton(el.wordsForm), `save ${words.length} banned words`, async () => {
    const r = await api<{ words: string[] }>('/v1/chat/banned-words', { method: 'PUT', body: { words }, apiKey: s.apiKey })
    wordsArea().value = r.words.join('\n')
  })
})

// ---- start --------------------------------------------------------------------------------

for (const [form, name, max] of [
  [el.createForm, 'title', LIMITS.titleMaxLength],
  [el.createForm, 'home', LIMITS.teamMaxLength],
  [el.createForm, 'away', LIMITS.teamMaxLength],
  [el.textForm, 'text', LIMITS.eventTextMaxLength],
] as const) {
  limitChars(form.elements.namedItem(name) as HTMLInputElement, max)
}
el.watchChat.checked = localStorage.getItem('touchline.console.watchChat') !== '0'
setDefaultKickoff()
showSignedIn(false)
if (s.apiKey) void signIn(s.apiKey)
window.setInterval(() => {
  if (s.apiKey && s.matchId && !document.hidden) void refresh()
}, 3000)

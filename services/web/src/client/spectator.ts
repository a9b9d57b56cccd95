/**
 * The spectator page: pick a match, watch the scoreboard and the commentary, chat, see how many
 * are watching. Everything live arrives on one WebSocket (lib/connection.ts) that reconnects by
 * itself and resumes with `since` + `epoch`; the HTTP API is used for the match list, the viewer
 * token, filling a gap and refetching the scoreboard after a correction or retraction.
 *
 * The spoiler delay holds every event and chat message in a queue (lib/delay.ts) until it is
 * `delay` old; the scoreboard only moves with released events.
 */
import { api, ApiCallError, serverOffset } from './lib/api.ts'
import { Board, shownBelow } from './lib/board.ts'
import { ChatLog, PendingChats, prepareText } from './lib/chat.ts'
import { LiveConnection, sameOriginWsUrl, type ConnState, type StateInfo, type Target } from './lib/connection.ts'
import { DelayQueue } from './lib/delay.ts'
import { $, h, limitChars, replace, setText } from './lib/dom.ts'
import { Feed, isAmendment } from './lib/feed.ts'
import { FeedList, KeyedList, renderChat } from './lib/render.ts'
import { LIMITS } from './lib/protocol.ts'
import type {
  ChatFrame,
  EventFrame,
  EventsReply,
  MatchListReply,
  MatchView,
  ServerFrame,
  SnapshotFrame,
  User,
  ViewerTokenReply,
} from './lib/protocol.ts'
import { gatewayUrls, newClientId } from './lib/page.ts'

type Held = { type: 'event'; frame: EventFrame } | { type: 'chat'; frame: ChatFrame }

/** Feed items the page holds (the newest; like the chat's 200): a long match must not slow the page down. */
const FEED_MAX = 200
/** A sent chat message without its ack after this long is marked "not confirmed". */
const CHAT_ACK_TIMEOUT_MS = 10_000

const el = {
  matchSelect: $<HTMLSelectElement>('#match-select'),
  conn: $('#conn'),
  connLabel: $('#conn .label'),
  connDetail: $('#conn-detail'),
  reconnect: $<HTMLButtonElement>('#reconnect'),
  title: $('#match-title'),
  homeName: $('#home-name'),
  awayName: $('#away-name'),
  homeScore: $('#home-score'),
  awayScore: $('#away-score'),
  period: $('#period'),
  minute: $('#minute'),
  online: $('#online'),
  delay: $<HTMLSelectElement>('#delay'),
  delayNote: $('#delay-note'),
  feed: $<HTMLOListElement>('#feed'),
  feedEmpty: $('#feed-empty'),
  chat: $<HTMLOListElement>('#chat'),
  chatEmpty: $('#chat-empty'),
  nameForm: $<HTMLFormElement>('#name-form'),
  nameInput: $<HTMLInputElement>('#name-input'),
  chatForm: $<HTMLFormElement>('#chat-form'),
  chatInput: $<HTMLInputElement>('#chat-input'),
  chatAs: $('#chat-as'),
  chatStatus: $('#chat-status'),
  notice: $('#notice'),
  node: $('#node'),
  noMatches: $('#no-matches'),
}

const params = new URLSearchParams(location.search)
const storage = { token: 'touchline.viewer', name: 'touchline.name', delay: 'touchline.delay', match: 'touchline.match' }

const feed = new Feed()
const chat = new ChatLog(200)
const board = new Board()
const feedList = new FeedList(el.feed, FEED_MAX)
const chatList = new KeyedList<string>(el.chat)
const queue = new DelayQueue<Held>(release)

const s = {
  matches: [] as MatchView[],
  matchId: null as string | null,
  match: null as MatchView | null,
  epoch: undefined as string | undefined,
  hasSnapshot: false,
  /** Seqs received (held or shown) above `floor`. */
  received: new Set<number>(),
  /** Everything at or below this seq is known: the `since` of a resume. */
  contiguous: 0,
  /** The scoreboard is being rebuilt from the log (spoiler delay after a snapshot). */
  boardPending: false,
  me: null as User | null,
  token: null as string | null,
  tokenExpiresAt: 0,
  pending: new PendingChats<HTMLLIElement>(),
  gapTimer: 0,
  refetchTimer: 0,
}

// ---- the connection -----------------------------------------------------------------------

const conn = new LiveConnection({
  urls: () => gatewayUrls(params.get('ws'), sameOriginWsUrl()),
  target: (): Target | null =>
    s.matchId ? { matchId: s.matchId, ...(s.hasSnapshot ? { since: s.contiguous, epoch: s.epoch } : {}) } : null,
  token: () => (s.token && s.tokenExpiresAt > Date.now() + 5000 ? s.token : null),
  onFrame,
  onState: showState,
})

const STATE_LABEL: Record<ConnState, string> = {
  connecting: 'connecting',
  catching_up: 'catching up',
  live: 'live',
  reconnecting: 'reconnecting',
  offline: 'offline',
  no_match: 'no such match',
}

let countdown = 0
function showState(state: ConnState, info: StateInfo): void {
  el.conn.className = `conn conn-${state}`
  el.conn.dataset.state = state
  setText(el.connLabel, STATE_LABEL[state])
  window.clearInterval(countdown)
  el.reconnect.hidden = !(state === 'offline' || state === 'reconnecting')
  el.reconnect.textContent = state === 'offline' ? 'Reconnect' : 'Retry now'
  if (state === 'reconnecting' && info.retryAt) {
    const tick = () => {
      const left = Math.max(0, Math.ceil(((info.retryAt as number) - Date.now()) / 1000))
      setText(el.connDetail, `${info.reason ?? 'connection lost'}; retrying${left > 0 ? ` in ${left} s` : ''}`)
    }
    tick()
    countdown = window.setInterval(tick, 500)
  } else if (state === 'offline') {
    setText(el.connDetail, `disconnected: ${info.reason ?? 'closed'}`)
  } else {
    setText(el.connDetail, '')
  }
  if (state === 'no_match') {
    // It will not come back by itself (a match removed, or an in-memory server restarted).
    notice('This match does not exist (any more). Pick another match.', true)
    void loadMatches()
  } else if (stickyNotice) {
    el.notice.hidden = true
    stickyNotice = false
  }
  // Acks come only on the connection that carried the message: after a drop they cannot come.
  if (!conn.open) unconfirmed(s.pending.expire(Date.now(), CHAT_ACK_TIMEOUT_MS, true))
  updateChatControls()
}

function onFrame(f: ServerFrame): void {
  switch (f.type) {
    case 'welcome':
      setText(el.node, `gateway ${f.node}`)
      if (f.user) s.me = f.user
      break
    case 'snapshot':
      if (f.matchId === s.matchId) applySnapshot(f)
      break
    case 'event':
      if (f.matchId === s.matchId) receiveEvent(f)
      break
    case 'chat':
      if (f.matchId === s.matchId) receiveChat(f)
      break
    case 'chat_deleted':
      if (f.matchId === s.matchId) {
        chat.delete(f.id)
        queue.remove((x) => x.type === 'chat' && x.frame.id === f.id)
        renderChatList()
        updateDelayNote()
      }
      break
    case 'online':
      if (f.matchId === s.matchId) showOnline(f.count)
      break
    case 'subscribed':
      if (f.matchId !== s.matchId) break
      if (s.hasSnapshot && f.epoch && s.epoch && f.epoch !== s.epoch) {
        // The log was recreated under us and no reset snapshot came: start over.
        s.hasSnapshot = false
        conn.resubscribe(s.matchId)
        break
      }
      s.epoch = f.epoch ?? s.epoch
      if (f.seq > s.contiguous) scheduleGapFill()
      break
    case 'chat_ack':
      s.pending.ack(f.clientMsgId)?.node.remove()
      break
    case 'auth_ok':
      s.me = f.user
      updateChatControls()
      break
    case 'error':
      onError(f.code, f.message, f.ref, f.retryAfterMs)
      break
    default:
      break
  }
}

function onError(code: string, message: string, ref?: string, retryAfterMs?: number): void {
  const pending = ref ? s.pending.settle(ref) : undefined
  let text = message
  if (code === 'muted') text = `You are muted${retryAfterMs ? ` for ${Math.ceil(retryAfterMs / 1000)} s` : ''}.`
  else if (code === 'rate_limited') text = `Slow down: try again${retryAfterMs ? ` in ${Math.ceil(retryAfterMs / 1000)} s` : ' later'}.`
  else if (code === 'too_large') text = `Too long: at most ${LIMITS.chatTextMaxLength} characters.`
  else if (code === 'unauthorized') {
    text = 'Your chat name expired: please enter it again.'
    forgetToken()
  } else if (code === 'unknown_match') {
    text = 'This match does not exist.'
    notice(text)
  }
  if (pending) {
    pending.node.classList.remove('pending', 'unconfirmed')
    pending.node.classList.add('failed')
    pending.node.title = text
  }
  if (ref || ['muted', 'rate_limited', 'too_large', 'unauthorized', 'not_subscribed'].includes(code)) setText(el.chatStatus, text)
  else notice(text)
}

// ---- state of the chosen match --------------------------------------------------------------

function resetMatchState(): void {
  feed.clear()
  chat.clear()
  queue.clear()
  board.reset()
  s.received.clear()
  s.contiguous = 0
  s.epoch = undefined
  s.hasSnapshot = false
  s.boardPending = false
  s.pending.clear()
  feedList.clear()
  chatList.clear()
  window.clearTimeout(s.gapTimer)
}

/** When an item happened on the page's clock (server time corrected by the Date header), never in the future. */
function happened(iso: string): number {
  const t = Date.parse(iso)
  return Number.isNaN(t) ? Date.now() : Math.min(Date.now(), t - serverOffset())
}

function applySnapshot(snap: SnapshotFrame): void {
  const fresh = snap.reset === true || !s.hasSnapshot || snap.epoch !== s.epoch
  if (!fresh) {
    // A snapshot over a log we already follow: take what is new.
    for (const e of snap.events) receiveEvent(e)
    for (const c of snap.chat) receiveChat(c)
    return
  }
  resetMatchState()
  s.hasSnapshot = true
  s.epoch = snap.epoch
  s.match = snap.match
  s.contiguous = snap.seq
  const events = [...snap.events].sort((a, b) => a.seq - b.seq)
  const now = Date.now()
  const delay = queue.delayMs
  const firstHeld = delay > 0 ? events.findIndex((e) => happened(e.at) + delay > now) : -1
  if (firstHeld < 0) {
    board.seed(snap.match.scoreboard, snap.seq)
    for (const e of events) feed.add(e)
  } else {
    // Some of the snapshot is younger than the delay: show the board as it was before it.
    const shown = events.slice(0, firstHeld)
    for (const e of shown) feed.add(e)
    for (const e of events.slice(firstHeld)) queue.push({ type: 'event', frame: e }, happened(e.at))
    board.reset()
    if (events[0]?.seq === 1) for (const e of shown) board.apply(e)
    else void rebuildBoardFromLog()
  }
  for (const c of snap.chat) {
    if (delay > 0 && happened(c.at) + delay > now && c.user.id !== s.me?.id) queue.push({ type: 'chat', frame: c }, happened(c.at))
    else chat.add(c)
  }
  renderAll()
}

function receiveEvent(e: EventFrame): void {
  if (e.seq <= s.contiguous || s.received.has(e.seq)) return
  s.received.add(e.seq)
  while (s.received.has(s.contiguous + 1)) s.received.delete(++s.contiguous)
  if (s.received.size > 0) scheduleGapFill()
  queue.push({ type: 'event', frame: e }, happened(e.at))
  updateDelayNote()
}

function receiveChat(c: ChatFrame): void {
  if (chat.has(c.id)) return
  if (c.user.id === s.me?.id) {
    // Our own message: it settles its pending line also when its ack was lost.
    s.pending.echo(c.text)?.node.remove()
    chat.add(c)
    renderChatList(true)
    return
  }
  queue.push({ type: 'chat', frame: c }, happened(c.at))
  updateDelayNote()
}

function release(items: Held[]): void {
  let amended = false
  let chatChanged = false
  const changed: number[] = []
  for (const item of items) {
    if (item.type === 'event') {
      if (!feed.add(item.frame)) continue
      changed.push(...feed.affected(item.frame.seq))
      if (isAmendment(item.frame.kind)) amended = true
      if (!s.boardPending) board.apply(item.frame)
    } else if (!chat.isDeleted(item.frame.id) && chat.add(item.frame)) {
      chatChanged = true
    }
  }
  if (amended) scheduleRefetch()
  if (changed.length > 0) renderFeed(changed)
  renderBoard()
  if (chatChanged) renderChatList()
  updateDelayNote()
}

/** A seq is missing (lost on the way): read it from the log. */
function scheduleGapFill(): void {
  window.clearTimeout(s.gapTimer)
  s.gapTimer = window.setTimeout(async () => {
    const matchId = s.matchId
    if (!matchId || conn.state !== 'live') return
    const highest = Math.max(s.contiguous, ...s.received)
    if (highest <= s.contiguous) return
    try {
      const r = await api<EventsReply>(
        `/v1/matches/${encodeURIComponent(matchId)}/events?since=${s.contiguous}&limit=${LIMITS.eventsPageMax}`,
      )
      if (matchId !== s.matchId || r.epoch !== s.epoch) return
      for (const e of r.events) receiveEvent(e)
    } catch {}
  }, 1000)
}

/** After a correction or retraction: the scoreboard as the server computes it. */
function scheduleRefetch(): void {
  window.clearTimeout(s.refetchTimer)
  s.refetchTimer = window.setTimeout(async () => {
    const matchId = s.matchId
    if (!matchId) return
    try {
      const view = await api<MatchView>(`/v1/matches/${encodeURIComponent(matchId)}`)
      if (matchId !== s.matchId) return
      s.match = { ...view }
      // Under a spoiler delay, a board newer than what is shown would give the game away.
      if (!s.boardPending && (queue.delayMs === 0 || view.seq <= feed.lastSeq)) {
        board.seed(view.scoreboard, view.seq)
        for (const e of feed.after(view.seq)) board.apply(e)
      }
      renderBoard()
    } catch {}
  }, 50)
}

/** Fold the whole log up to what is shown (the snapshot did not reach back to seq 1). */
async function rebuildBoardFromLog(): Promise<void> {
  const matchId = s.matchId
  if (!matchId) return
  s.boardPending = true
  renderBoard()
  const log: EventFrame[] = []
  try {
    let since = 0
    for (let page = 0; page < 20; page++) {
      const r = await api<EventsReply>(`/v1/matches/${encodeURIComponent(matchId)}/events?since=${since}&limit=${LIMITS.eventsPageMax}`)
      log.push(...r.events)
      const last = r.events.at(-1)
      if (!last || last.seq >= r.lastSeq) break
      since = last.seq
    }
  } catch {}
  if (matchId !== s.matchId) return
  // Up to the first event still held: everything before it has been shown, or is older than the
  // snapshot (nothing of it may be shown yet when all of the snapshot is younger than the delay).
  // Then what was released while the log was being read.
  const held = queue.items().flatMap((x) => (x.type === 'event' ? [x.frame.seq] : []))
  board.rebuild(log, shownBelow(held, s.contiguous), feed.after(0))
  s.boardPending = false
  renderBoard()
}

// ---- rendering ----------------------------------------------------------------------------

function renderAll(): void {
  renderBoard()
  renderFeed()
  renderChatList(true)
  updateDelayNote()
}

function renderBoard(): void {
  const m = s.match
  setText(el.title, m ? m.title : '')
  setText(el.homeName, m ? m.home : 'Home')
  setText(el.awayName, m ? m.away : 'Away')
  const v = board.view()
  setText(el.homeScore, s.boardPending ? '–' : String(v.home))
  setText(el.awayScore, s.boardPending ? '–' : String(v.away))
  setText(el.period, v.period ?? '')
  setText(el.minute, v.minute !== null ? `${v.minute}'` : '')
  document.title = m ? `${m.home} ${v.home}–${v.away} ${m.away} · touchline` : 'touchline'
}

/** Draw the seqs that changed (Feed.affected of each new event), or the whole list. */
function renderFeed(changed?: number[]): void {
  if (changed) feedList.update(feed, changed)
  else feedList.reset(feed)
  el.feedEmpty.hidden = feedList.size > 0
}

function renderChatList(scroll = false): void {
  const box = el.chat
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40
  const msgs = chat.list()
  chatList.update(
    msgs,
    (c) => c.id,
    (c) => `${c.id}`,
    (c) => renderChat(c, c.user.id === s.me?.id),
  )
  for (const p of s.pending.values()) box.appendChild(p.node)
  el.chatEmpty.hidden = msgs.length > 0 || s.pending.size > 0
  if (scroll || atBottom) box.scrollTop = box.scrollHeight
}

function showOnline(count: number): void {
  el.online.dataset.count = String(count)
  setText(el.online, `${count} watching`)
}

function updateDelayNote(): void {
  const d = queue.delayMs
  document.body.classList.toggle('delayed', d > 0)
  if (d === 0) {
    setText(el.delayNote, 'Live: everything shows as it happens.')
    return
  }
  const held = queue.size
  setText(
    el.delayNote,
    `Spoiler delay on: events and chat appear ${Math.round(d / 1000)} s after they happen${held > 0 ? ` (${held} waiting)` : ''}.`,
  )
}

let noticeTimer = 0
/** A notice that stays until the state it describes ends (no_match). */
let stickyNotice = false
function notice(text: string, sticky = false): void {
  if (stickyNotice && !sticky) return
  setText(el.notice, text)
  el.notice.hidden = false
  stickyNotice = sticky
  window.clearTimeout(noticeTimer)
  if (sticky) return
  noticeTimer = window.setTimeout(() => {
    el.notice.hidden = true
  }, 6000)
}

// ---- match list ---------------------------------------------------------------------------

async function loadMatches(): Promise<void> {
  try {
    const r = await api<MatchListReply>('/v1/matches')
    s.matches = r.matches
  } catch (err) {
    notice(err instanceof ApiCallError ? `Could not load matches: ${err.message}` : 'Could not load matches')
    return
  }
  const current = el.matchSelect.value
  replace(el.matchSelect, ...s.matches.map((m) => h('option', { text: `${m.home} – ${m.away} · ${m.title}`, attrs: { value: m.id } })))
  el.noMatches.hidden = s.matches.length > 0
  el.matchSelect.disabled = s.matches.length === 0
  if (s.matchId) {
    el.matchSelect.value = s.matchId
    return
  }
  const wanted = params.get('match') ?? localStorage.getItem(storage.match) ?? current
  const pick = s.matches.find((m) => m.id === wanted) ?? s.matches[0]
  if (pick) selectMatch(pick.id)
}

function selectMatch(matchId: string): void {
  if (matchId === s.matchId) return
  const previous = s.matchId ?? undefined
  resetMatchState()
  s.matchId = matchId
  s.match = s.matches.find((m) => m.id === matchId) ?? null
  el.matchSelect.value = matchId
  localStorage.setItem(storage.match, matchId)
  const url = new URL(location.href)
  url.searchParams.set('match', matchId)
  history.replaceState(null, '', url)
  el.online.dataset.count = ''
  setText(el.online, '')
  renderAll()
  conn.resubscribe(previous)
}

el.matchSelect.addEventListener('change', () => selectMatch(el.matchSelect.value))
el.reconnect.addEventListener('click', () => conn.reconnectNow())
window.addEventListener('online', () => conn.reconnectNow())

// ---- spoiler delay ------------------------------------------------------------------------

function initDelay(): void {
  const fromUrl = params.get('delay')
  const stored = fromUrl ?? localStorage.getItem(storage.delay) ?? '0'
  const seconds = Math.max(0, Math.min(600, Number.parseInt(stored, 10) || 0))
  if (![...el.delay.options].some((o) => o.value === String(seconds))) {
    el.delay.appendChild(h('option', { text: `${seconds} s`, attrs: { value: String(seconds) } }))
  }
  el.delay.value = String(seconds)
  queue.setDelay(seconds * 1000)
  el.delay.addEventListener('change', () => {
    const sec = Number(el.delay.value)
    localStorage.setItem(storage.delay, String(sec))
    queue.setDelay(sec * 1000)
    updateDelayNote()
  })
}

// ---- chat ---------------------------------------------------------------------------------

function loadToken(): void {
  try {
    const saved = JSON.parse(sessionStorage.getItem(storage.token) ?? 'null') as ViewerTokenReply | null
    if (saved && Date.parse(saved.expiresAt) > Date.now() + 5000) {
      s.token = saved.token
      s.tokenExpiresAt = Date.parse(saved.expiresAt)
      s.me = saved.user
    }
  } catch {}
  el.nameInput.value = localStorage.getItem(storage.name) ?? ''
}

function forgetToken(): void {
  s.token = null
  s.tokenExpiresAt = 0
  s.me = null
  sessionStorage.removeItem(storage.token)
  updateChatControls()
}

function updateChatControls(): void {
  const named = s.token !== null && s.tokenExpiresAt > Date.now()
  el.nameForm.hidden = named
  el.chatForm.hidden = !named
  setText(el.chatAs, named && s.me ? `as ${s.me.name}` : '')
  const button = el.chatForm.querySelector('button')
  if (button) button.disabled = conn.state !== 'live'
}

el.nameForm.addEventListener('submit', async (ev) => {
  ev.preventDefault()
  const { text: name, problem } = prepareText(el.nameInput.value, 'name')
  if (problem) {
    setText(el.chatStatus, problem)
    return
  }
  if (!name) return
  const button = el.nameForm.querySelector('button') as HTMLButtonElement
  button.disabled = true
  setText(el.chatStatus, '')
  try {
    const r = await api<ViewerTokenReply>('/v1/viewers/token', { method: 'POST', body: { name } })
    sessionStorage.setItem(storage.token, JSON.stringify(r))
    localStorage.setItem(storage.name, name)
    s.token = r.token
    s.tokenExpiresAt = Date.parse(r.expiresAt)
    s.me = r.user
    conn.send({ type: 'auth', token: r.token })
    updateChatControls()
    renderChatList(true)
    el.chatInput.focus()
  } catch (err) {
    setText(el.chatStatus, err instanceof ApiCallError ? err.message : 'Could not join the chat')
  } finally {
    button.disabled = false
  }
})

el.chatForm.addEventListener('submit', (ev) => {
  ev.preventDefault()
  // Cleaned as the gateway cleans it, so that our own chat frame matches it (PendingChats.echo).
  const { text, problem } = prepareText(el.chatInput.value, 'chat')
  if (!text || !s.matchId) return
  if (problem) {
    setText(el.chatStatus, problem)
    return
  }
  if (s.tokenExpiresAt <= Date.now() + 5000) {
    forgetToken()
    setText(el.chatStatus, 'Your chat name expired: please enter it again.')
    return
  }
  const clientMsgId = newClientId()
  if (!conn.send({ type: 'chat', matchId: s.matchId, text, clientMsgId })) {
    setText(el.chatStatus, 'Not connected: your message was not sent.')
    return
  }
  setText(el.chatStatus, '')
  const node = renderChat(
    { type: 'chat', matchId: s.matchId, id: '', user: s.me ?? { id: '', name: 'you' }, text, at: new Date().toISOString() },
    true,
  )
  node.classList.add('pending')
  s.pending.add(clientMsgId, text, node, Date.now())
  window.setTimeout(() => unconfirmed(s.pending.expire(Date.now(), CHAT_ACK_TIMEOUT_MS)), CHAT_ACK_TIMEOUT_MS + 100)
  el.chatInput.value = ''
  renderChatList(true)
})

/** Messages whose ack did not come: say so on each, and do not resend them behind the viewer's back. */
function unconfirmed(list: { node: HTMLLIElement }[]): void {
  if (list.length === 0) return
  for (const { node } of list) {
    node.classList.replace('pending', 'unconfirmed')
    node.title = 'Not confirmed by the server: it may or may not have reached the chat.'
    node.appendChild(h('span', { class: 'chat-note', text: 'not confirmed' }))
  }
  setText(
    el.chatStatus,
    list.length === 1
      ? 'A message was not confirmed (the connection dropped or the server did not answer): it may not have been sent.'
      : `${list.length} messages were not confirmed (the connection dropped or the server did not answer): they may not have been sent.`,
  )
}

// ---- start --------------------------------------------------------------------------------

initDelay()
limitChars(el.nameInput, LIMITS.viewerNameMaxLength)
limitChars(el.chatInput, LIMITS.chatTextMaxLength)
loadToken()
updateChatControls()
updateDelayNote()
renderBoard()
void loadMatches()
window.setInterval(() => void loadMatches(), 15_000)

/**
 * Every kind of bad input to the API, with the status and code it must get. Run against the app
 * in-process (app.test.ts) and against real ingest processes on NATS (app.int.test.ts). Each case
 * runs on a match `m1` holding one event; afterwards the log must be unchanged.
 * Defaults: POST /v1/matches/m1/events with the commentator key.
 */
export const ADMIN_KEY = 'admin-key-0001'
export const COMMENTATOR_KEY = 'comm-key-00001'
export const MATCH = { id: 'm1', title: 'Final', home: 'Reds', away: 'Blues', startsAt: '2026-06-01T18:00:00Z' }
const admin = { authorization: `Bearer ${ADMIN_KEY}` }
const comm = { authorization: `Bearer ${COMMENTATOR_KEY}` }
const ADMIN = ADMIN_KEY

const big = 'x'.repeat(20 * 1024)
export interface BadInput {
  name: string
  method?: 'POST' | 'GET' | 'DELETE' | 'PUT'
  url?: string
  headers?: Record<string, string>
  payload?: unknown
  status: number
  code: string
  path?: string
}
export const BAD_INPUTS: BadInput[] = [
  { name: 'no API key', headers: {}, payload: { kind: 'commentary' }, status: 401, code: 'unauthorized' },
  {
    name: 'unknown API key',
    headers: { authorization: 'Bearer not-a-key-at-all' },
    payload: { kind: 'commentary' },
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'not a bearer',
    headers: { authorization: `Basic ${ADMIN}` },
    payload: { kind: 'commentary' },
    status: 401,
    code: 'unauthorized',
  },
  { name: 'commentator creating a match', url: '/v1/matches', payload: MATCH, status: 403, code: 'forbidden' },
  { name: 'commentator muting', url: '/v1/matches/m1/mutes', payload: { userId: 'u', seconds: 5 }, status: 403, code: 'forbidden' },
  { name: 'commentator deleting chat', method: 'DELETE', url: '/v1/matches/m1/chat/1', status: 403, code: 'forbidden' },
  { name: 'commentator reading banned words', method: 'GET', url: '/v1/chat/banned-words', status: 403, code: 'forbidden' },
  { name: 'unknown match', url: '/v1/matches/zz/events', payload: { kind: 'commentary' }, status: 404, code: 'unknown_match' },
  {
    name: 'bad match id',
    url: '/v1/matches/a.b/events',
    payload: { kind: 'commentary' },
    status: 400,
    code: 'bad_request',
    path: 'params/matchId',
  },
  { name: 'invalid kind', payload: { kind: 'Goal!' }, status: 400, code: 'bad_request', path: 'body/kind' },
  { name: 'missing kind', payload: { text: 'x' }, status: 400, code: 'bad_request', path: 'body/kind' },
  { name: 'unknown field', payload: { kind: 'goal', scor: 1 }, status: 400, code: 'bad_request', path: 'body/scor' },
  {
    name: 'text over the limit',
    payload: { kind: 'commentary', text: 'x'.repeat(4001) },
    status: 400,
    code: 'bad_request',
    path: 'body/text',
  },
  {
    name: 'image URL not http',
    payload: { kind: 'commentary', imageUrl: 'javascript:alert(1)' },
    status: 400,
    code: 'bad_request',
    path: 'body/imageUrl',
  },
  { name: 'negative score', payload: { kind: 'score', score: { home: -1, away: 0 } }, status: 400, code: 'bad_request' },
  {
    name: 'data too big',
    payload: { kind: 'commentary', data: { blob: 'x'.repeat(5000) } },
    status: 400,
    code: 'bad_request',
    path: 'body/data',
  },
  {
    name: 'data with a named field',
    payload: { kind: 'commentary', data: { score: { home: 9, away: 9 } } },
    status: 400,
    code: 'bad_request',
    path: 'body/data/score',
  },
  {
    name: 'correction without refSeq',
    payload: { kind: 'correction', text: 'x' },
    status: 400,
    code: 'bad_request',
    path: 'body/refSeq',
  },
  {
    name: 'refSeq past the last seq',
    payload: { kind: 'retraction', refSeq: 99 },
    status: 400,
    code: 'bad_request',
    path: 'body/refSeq',
  },
  { name: 'refSeq 0', payload: { kind: 'retraction', refSeq: 0 }, status: 400, code: 'bad_request', path: 'body/refSeq' },
  { name: 'refSeq on a goal', payload: { kind: 'goal', refSeq: 1 }, status: 400, code: 'bad_request', path: 'body/refSeq' },
  {
    name: 'malformed JSON',
    headers: { ...comm, 'content-type': 'application/json' },
    payload: '{"kind":',
    status: 400,
    code: 'bad_request',
  },
  { name: 'JSON array body', payload: [1, 2], status: 400, code: 'bad_request' },
  { name: 'empty JSON body', headers: { ...comm, 'content-type': 'application/json' }, payload: '', status: 400, code: 'bad_request' },
  { name: 'body over the limit', payload: { kind: 'commentary', text: big }, status: 413, code: 'too_large' },
  {
    name: 'wrong content type',
    headers: { ...comm, 'content-type': 'text/plain' },
    payload: 'goal',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'form content type',
    headers: { ...comm, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'kind=goal',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'Idempotency-Key too long',
    headers: { ...comm, 'idempotency-key': 'k'.repeat(201) },
    payload: { kind: 'commentary' },
    status: 400,
    code: 'bad_request',
    path: 'headers/idempotency-key',
  },
  {
    name: 'negative since',
    method: 'GET',
    url: '/v1/matches/m1/events?since=-1',
    status: 400,
    code: 'bad_request',
    path: 'querystring/since',
  },
  {
    name: 'since not a number',
    method: 'GET',
    url: '/v1/matches/m1/events?since=abc',
    status: 400,
    code: 'bad_request',
    path: 'querystring/since',
  },
  {
    name: 'limit of 10^9',
    method: 'GET',
    url: '/v1/matches/m1/events?limit=1000000000',
    status: 400,
    code: 'bad_request',
    path: 'querystring/limit',
  },
  { name: 'limit 0', method: 'GET', url: '/v1/matches/m1/events?limit=0', status: 400, code: 'bad_request', path: 'querystring/limit' },
  { name: 'unknown query parameter', method: 'GET', url: '/v1/matches/m1/events?sinse=1', status: 400, code: 'bad_request' },
  {
    name: 'mute for 0 seconds',
    url: '/v1/matches/m1/mutes',
    headers: admin,
    payload: { userId: 'u', seconds: 0 },
    status: 400,
    code: 'bad_request',
    path: 'body/seconds',
  },
  {
    name: 'mute in an unknown match',
    url: '/v1/matches/zz/mutes',
    headers: admin,
    payload: { userId: 'u', seconds: 5 },
    status: 404,
    code: 'unknown_match',
  },
  {
    name: 'delete a chat that does not exist',
    method: 'DELETE',
    url: '/v1/matches/m1/chat/12345',
    headers: admin,
    status: 404,
    code: 'not_found',
  },
  {
    name: 'bad chat id',
    method: 'DELETE',
    url: '/v1/matches/m1/chat/abc',
    headers: admin,
    status: 400,
    code: 'bad_request',
    path: 'params/chatId',
  },
  {
    name: 'banned words not a list',
    method: 'PUT',
    url: '/v1/chat/banned-words',
    headers: admin,
    payload: { words: 'x' },
    status: 400,
    code: 'bad_request',
  },
  { name: 'blank viewer name', url: '/v1/viewers/token', headers: {}, payload: { name: ' \u0007 ' }, status: 400, code: 'bad_request' },
  {
    name: 'viewer name too long',
    url: '/v1/viewers/token',
    headers: {},
    payload: { name: 'n'.repeat(41) },
    status: 400,
    code: 'bad_request',
    path: 'body/name',
  },
  { name: 'unknown route', method: 'GET', url: '/v2/matches', status: 404, code: 'not_found' },
  // What the schema's formats and lengths let through, and the routes check after them.
  ...[
    ['a leap second', '2016-12-31T23:59:60Z'],
    ['a year past 9999 in UTC', '9999-12-31T23:59:59-14:00'],
  ].map(
    ([what, startsAt]): BadInput => ({
      name: `match start at ${what}`,
      url: '/v1/matches',
      headers: admin,
      payload: { ...MATCH, id: 'm2', startsAt },
      status: 400,
      code: 'bad_request',
      path: 'body/startsAt',
    }),
  ),
  ...(
    [
      ['title', ' \u0000\u202e '],
      ['home', ' \t '],
      ['away', '\u200b\u00ad'],
    ] as const
  ).map(
    ([field, value]): BadInput => ({
      name: `match ${field} with nothing visible`,
      url: '/v1/matches',
      headers: admin,
      payload: { ...MATCH, id: 'm2', [field]: value },
      status: 400,
      code: 'bad_request',
      path: `body/${field}`,
    }),
  ),
  {
    name: 'data nested deeper than JSON.stringify recurses (under the body limit)',
    headers: { ...comm, 'content-type': 'application/json' },
    payload: `{"kind":"commentary","data":{"x":${'['.repeat(7000)}${']'.repeat(7000)}}}`,
    status: 400,
    code: 'bad_request',
    path: 'body/data',
  },
  {
    name: 'data field name over 64 characters',
    payload: { kind: 'commentary', data: { ['k'.repeat(65)]: 1 } },
    status: 400,
    code: 'bad_request',
    path: 'body/data',
  },
  { name: 'data field name empty', payload: { kind: 'commentary', data: { '': 1 } }, status: 400, code: 'bad_request', path: 'body/data' },
  {
    name: 'period of 41 characters (emoji)',
    payload: { kind: 'period', data: { period: '\u{1F600}'.repeat(41) } },
    status: 400,
    code: 'bad_request',
    path: 'body/data/period',
  },
  // Integer query parameters are plain decimal digits: nothing else is read as a number.
  ...['limit=true', 'limit=1.5', 'limit=0x3', 'limit=%201', 'limit=1e2', 'limit=', 'limit=1&limit=2'].map(
    (q): BadInput => ({
      name: `events read with ${q}`,
      method: 'GET',
      url: `/v1/matches/m1/events?${q}`,
      status: 400,
      code: 'bad_request',
      path: 'querystring/limit',
    }),
  ),
  { name: 'events read with since=false', method: 'GET', url: '/v1/matches/m1/events?since=false', status: 400, code: 'bad_request' },
  // Answered by fastify's router and Node before any route: the API's body all the same.
  { name: 'malformed percent-escape in the URL', method: 'GET', url: '/v1/matches/%ZZ', status: 400, code: 'bad_request' },
  {
    name: 'path parameter over 100 characters',
    url: `/v1/matches/${'a'.repeat(101)}/events`,
    payload: { kind: 'commentary' },
    status: 400,
    code: 'bad_request',
  },
  {
    name: 'viewer name of invisible characters',
    url: '/v1/viewers/token',
    headers: {},
    payload: { name: '\u200b\u00ad\u2060' },
    status: 400,
    code: 'bad_request',
    path: 'body/name',
  },
]

/**
 * EMBEDDED_DEMO=1: a match with a few events, posted through the API like a commentator would
 * (same validation, same scoreboard). Idempotency keys make a second start post nothing new.
 */
import type { FastifyInstance } from 'fastify'

export const DEMO_MATCH_ID = 'demo'

export async function seedDemo(app: FastifyInstance, adminKey: string): Promise<boolean> {
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' }
  const exists = await app.inject({ method: 'GET', url: `/api/v1/matches/${DEMO_MATCH_ID}` })
  if (exists.statusCode === 200) return false
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/matches',
    headers,
    payload: {
      id: DEMO_MATCH_ID,
      title: 'Demo Cup final',
      home: 'Riverside',
      away: 'Harbour Town',
      startsAt: new Date(Date.now() - 60 * 60_000).toISOString(),
    },
  })
  if (created.statusCode !== 201) throw new Error(`demo: could not create the match: ${created.statusCode} ${created.body}`)
  const events: Array<Record<string, unknown>> = [
    { kind: 'period', text: 'Kick-off', minute: 0, data: { period: '1st half' } },
    { kind: 'commentary', text: 'A bright start from Riverside, pressing high.', minute: 4 },
    {
      kind: 'card',
      text: 'Yellow card: Okafor (Harbour Town), late tackle',
      minute: 17,
      data: { card: 'yellow', team: 'away', player: 'Okafor' },
    },
    {
      kind: 'goal',
      text: 'GOAL! Riverside — Lindqvist heads in from the corner',
      minute: 23,
      score: { home: 1, away: 0 },
      data: { team: 'home' },
    },
    { kind: 'period', text: 'Half-time', minute: 45, data: { period: 'Half-time' } },
    { kind: 'period', text: 'Second half under way', minute: 46, data: { period: '2nd half' } },
    {
      kind: 'goal',
      text: 'GOAL! Harbour Town — Mensah curls it into the top corner',
      minute: 58,
      score: { home: 1, away: 1 },
      data: { team: 'away' },
    },
    {
      kind: 'substitution',
      text: 'Substitution, Riverside: Costa replaces Byrne',
      minute: 63,
      data: { team: 'home', off: 'Byrne', on: 'Costa' },
    },
  ]
  for (const [i, body] of events.entries()) {
    const r = await app.inject({
      method: 'POST',
      url: `/api/v1/matches/${DEMO_MATCH_ID}/events`,
      headers: { ...headers, 'idempotency-key': `demo-seed-${i}` },
      payload: body,
    })
    if (r.statusCode !== 201) throw new Error(`demo: event ${i} answered ${r.statusCode} ${r.body}`)
  }
  return true
}

/**
 * The ingest HTTP API called on an ingest process directly (no nginx in front, so no /api
 * prefix), as the e2e files that start their own ingest use it. The pages tests go through nginx
 * or the embedded process under /api: see `call` in browser.ts.
 */
import { expect } from 'vitest'
import { type ApiRequestOptions, apiRequestInit } from './http.ts'

export interface IngestReply<T> {
  status: number
  /** The parsed JSON answer; `{}` when the answer has no body. */
  body: T
}

export async function ingestRequest<T = Record<string, unknown>>(
  ingestUrl: string,
  method: string,
  path: string,
  options: ApiRequestOptions = {},
): Promise<IngestReply<T>> {
  const res = await fetch(`${ingestUrl}${path}`, apiRequestInit(method, options))
  const text = await res.text()
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T }
}

/** Create a match with the admin key; the test fails, showing the answer, unless it is 201. */
export async function createMatchOnIngest(ingestUrl: string, adminKey: string, id: string, title: string): Promise<void> {
  const r = await ingestRequest(ingestUrl, 'POST', '/v1/matches', {
    key: adminKey,
    body: { id, title, home: 'Home', away: 'Away', startsAt: new Date().toISOString() },
  })
  expect(r.status, JSON.stringify(r.body)).toBe(201)
}

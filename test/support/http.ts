/** How the e2e tests call touchline's JSON API, directly on ingest (ingest.ts) or under /api (browser.ts). */

export interface ApiRequestOptions {
  /** API key sent as `Authorization: Bearer`; none when undefined. */
  key?: string | undefined
  /** Sent as JSON, with its content-type; no body when undefined. */
  body?: unknown
  /** Added last, so they may replace the two above (e.g. `idempotency-key`). */
  headers?: Record<string, string>
}

/** The `fetch` options of one API call. */
export function apiRequestInit(method: string, options: ApiRequestOptions = {}): RequestInit {
  const { key, body, headers = {} } = options
  return {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }
}

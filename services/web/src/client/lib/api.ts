/**
 * Calls to the HTTP API (same origin, under /api). Errors come back as ApiCallError with the
 * API's stable `code`. Writes can carry an Idempotency-Key; `withRetry` repeats a request with
 * the same key, so a retry after a lost answer never stores a second event.
 */
export const API_BASE = '/api'

export class ApiCallError extends Error {
  override name = 'ApiCallError'
  readonly status: number
  readonly code: string
  readonly retryAfterMs: number | undefined
  constructor(status: number, code: string, message: string, retryAfterMs?: number) {
    super(message)
    this.status = status
    this.code = code
    this.retryAfterMs = retryAfterMs
  }
  /** Worth repeating: nothing was stored (503), too fast (429), or the answer was lost (network). */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504
  }
}

/** Server clock minus page clock, from the last answer's Date header (1 s resolution). */
let serverOffsetMs = 0
export function serverOffset(): number {
  return serverOffsetMs
}

export interface CallOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE'
  body?: unknown
  apiKey?: string | null
  idempotencyKey?: string
  signal?: AbortSignal
  /** Absolute path on this origin instead of API_BASE + path (e.g. /monitor/status). */
  raw?: boolean
}

/**
 * Why `key` cannot be an API key, or undefined. It travels in the Authorization header, which
 * carries Latin-1 only: fetch throws on anything else before sending (a zero-width space or a "…"
 * pasted along with the key, typically), and control characters never belong in one either.
 */
export function apiKeyProblem(key: string): string | undefined {
  for (const ch of key) {
    const c = ch.codePointAt(0) as number
    if (c >= 0x20 && c !== 0x7f && (c < 0x80 || c > 0x9f) && c <= 0xff) continue
    const hex = `U+${c.toString(16).toUpperCase().padStart(4, '0')}`
    const visible = /[\p{L}\p{N}\p{P}\p{S}]/u.test(ch)
    return `The API key contains ${visible ? `"${ch}" (${hex})` : `an invisible character (${hex})`}, which an API key cannot have: copy the key again without it.`
  }
  return undefined
}

export async function api<T>(path: string, options: CallOptions = {}): Promise<T> {
  // Not an ApiCallError: nothing went over the network, and a retry cannot help.
  const keyProblem = options.apiKey ? apiKeyProblem(options.apiKey) : undefined
  if (keyProblem) throw new Error(keyProblem)
  const headers: Record<string, string> = { accept: 'application/json' }
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`
  if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey
  let res: Response
  try {
    res = await fetch(options.raw ? path : API_BASE + path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      signal: options.signal ?? null,
      cache: 'no-store',
    })
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err
    throw new ApiCallError(0, 'network', 'the server did not answer')
  }
  const date = res.headers.get('date')
  if (date) {
    const t = Date.parse(date)
    if (!Number.isNaN(t)) serverOffsetMs = t - Date.now()
  }
  const text = await res.text().catch(() => '')
  let body: unknown
  try {
    body = text ? JSON.parse(text) : undefined
  } catch {
    body = undefined
  }
  if (!res.ok) {
    const e = (body ?? {}) as { code?: string; message?: string }
    const retryAfter = Number(res.headers.get('retry-after'))
    throw new ApiCallError(
      res.status,
      e.code ?? `http_${res.status}`,
      e.message ?? `${res.status} ${res.statusText}`,
      Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    )
  }
  return body as T
}

/**
 * A fresh Idempotency-Key: a UUIDv7 (its time lets ingest skip the 24-hour record lookup while
 * the key is young; see @touchline/protocol idempotency.ts). Made with getRandomValues, so it
 * works on plain-http origins, unlike randomUUID.
 */
export { newIdempotencyKey } from './protocol.ts'

export interface RetryOptions {
  attempts?: number
  baseMs?: number
  onRetry?: (attempt: number, err: ApiCallError) => void
}

/** Run `call` again on retryable failures (network, 429, 503), with backoff; the caller keeps the same key. */
export async function withRetry<T>(call: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4
  for (let i = 0; ; i++) {
    try {
      return await call()
    } catch (err) {
      if (!(err instanceof ApiCallError) || !err.retryable || i + 1 >= attempts) throw err
      options.onRetry?.(i + 1, err)
      const wait = err.retryAfterMs ?? (options.baseMs ?? 300) * 2 ** i
      await new Promise((r) => setTimeout(r, Math.min(wait, 5000)))
    }
  }
}

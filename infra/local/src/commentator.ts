/**
 * A commentator's HTTP client as the API asks clients to behave: every post carries an
 * Idempotency-Key and is retried with the same key on a connection error, 502, 503 or 504. A
 * retry is needed in normal operation: an nginx reload closes idle keep-alive connections, and a
 * request written at that instant fails on the client's side.
 */
export interface ApiReply {
  status: number
  json: Record<string, unknown> | undefined
  attempts: number
}

export async function apiRequest(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; key?: string; idempotencyKey?: string; retries?: number } = {},
): Promise<ApiReply> {
  const retries = options.retries ?? 8
  let lastError: unknown
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    try {
      const res = await fetch(`${base}/api${path}`, {
        method,
        headers: {
          ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(10_000),
      })
      const json = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined
      // Only safe to repeat a write when it carries an idempotency key.
      const retryable = res.status === 502 || res.status === 503 || res.status === 504
      if (retryable && (method === 'GET' || options.idempotencyKey) && attempt <= retries) {
        await new Promise((r) => setTimeout(r, 25 * attempt))
        continue
      }
      return { status: res.status, json, attempts: attempt }
    } catch (err) {
      lastError = err
      if (!(method === 'GET' || options.idempotencyKey) || attempt > retries) break
      await new Promise((r) => setTimeout(r, 25 * attempt))
    }
  }
  throw new Error(`${method} ${path} failed: ${(lastError as Error)?.message ?? 'no answer'}`)
}

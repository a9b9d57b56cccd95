/** Helpers shared by the checks. */
import { performance } from 'node:perf_hooks'

/**
 * `scheme://user:pass@` → `scheme://`, anywhere in a text. Error texts end up in /status (public,
 * CORS *), /readyz, alerts and logs, and some libraries quote the URL they were given.
 */
export function redactCredentials(text: string): string {
  // As URL parsers read it, the userinfo ends at the last `@` before the path, query or fragment.
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi, '$1')
}

/**
 * fetch refuses a URL with credentials in it: send them as HTTP Basic (RFC 7617), which is what
 * `http://user:pass@host/` asks for, and fetch the URL without them.
 */
export function splitCredentials(url: string): { url: string; authorization?: string } {
  const u = new URL(url)
  if (!u.username && !u.password) return { url }
  const pair = `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`
  return { url: redactCredentials(url), authorization: `Basic ${Buffer.from(pair).toString('base64')}` }
}

/** A short reason from an error: the system error code and address when there is one (fetch hides it in `cause`). */
export function errorText(err: unknown): string {
  return redactCredentials(rawErrorText(err))
}

function rawErrorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return 'timed out'
  const cause = (err as Error & { cause?: unknown }).cause
  const inner = cause instanceof Error ? cause : err
  const e = inner as NodeJS.ErrnoException & { address?: string; port?: number; errors?: unknown[] }
  if (e.code && e.address) return `${e.code} ${e.address}${e.port ? `:${e.port}` : ''}`
  if (e.code) return inner.message?.includes(e.code) ? inner.message : `${e.code}: ${inner.message}`
  // AggregateError (e.g. connect to several addresses): the first one says enough.
  if (Array.isArray(e.errors) && e.errors[0]) return rawErrorText(e.errors[0])
  return inner.message || inner.name
}

/** Reject with a TimeoutError-like error when `signal` aborts; `onLate` gets a value that arrives too late (to close it). */
export function withAbort<T>(p: Promise<T>, signal: AbortSignal, onLate?: (value: T) => void): Promise<T> {
  if (signal.aborted) {
    p.then((v) => onLate?.(v)).catch(() => {})
    return Promise.reject(abortError())
  }
  return new Promise<T>((resolve, reject) => {
    let done = false
    const onAbort = () => {
      if (done) return
      done = true
      reject(abortError())
    }
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        if (done) onLate?.(v)
        else {
          done = true
          resolve(v)
        }
      },
      (err) => {
        signal.removeEventListener('abort', onAbort)
        if (!done) {
          done = true
          reject(err)
        }
      },
    )
  })
}

function abortError(): Error {
  const e = new Error('timed out')
  e.name = 'TimeoutError'
  return e
}

export function since(t0: number): number {
  return Math.round((performance.now() - t0) * 100) / 100
}

export { performance }

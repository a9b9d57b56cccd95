/** Helpers shared by the checks. */
import { performance } from 'node:perf_hooks'

/** A short reason from an error: the system error code and address when there is one (fetch hides it in `cause`). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err)
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return 'timed out'
  const cause = (err as Error & { cause?: unknown }).cause
  const inner = cause instanceof Error ? cause : err
  const e = inner as NodeJS.ErrnoException & { address?: string; port?: number; errors?: unknown[] }
  if (e.code && e.address) return `${e.code} ${e.address}${e.port ? `:${e.port}` : ''}`
  if (e.code) return inner.message?.includes(e.code) ? inner.message : `${e.code}: ${inner.message}`
  // AggregateError (e.g. connect to several addresses): the first one says enough.
  if (Array.isArray(e.errors) && e.errors[0]) return errorText(e.errors[0])
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

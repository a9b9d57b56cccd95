/**
 * HTTP health: GET a URL. 2xx = up; 503 whose JSON body says `status: "degraded"` = degraded
 * (the service works with something missing); 503 `status: "draining"` is a failure marked as
 * draining (a clean stop in progress); anything else, or no answer in time, = failure.
 */
import type { Check, Observation } from '../types.ts'
import { errorText, performance, since, splitCredentials } from './util.ts'

export interface HttpProbe {
  status: number
  body: unknown
  text: string
  latencyMs: number
}

const MAX_BODY = 256 * 1024

/**
 * GET `url` and read its body (at most 256 KiB); throws on network errors and timeouts. Credentials
 * in the URL are sent as Basic authorization (fetch refuses them in the URL).
 */
export async function httpGet(url: string, signal: AbortSignal, accept = 'application/json'): Promise<HttpProbe> {
  const t0 = performance.now()
  const { url: bare, authorization } = splitCredentials(url)
  const res = await fetch(bare, {
    signal,
    redirect: 'manual',
    headers: { accept, 'user-agent': 'touchline-monitor', 'cache-control': 'no-cache', ...(authorization ? { authorization } : {}) },
  })
  let text = ''
  if (res.body) {
    const reader = res.body.getReader()
    const dec = new TextDecoder()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      text += dec.decode(value, { stream: true })
      if (text.length > MAX_BODY) {
        await reader.cancel().catch(() => {})
        break
      }
    }
  }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {}
  return { status: res.status, body, text, latencyMs: since(t0) }
}

/** Turn a health answer into an observation (shared by http, nginx and gateway checks). */
export function classifyHealth(p: HttpProbe, okStatus: (s: number) => boolean): Observation {
  const b = p.body && typeof p.body === 'object' ? (p.body as { status?: unknown; checks?: unknown }) : undefined
  const said = typeof b?.status === 'string' ? b.status : undefined
  if (okStatus(p.status)) return { result: 'ok', latencyMs: p.latencyMs }
  const detail = b?.checks && typeof b.checks === 'object' ? ` ${summarize(b.checks as Record<string, unknown>)}` : ''
  if (p.status === 503 && said === 'degraded') return { result: 'degraded', error: `degraded (HTTP 503)${detail}`, latencyMs: p.latencyMs }
  if (p.status === 503 && said === 'draining')
    return { result: 'fail', draining: true, error: 'draining (HTTP 503)', latencyMs: p.latencyMs }
  return { result: 'fail', error: `HTTP ${p.status}${said ? ` (status ${said})` : ''}${detail}`, latencyMs: p.latencyMs }
}

function summarize(checks: Record<string, unknown>): string {
  return Object.entries(checks)
    .filter(([, v]) => v !== 'ok')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ')
    .slice(0, 300)
}

export const is2xx = (s: number) => s >= 200 && s < 300

export function httpCheck(url: string, okStatus: (s: number) => boolean = is2xx): Check {
  return {
    async run(signal) {
      const t0 = performance.now()
      try {
        return classifyHealth(await httpGet(url, signal), okStatus)
      } catch (err) {
        return { result: 'fail', error: errorText(err), latencyMs: since(t0) }
      }
    },
  }
}

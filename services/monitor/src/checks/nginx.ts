/**
 * nginx: a request through the load balancer (e.g. http://lb/api/healthz or /). Up when nginx
 * answers 2xx or 3xx; a 502/504 from nginx means its upstreams are gone, which is a failure.
 * A 503 with a degraded body (ingest answering through nginx) is degraded.
 */
import type { Check } from '../types.ts'
import { httpCheck } from './http.ts'

export function nginxCheck(url: string): Check {
  return httpCheck(url, (s) => s >= 200 && s < 400)
}

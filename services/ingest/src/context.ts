/** What every ingest route plugin receives: the dependencies and the shared helpers built once. */
import type { Bus } from '@touchline/bus'
import type { ApiKey } from '@touchline/config'
import type { PresenceStore } from '@touchline/presence'
import { ApiError } from '@touchline/protocol'
import type { Registry } from 'prom-client'
import type { KeyRing } from './auth.ts'
import type { IngestMetrics } from './metrics.ts'

export interface IngestDeps {
  bus: Bus
  presence: PresenceStore
  /** Role:key pairs; stored only as SHA-256 digests. */
  apiKeys: ApiKey[]
  /** A key ring to use instead of one built from `apiKeys` (main.ts keeps it to reload keys on SIGHUP). */
  keyRing?: KeyRing
  /** HMAC secret for viewer tokens; gateways verify with the same one. */
  tokenSecret: string
  /** Where the `touchline_ingest_*` metrics live (shared with the gateway in embedded mode). */
  registry: Registry
  /** Life of a viewer token, seconds. Default 4 hours (a match and its extra time, with margin). */
  viewerTokenTtlSec?: number
  /** Viewer tokens per client address per window. Default 20 per minute. */
  viewerTokenRateLimit?: { max: number; windowMs: number }
  /** Serve /docs (OpenAPI page and JSON). Default true. */
  docs?: boolean
  /** Serve /metrics from `registry`. Default true (the embedded mode may serve it once itself). */
  metricsRoute?: boolean
  /** Shown by /healthz. */
  nodeId?: string
}

export interface IngestContext {
  deps: Required<Omit<IngestDeps, 'nodeId' | 'keyRing'>> & { nodeId: string | undefined }
  keys: KeyRing
  metrics: IngestMetrics
  /** True once the app is closing: /readyz answers 503. */
  isClosing(): boolean
}

/** Error replies every route may give, for the route schemas (and so the OpenAPI page). */
export function errorReplies<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: typeof ApiError } {
  const out: Record<number, typeof ApiError> = {}
  for (const s of statuses) out[s] = ApiError
  return out as { [K in S[number]]: typeof ApiError }
}

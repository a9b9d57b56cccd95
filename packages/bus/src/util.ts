/** Small helpers shared by MemoryBus and NatsBus, so both apply the same rules. */
import type { EventData } from '@touchline/protocol'
import type { RetentionOptions } from './types.ts'

/** An idempotency key is remembered at least this long (the Bus contract says 24 h). */
export const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000

export const DEFAULT_RETENTION: Required<RetentionOptions> = {
  maxEventsPerMatch: 100_000,
  maxAgeMs: 30 * 24 * 3600 * 1000,
  maxChatPerMatch: 1000,
  chatMaxAgeMs: 7 * 24 * 3600 * 1000,
}

/** Identifies "the same event" for idempotency: kind and data, as JSON with sorted keys. */
export function eventFingerprint(kind: string, data: EventData): string {
  return JSON.stringify([kind, sortKeys(data)])
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v).sort()) out[k] = sortKeys((v as Record<string, unknown>)[k])
    return out
  }
  return v
}

/** A subscriber threw: report it and carry on with the others. */
export function reportListenerError(err: unknown): void {
  console.error('[bus] subscriber threw:', err)
}

/**
 * The monitor's vocabulary: what is watched (TargetSpec), what one check saw (Observation), the
 * state a target is in (TargetState) and what is sent when that state changes (Alert).
 */

/** Kinds a configuration may name. `gateway` is an HTTP health check plus the fan-out latency objective. */
export const TARGET_KINDS = ['tcp', 'http', 'nats', 'redis', 'nginx', 'gateway'] as const
export type TargetKind = (typeof TARGET_KINDS)[number]
/**
 * `channel` is an alert channel the monitor watches about itself (e.g. `alerts:email`); `canary`
 * is the canary event posted through ingest (see checks/canary.ts).
 */
export type AnyKind = TargetKind | 'channel' | 'canary'

export type TargetState = 'up' | 'down' | 'degraded' | 'unknown'

export interface TargetSpec {
  /** Unique among targets; the key of state, metrics and alerts. */
  name: string
  kind: AnyKind
  /** A URL, or `host:port` for tcp. */
  target: string
  intervalMs: number
  timeoutMs: number
  /** Consecutive failed checks before the target goes down. */
  failThreshold: number
  /** Consecutive checks of a new good-ish result (up, degraded) before the target takes it. */
  recoverThreshold: number
  /** Fan-out p99 objective in ms (gateway kind only). */
  latencyP99Ms: number
  /** Window of the p99 computation in ms (gateway kind only). */
  latencyWindowMs: number
  /** Found in presence rather than configured. */
  discovered: boolean
  /** Presence node id, for discovered gateways. */
  node?: string
}

export type ObservationResult = 'ok' | 'degraded' | 'fail'

export interface Observation {
  result: ObservationResult
  /** Why it is not ok (present for degraded and fail). */
  error?: string
  latencyMs: number
  /** The health endpoint said it is draining (a clean stop in progress). */
  draining?: boolean
  /** Gateway fan-out p99 over the window, in ms, when there was traffic in it. */
  p99Ms?: number
}

/** One check of one target. `run` must settle by itself soon after `signal` aborts. */
export interface Check {
  run(signal: AbortSignal): Promise<Observation>
  close?(): Promise<void>
}

export type AlertType = 'down' | 'recovered' | 'degraded' | 'reminder'

export interface Alert {
  /** Stable for one change of one target: receivers may use it to drop repeats. */
  id: string
  type: AlertType
  target: { name: string; kind: AnyKind; target: string; discovered: boolean; node?: string }
  state: TargetState
  previous: TargetState
  /** ISO time the target entered `state`. */
  since: string
  /** ISO time the alert was made. */
  at: string
  error?: string
  latencyMs?: number
  p99Ms?: number
  /** One human line: what happened to which target, and why. */
  message: string
  monitor: { host: string; version: string }
}

/** What GET /status returns; the ops status page reads exactly this shape. */
export interface StatusReply {
  monitor: { startedAt: string; intervalMs: number; version: string }
  targets: Array<{
    name: string
    kind: AnyKind
    target: string
    state: TargetState
    since: string | null
    lastError: string | null
    latencyMs: number | null
    lastCheck: string | null
    discovered: boolean
    node?: string
    p99Ms?: number | null
  }>
  alerts: { sent: number; failed: number; pending: number; channels: Record<string, { sent: number; failed: number; pending: number }> }
}

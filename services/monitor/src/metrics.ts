/**
 * The monitor's own Prometheus metrics, in a registry of its own (so tests can build several apps
 * in one process). Per-target series are removed when a discovered target is dropped.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { AnyKind, TargetState } from './types.ts'

const STATES: TargetState[] = ['up', 'down', 'degraded', 'unknown']

export class MonitorMetrics {
  readonly registry: Registry
  readonly checkDuration: Histogram<'target' | 'kind' | 'result'>
  readonly targetState: Gauge<'target' | 'kind' | 'state'>
  readonly alertsSent: Counter<'channel' | 'type'>
  readonly alertsFailed: Counter<'channel'>
  readonly alertAttemptsFailed: Counter<'channel'>
  readonly alertsDropped: Counter<'channel' | 'reason'>
  readonly alertsPending: Gauge<'channel'>
  readonly drift: Histogram
  readonly skipped: Counter<'target'>
  readonly fanoutP99: Gauge<'target'>

  constructor(options: { pending?: () => Record<string, number>; defaultMetrics?: boolean } = {}) {
    const registry = new Registry()
    this.registry = registry
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'touchline_monitor_' })
    this.checkDuration = new Histogram({
      name: 'touchline_monitor_check_duration_seconds',
      help: 'Duration of one check, per target and result (ok, degraded, fail)',
      labelNames: ['target', 'kind', 'result'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
    this.targetState = new Gauge({
      name: 'touchline_monitor_target_state',
      help: 'Current state of each target: 1 for the state it is in, 0 for the others',
      labelNames: ['target', 'kind', 'state'],
      registers: [registry],
    })
    this.alertsSent = new Counter({
      name: 'touchline_monitor_alerts_sent_total',
      help: 'Alerts delivered, per channel and alert type',
      labelNames: ['channel', 'type'],
      registers: [registry],
    })
    this.alertsFailed = new Counter({
      name: 'touchline_monitor_alerts_failed_total',
      help: 'Alerts given up on (all retries failed, dropped from a full queue, or abandoned at shutdown)',
      labelNames: ['channel'],
      registers: [registry],
    })
    this.alertAttemptsFailed = new Counter({
      name: 'touchline_monitor_alert_attempts_failed_total',
      help: 'Failed delivery attempts (each retry counts)',
      labelNames: ['channel'],
      registers: [registry],
    })
    this.alertsDropped = new Counter({
      name: 'touchline_monitor_alerts_dropped_total',
      help: 'Alerts given up on without a complete attempt: queue_full (pushed out of a full queue) or shutdown (abandoned at exit)',
      labelNames: ['channel', 'reason'],
      registers: [registry],
    })
    const pending = options.pending
    this.alertsPending = new Gauge({
      name: 'touchline_monitor_alerts_pending',
      help: 'Alerts waiting for delivery (queued or being retried), per channel',
      labelNames: ['channel'],
      registers: [registry],
      collect() {
        if (!pending) return
        for (const [channel, n] of Object.entries(pending())) this.set({ channel }, n)
      },
    })
    this.drift = new Histogram({
      name: 'touchline_monitor_schedule_drift_seconds',
      help: 'How late each check started compared with its planned time',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    })
    this.skipped = new Counter({
      name: 'touchline_monitor_checks_skipped_total',
      help: 'Ticks skipped because the previous check of the target was still running',
      labelNames: ['target'],
      registers: [registry],
    })
    this.fanoutP99 = new Gauge({
      name: 'touchline_monitor_gateway_fanout_p99_seconds',
      help: 'Fan-out latency p99 of each gateway over the monitor window',
      labelNames: ['target'],
      registers: [registry],
    })
  }

  setState(target: string, kind: AnyKind, state: TargetState): void {
    for (const s of STATES) this.targetState.set({ target, kind, state: s }, s === state ? 1 : 0)
  }

  /** Forget a target's series (a discovered gateway that left). */
  removeTarget(target: string, kind: AnyKind): void {
    for (const s of STATES) this.targetState.remove({ target, kind, state: s })
    for (const result of ['ok', 'degraded', 'fail']) this.checkDuration.remove({ target, kind, result })
    this.skipped.remove({ target })
    this.fanoutP99.remove({ target })
  }
}

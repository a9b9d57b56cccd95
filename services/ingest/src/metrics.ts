/**
 * Ingest's Prometheus metrics, all named `touchline_ingest_*`, on a registry passed in (the
 * embedded mode shares one registry between ingest and the gateway). Creating them twice on the
 * same registry (two apps in one test) reuses the first ones instead of throwing.
 * The default process metrics are registered by main.ts, never here.
 */
import { Counter, Histogram, type Registry } from 'prom-client'

export interface IngestMetrics {
  requests: Counter<'method' | 'route' | 'status'>
  requestSeconds: Histogram<'method' | 'route' | 'status'>
  eventsStored: Counter<'kind' | 'result'>
  appendSeconds: Histogram<'result'>
  boardLagFolds: Counter
}

function get<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make()
}

export function ingestMetrics(registry: Registry): IngestMetrics {
  const registers = [registry]
  return {
    requests: get(
      registry,
      'touchline_ingest_http_requests_total',
      () =>
        new Counter({
          name: 'touchline_ingest_http_requests_total',
          help: 'HTTP requests answered by ingest, by method, route pattern and status',
          labelNames: ['method', 'route', 'status'] as const,
          registers,
        }),
    ),
    requestSeconds: get(
      registry,
      'touchline_ingest_http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'touchline_ingest_http_request_duration_seconds',
          help: 'HTTP request latency in ingest, by method, route pattern and status',
          labelNames: ['method', 'route', 'status'] as const,
          buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers,
        }),
    ),
    eventsStored: get(
      registry,
      'touchline_ingest_events_stored_total',
      () =>
        new Counter({
          name: 'touchline_ingest_events_stored_total',
          help: 'Event posts by kind and result (stored, duplicate: an Idempotency-Key retry)',
          labelNames: ['kind', 'result'] as const,
          registers,
        }),
    ),
    appendSeconds: get(
      registry,
      'touchline_ingest_append_duration_seconds',
      () =>
        new Histogram({
          name: 'touchline_ingest_append_duration_seconds',
          help: 'Time for the bus to store an event durably (ok) or fail (error)',
          labelNames: ['result'] as const,
          buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          registers,
        }),
    ),
    boardLagFolds: get(
      registry,
      'touchline_ingest_board_lag_folds_total',
      () =>
        new Counter({
          name: 'touchline_ingest_board_lag_folds_total',
          help: 'Times a read found the stored scoreboard behind the log by events older than 5 s (a missed fold) and wrote the caught-up board back',
          registers,
        }),
    ),
  }
}

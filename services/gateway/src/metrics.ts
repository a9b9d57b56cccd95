/**
 * Prometheus metrics of one gateway (all named touchline_gateway_*). Counters are read from the
 * plain `GatewayStats` fields at scrape time, so the hot path only increments numbers. Default
 * process metrics are not registered here: the process (main.ts) decides, since the embedded mode
 * shares one Registry between ingest and gateway.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Gateway } from './gateway.ts'
import type { GatewayStats } from './stats.ts'

export interface GatewayMetrics {
  fanout: Histogram
}

type NumericKey = { [K in keyof GatewayStats]: GatewayStats[K] extends number ? K : never }[keyof GatewayStats]

export function registerGatewayMetrics(registry: Registry, gw: Gateway): GatewayMetrics {
  const registers = [registry]
  const stats = gw.stats

  const counter = (name: string, help: string, key: NumericKey) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(stats[key])
      },
    })
  const labelled = (name: string, help: string, label: string, read: () => Record<string, number>) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers,
      collect() {
        this.reset()
        for (const [k, v] of Object.entries(read())) this.inc({ [label]: k }, v)
      },
    })
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read())
      },
    })

  gauge('touchline_gateway_connections', 'open WebSocket connections', () => gw.connections.size)
  gauge('touchline_gateway_subscriptions', 'match subscriptions on this node (pending and live)', () => gw.hub.subscriptionCount)
  gauge('touchline_gateway_matches', 'matches with a bus subscription on this node', () => gw.hub.channels.size)
  gauge('touchline_gateway_bus_up', '1 when the bus is connected', () => (gw.bus.status().type === 'connected' ? 1 : 0))
  gauge('touchline_gateway_presence_up', '1 when presence writes succeed (0: degraded, events still flow)', () =>
    gw.tracker.healthy ? 1 : 0,
  )
  gauge('touchline_gateway_draining', '1 while the node drains', () => (gw.draining ? 1 : 0))
  gauge('touchline_gateway_banned_words', 'banned words loaded', () => gw.bannedWords.size)

  counter('touchline_gateway_connections_opened_total', 'connections accepted', 'connectionsOpened')
  counter('touchline_gateway_connections_refused_total', 'connections refused (limit or draining)', 'connectionsRefused')
  counter('touchline_gateway_frames_sent_total', 'frames written to sockets', 'framesSent')
  counter(
    'touchline_gateway_socket_writes_total',
    'socket writes (one per frame or coalesced chat batch written on its own, one per corked run)',
    'socketWrites',
  )
  counter('touchline_gateway_bytes_sent_total', 'payload bytes written to sockets', 'bytesSent')
  counter('touchline_gateway_events_delivered_total', 'live event frames written (one per socket)', 'eventsFannedOut')
  counter('touchline_gateway_chat_delivered_total', 'live chat frames written (one per socket)', 'chatFannedOut')
  counter('touchline_gateway_chat_shed_total', 'chat and online frames dropped because a send buffer was over the shed limit', 'chatShed')
  counter('touchline_gateway_slow_closes_total', 'sockets closed with 1013 because they could not keep up', 'slowCloses')
  counter('touchline_gateway_heartbeat_terminations_total', 'sockets terminated after a missed pong', 'heartbeatTerminations')
  counter('touchline_gateway_abuse_closes_total', 'sockets closed with 1008 after too many bad frames', 'abuseCloses')
  counter('touchline_gateway_snapshots_total', 'snapshots sent', 'snapshots')
  counter('touchline_gateway_resets_total', 'snapshots with reset: true (since not replayable)', 'resets')
  counter('touchline_gateway_replayed_events_total', 'events replayed from the log on resume', 'replayedEvents')
  counter('touchline_gateway_gap_fills_total', 'live seq jumps filled from the log', 'gapFills')
  counter(
    'touchline_gateway_live_copies_missed_total',
    'events a quiet match had in its log but never got live (delivered from the log; LIVE_GAP_CHECK_MS)',
    'liveCopiesMissed',
  )
  counter('touchline_gateway_chat_accepted_total', 'chat messages stored', 'chatAccepted')
  counter('touchline_gateway_presence_errors_total', 'failed presence calls', 'presenceErrors')
  labelled('touchline_gateway_bad_frames_total', 'client frames refused', 'reason', () => stats.badFrames)
  labelled('touchline_gateway_chat_refused_total', 'chat messages refused', 'code', () => stats.chatRefused)

  const fanout = new Histogram({
    name: 'touchline_gateway_fanout_latency_seconds',
    help: 'from event acceptance (ingest) to the last local socket write, per event and match',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  })
  return { fanout }
}

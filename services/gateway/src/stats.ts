/**
 * Plain counters updated on the hot path (a field increment, no label hashing); `metrics.ts`
 * turns them into Prometheus metrics at scrape time.
 */
export interface GatewayStats {
  connectionsOpened: number
  connectionsRefused: number
  framesSent: number
  bytesSent: number
  /**
   * Writes handed to sockets as one call each (sender.ts): a frame or a coalesced chat batch
   * written on its own, or a corked run of writes flushed together. framesSent / socketWrites is
   * how many frames one write carries on average.
   */
  socketWrites: number
  eventsFannedOut: number
  chatFannedOut: number
  /** Chat (and online) frames dropped because the socket's send buffer was over the shed limit. */
  chatShed: number
  /** Sockets closed with 1013 because they could not keep up. */
  slowCloses: number
  heartbeatTerminations: number
  abuseCloses: number
  badFrames: Record<string, number>
  snapshots: number
  resets: number
  replayedEvents: number
  gapFills: number
  /** Events found in the log of a quiet match whose live copies never came (Hub#checkQuiet). */
  liveCopiesMissed: number
  chatAccepted: number
  chatRefused: Record<string, number>
  presenceErrors: number
}

export function newStats(): GatewayStats {
  return {
    connectionsOpened: 0,
    connectionsRefused: 0,
    framesSent: 0,
    bytesSent: 0,
    socketWrites: 0,
    eventsFannedOut: 0,
    chatFannedOut: 0,
    chatShed: 0,
    slowCloses: 0,
    heartbeatTerminations: 0,
    abuseCloses: 0,
    badFrames: {},
    snapshots: 0,
    resets: 0,
    replayedEvents: 0,
    gapFills: 0,
    liveCopiesMissed: 0,
    chatAccepted: 0,
    chatRefused: {},
    presenceErrors: 0,
  }
}

export function bump(map: Record<string, number>, key: string, by = 1): void {
  map[key] = (map[key] ?? 0) + by
}

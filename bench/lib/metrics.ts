/**
 * Reading touchline gateways' Prometheus counters from the fanout bench: how many socket writes,
 * frames, chat deliveries and chat refusals a run caused. The bench reads them at the start and end
 * of the measuring window (and after the drain) so that a target's writes per second and frames per
 * write come from the gateway itself rather than from what the clients could tell apart.
 */
import { getJson } from './http.ts'

/** The counters kept in a fanout result; a gateway that lacks one (older commit) just omits it. */
export const GATEWAY_COUNTERS = [
  'touchline_gateway_frames_sent_total',
  'touchline_gateway_socket_writes_total',
  'touchline_gateway_events_delivered_total',
  'touchline_gateway_chat_delivered_total',
  'touchline_gateway_chat_shed_total',
  'touchline_gateway_chat_accepted_total',
  'touchline_gateway_chat_refused_total',
  'touchline_gateway_slow_closes_total',
] as const

export type Counters = Record<string, number>

/**
 * Counters also kept per label set, as `name{labels}` next to the sum: why chat was refused
 * (`rate_limited` means the bench's chatters were throttled and the run compares nothing;
 * `unavailable` is a gateway too busy to store chat within its timeout, part of its result).
 */
export const BY_LABEL = new Set<string>(['touchline_gateway_chat_refused_total'])

/**
 * Sums the samples of each wanted metric over all its label sets, from the Prometheus text format
 * (`name{labels} value [timestamp]`, `#` lines are comments); the metrics in BY_LABEL also per
 * label set.
 */
export function parseCounters(text: string, names: readonly string[] = GATEWAY_COUNTERS): Counters {
  const wanted = new Set(names)
  const out: Counters = {}
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const brace = line.indexOf('{')
    const space = line.indexOf(' ')
    if (space < 0) continue
    const nameEnd = brace >= 0 && brace < space ? brace : space
    const name = line.slice(0, nameEnd)
    if (!wanted.has(name)) continue
    const labelled = brace >= 0 && brace < space
    const close = line.lastIndexOf('}')
    const rest = labelled ? line.slice(close + 1) : line.slice(space)
    const value = Number(rest.trim().split(/\s+/)[0])
    if (!Number.isFinite(value)) continue
    out[name] = (out[name] ?? 0) + value
    if (labelled && BY_LABEL.has(name)) {
      const key = line.slice(0, close + 1)
      out[key] = (out[key] ?? 0) + value
    }
  }
  return out
}

/** The wanted counters summed over every endpoint; throws when one does not answer 200. */
export async function scrapeCounters(urls: readonly string[], names: readonly string[] = GATEWAY_COUNTERS): Promise<Counters> {
  const replies = await Promise.all(urls.map((u) => getJson<unknown>(u).then((r) => ({ url: u, ...r }))))
  const out: Counters = {}
  for (const r of replies) {
    if (r.status !== 200 || typeof r.body !== 'string') throw new Error(`GET ${r.url}: ${r.status}`)
    for (const [k, v] of Object.entries(parseCounters(r.body, names))) out[k] = (out[k] ?? 0) + v
  }
  return out
}

/** `after − before` for the counters both readings have. */
export function counterGrowth(before: Counters, after: Counters): Counters {
  const out: Counters = {}
  for (const [k, v] of Object.entries(after)) {
    const b = before[k]
    if (b !== undefined) out[k] = v - b
  }
  return out
}

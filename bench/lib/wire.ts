/**
 * The bench's events and how a load generator reads them cheaply.
 *
 * Every target gets the same event: kind `commentary`, a text padded so that the frame a spectator
 * receives is about 500 bytes, and in its data `bench_t`, the SCHEDULED send time in microseconds
 * of the system-wide monotonic clock (`process.hrtime`, CLOCK_MONOTONIC, the same in every process
 * of the machine). Receive time minus `bench_t` is the fan-out latency; a driver that falls behind
 * its schedule shows up as latency, not as a lower rate.
 *
 * Load generators do not JSON.parse event frames: they find `"seq":` and `"bench_t":` in the bytes
 * (the same cost for every target; Socket.IO's client parses anyway).
 */

/** Microseconds of CLOCK_MONOTONIC (comparable across processes on one machine). */
export function nowUs(): number {
  const [s, ns] = process.hrtime()
  return s * 1e6 + Math.floor(ns / 1000)
}

export const EVENT_BYTES = 500

/** Text for an event so that the received `event` frame is about `EVENT_BYTES` long. */
export function paddedText(targetBytes = EVENT_BYTES): string {
  // The frame around the text, with a 12-digit seq, a 24-char ISO time and a 16-digit bench_t:
  // {"type":"event","matchId":"bench-xxxxxxxx","seq":123456789012,"kind":"commentary","at":"2025-01-01T00:00:00.000Z",
  //  "data":{"text":"…","bench_t":1234567890123456}}
  const overhead = 145
  const n = Math.max(16, targetBytes - overhead)
  const words = 'Kick-off, a long ball over the top, the keeper is out quickly and clears to the touchline. '
  return words.repeat(Math.ceil(n / words.length)).slice(0, n)
}

export interface BenchEventBody {
  kind: 'commentary'
  text: string
  data: { bench_t: number }
}

export function eventBody(text: string, scheduledUs: number): BenchEventBody {
  return { kind: 'commentary', text, data: { bench_t: scheduledUs } }
}

const EVENT_PREFIX = Buffer.from('{"type":"event"')
const CHAT_PREFIX = Buffer.from('{"type":"chat"')
const SEQ = Buffer.from('"seq":')
const BENCH_T = Buffer.from('"bench_t":')
/** Chat text carries its send time as `~bt~<us>~`. */
const CHAT_T = Buffer.from('~bt~')

export function chatText(sentUs: number): string {
  return `~bt~${sentUs}~ what a save!`
}

function readUint(buf: Uint8Array, at: number): number {
  let n = 0
  let i = at
  let c = buf[i]
  if (c === undefined || c < 48 || c > 57) return -1
  while (c !== undefined && c >= 48 && c <= 57) {
    n = n * 10 + (c - 48)
    c = buf[++i]
  }
  return n
}

function startsWith(buf: Buffer, prefix: Buffer): boolean {
  return buf.length >= prefix.length && buf.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
}

export type Scanned =
  | { type: 'event'; seq: number; t: number }
  | { type: 'chat'; t: number }
  | { type: 'other'; frame: { type?: string; seq?: number; [k: string]: unknown } | undefined }

/**
 * Classify one text frame. Event frames that start with `{"type":"event"` (the encoder's fixed key
 * order) are scanned without parsing; anything else is parsed.
 */
export function scanFrame(buf: Buffer): Scanned {
  if (startsWith(buf, EVENT_PREFIX)) {
    const s = buf.indexOf(SEQ)
    const b = buf.indexOf(BENCH_T)
    if (s > 0) return { type: 'event', seq: readUint(buf, s + SEQ.length), t: b > 0 ? readUint(buf, b + BENCH_T.length) : -1 }
  }
  if (startsWith(buf, CHAT_PREFIX)) {
    const b = buf.indexOf(CHAT_T)
    return { type: 'chat', t: b > 0 ? readUint(buf, b + CHAT_T.length) : -1 }
  }
  let frame: { type?: string; seq?: number } | undefined
  try {
    frame = JSON.parse(buf.toString('utf8')) as { type?: string; seq?: number }
  } catch {
    frame = undefined
  }
  if (frame?.type === 'event' && typeof frame.seq === 'number') {
    const data = (frame as { data?: { bench_t?: unknown } }).data
    return { type: 'event', seq: frame.seq, t: typeof data?.bench_t === 'number' ? data.bench_t : -1 }
  }
  if (frame?.type === 'chat') {
    const text = String((frame as { text?: unknown }).text ?? '')
    const m = /~bt~(\d+)~/.exec(text)
    return { type: 'chat', t: m ? Number(m[1]) : -1 }
  }
  return { type: 'other', frame }
}

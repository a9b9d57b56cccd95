/**
 * The single place a server frame becomes bytes. An event or chat frame is encoded once (by the
 * bus, when it is stored) and those exact bytes travel over NATS and are written to every socket.
 * A snapshot is assembled from already-encoded event and chat frames by concatenation, so a
 * gateway never parses and re-stringifies a stored frame.
 */
import type { ChatFrame, EventFrame, ServerFrame, SnapshotFrame } from './frames.ts'

export function encodeFrame(frame: ServerFrame): Buffer {
  return Buffer.from(JSON.stringify(frame))
}

/** Encode an `event` frame with a fixed key order (type, matchId, seq, kind, at, data). */
export function encodeEventFrame(e: Omit<EventFrame, 'type'>): Buffer {
  const frame: EventFrame = { type: 'event', matchId: e.matchId, seq: e.seq, kind: e.kind, at: e.at, data: e.data }
  return Buffer.from(JSON.stringify(frame))
}

export function encodeChatFrame(c: Omit<ChatFrame, 'type'>): Buffer {
  const frame: ChatFrame = { type: 'chat', matchId: c.matchId, id: c.id, user: c.user, text: c.text, at: c.at }
  return Buffer.from(JSON.stringify(frame))
}

const COMMA = Buffer.from(',')

function joinArray(parts: readonly Uint8Array[]): Buffer[] {
  const out: Buffer[] = [Buffer.from('[')]
  parts.forEach((p, i) => {
    if (i > 0) out.push(COMMA)
    out.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength))
  })
  out.push(Buffer.from(']'))
  return out
}

/**
 * Build a `snapshot` frame around pre-encoded event and chat frames (oldest first).
 * The result is byte-for-byte valid JSON equal to `encodeFrame` of the parsed parts.
 */
export function encodeSnapshot(
  head: Omit<SnapshotFrame, 'type' | 'events' | 'chat'>,
  events: readonly Uint8Array[],
  chat: readonly Uint8Array[],
): Buffer {
  const { reset, ...rest } = head
  const prefix = JSON.stringify({ type: 'snapshot', ...rest, ...(reset ? { reset: true } : {}) })
  return Buffer.concat([
    Buffer.from(`${prefix.slice(0, -1)},"events":`),
    ...joinArray(events),
    Buffer.from(',"chat":'),
    ...joinArray(chat),
    Buffer.from('}'),
  ])
}

export function decodeFrame<T = ServerFrame>(bytes: Uint8Array | string): T {
  return JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T
}

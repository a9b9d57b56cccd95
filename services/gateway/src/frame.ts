/**
 * Complete server → client WebSocket frames, built once per payload and written as one Buffer.
 *
 * ws frames every `send` as two buffers (a 2–10 byte header and the payload), so each socket's
 * write is a two-buffer `writev`. The hub instead builds the whole frame (header + payload) once
 * per event or broadcast and the Sender writes that one Buffer to every socket (sender.ts, "direct
 * path"): about 7 % less gateway CPU per message in the profiling experiment of
 * docs/performance.md. Frames to a client are never masked (RFC 6455 §5.1) and never compressed
 * here (the gateway runs without permessage-deflate).
 */

const FIN_TEXT = 0x81

/** Header length of an unmasked frame with a payload of `n` bytes. */
export function headerLength(n: number): number {
  return n < 126 ? 2 : n < 65536 ? 4 : 10
}

/** One unmasked, final text frame (opcode 1) carrying `payload` (UTF-8 JSON), header and payload in one Buffer. */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.byteLength
  const head = headerLength(n)
  const out = Buffer.allocUnsafe(head + n)
  out[0] = FIN_TEXT
  if (n < 126) {
    out[1] = n
  } else if (n < 65536) {
    out[1] = 126
    out.writeUInt16BE(n, 2)
  } else {
    // 64-bit length; a Buffer is far below 2^53, so the upper 32 bits are n / 2^32 exactly.
    out[1] = 127
    out.writeUInt32BE(Math.floor(n / 0x1_0000_0000), 2)
    out.writeUInt32BE(n >>> 0, 6)
  }
  payload.copy(out, head)
  return out
}

/**
 * Droppable frames of one match collected during a coalescing window (hub.ts): their payloads (for
 * a socket that cannot take the direct path) and their complete frames, joined once into one
 * Buffer that is written to every socket with one `write`.
 */
export class FrameBatch {
  readonly payloads: Buffer[] = []
  readonly #frames: Buffer[] = []
  /** Sum of payload bytes (what the shed check compares with the send buffer, as for one frame). */
  payloadBytes = 0
  /** How many of the frames are chat messages (the rest are `online`), for the delivered-chat stat. */
  chats = 0
  #joined: Buffer | undefined

  add(payload: Buffer, framed: Buffer, isChat: boolean): void {
    this.payloads.push(payload)
    this.#frames.push(framed)
    this.payloadBytes += payload.byteLength
    if (isChat) this.chats++
    this.#joined = undefined
  }

  get size(): number {
    return this.payloads.length
  }

  /** Every frame of the batch, in order, in one Buffer (built once, on first use). */
  get framed(): Buffer {
    this.#joined ??= this.#frames.length === 1 ? (this.#frames[0] as Buffer) : Buffer.concat(this.#frames)
    return this.#joined
  }
}

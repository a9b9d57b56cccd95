/**
 * Baseline: the ceiling for a `ws` server in Node. The event arrives as bytes; the complete
 * WebSocket frame (header + payload, server frames are unmasked) is built ONCE and that one
 * Buffer is written to every socket's TCP stream: one `write` (one syscall) per socket and no
 * per-socket allocation, serialization or framing.
 *
 * BENCH_PREBUILT=send switches to `ws.send(payload, { binary: false })` with the shared payload
 * (ws then frames per socket: a small header + corked two-buffer write), to show what that costs.
 */
import type { Socket } from 'node:net'
import { WebSocket } from 'ws'
import { runWsBaseline } from './ws-server.ts'

/** An unmasked, final text frame around `payload`. */
export function textFrame(payload: Buffer): Buffer {
  const n = payload.length
  const headerLen = n < 126 ? 2 : n < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLen + n)
  frame[0] = 0x81
  if (n < 126) frame[1] = n
  else if (n < 65536) {
    frame[1] = 126
    frame.writeUInt16BE(n, 2)
  } else {
    frame[1] = 127
    frame.writeBigUInt64BE(BigInt(n), 2)
  }
  payload.copy(frame, headerLen)
  return frame
}

const mode = process.env.BENCH_PREBUILT === 'send' ? 'send' : 'frame'

await runWsBaseline(`ws-prebuilt(${mode})`, (sockets, raw) => {
  if (mode === 'send') {
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(raw, { binary: false })
    return
  }
  const frame = textFrame(raw)
  for (const ws of sockets) {
    if (ws.readyState !== WebSocket.OPEN) continue
    // ws keeps the net.Socket as `_socket`; without permessage-deflate its sender writes
    // synchronously, so a whole frame written here never interleaves with one of ws's.
    ;(ws as unknown as { _socket: Socket })._socket.write(frame)
  }
})

/**
 * The "direct path": writing a complete pre-built frame (frame.ts) straight to a ws WebSocket's TCP
 * socket instead of `ws.send(payload)`. It relies on ws 8 internals, checked here like the nats.js
 * patches in packages/bus: the path is only taken when the ws classes look exactly as expected, and
 * `direct.test.ts` fails when a ws upgrade changes any of it, so an upgrade can never silently
 * write around a ws that now keeps state we do not see. When the check fails every write goes
 * through `ws.send`, which is correct, only slower.
 *
 * What is relied on (ws 8.23, lib/websocket.js and lib/sender.js):
 *
 * - `ws._socket` is the net.Socket and `ws._sender` ws's Sender, both set once in `setSocket`.
 * - `ws.bufferedAmount` is `_socket._writableState.length + _sender._bufferedBytes`: bytes written
 *   to the socket directly are counted by it, so backpressure (chat shedding, close 1013) still
 *   sees them.
 * - ws's Sender writes a frame to the socket synchronously (`sendFrame` → `_socket.write`) while
 *   its `_state` is DEFAULT (0); in any other state (deflating, reading a Blob) it queues the frame
 *   in `_queue` and writes it later. A direct write is therefore only in order with ws's own
 *   writes (replies, pings, close) while `_state` is 0 and `_queue` is empty — checked before
 *   every direct write.
 * - `_firstFragment` is true between messages (no fragmented message half sent).
 * - `_extensions` holds the negotiated extensions; with permessage-deflate the frames would have
 *   to be compressed, so such a socket never takes the direct path.
 */

/** The net.Socket under a ws WebSocket, as far as the direct path uses it. */
export interface DirectSocket {
  write(chunk: Buffer): boolean
  cork(): void
  uncork(): void
  readonly destroyed: boolean
}

/** ws's Sender fields read before each direct write. */
export interface WsSenderState {
  readonly _state: number
  readonly _queue: readonly unknown[]
  readonly _firstFragment: boolean
  readonly _bufferedBytes: number
}

export interface DirectTarget {
  readonly socket: DirectSocket
  readonly sender: WsSenderState
}

interface WsInternals {
  _socket?: unknown
  _sender?: unknown
  _extensions?: unknown
}

type Fn = (...args: unknown[]) => unknown

const src = (f: unknown): string => (typeof f === 'function' ? Function.prototype.toString.call(f) : '')

/** The exact code shapes the direct path depends on; each must match, or the path stays off. */
const EXPECTED: ReadonlyArray<{ what: string; read: (wsProto: object, senderProto: object) => string; re: RegExp }> = [
  {
    what: 'WebSocket#bufferedAmount counts the socket buffer and the Sender queue',
    read: (w) => src(Object.getOwnPropertyDescriptor(w, 'bufferedAmount')?.get),
    re: /return this\._socket\._writableState\.length \+ this\._sender\._bufferedBytes;/,
  },
  {
    what: 'WebSocket#send hands the data to this._sender.send',
    read: (w) => src((w as Record<string, unknown>).send),
    re: /this\._sender\.send\(/,
  },
  {
    what: 'Sender#send queues while _state is not DEFAULT, else dispatches at once',
    read: (_, s) => src((s as Record<string, unknown>).send),
    re: /else if \(this\._state !== DEFAULT\) \{\s*this\.enqueue\(\[this\.dispatch,[^\]]*\]\);\s*\} else \{\s*this\.dispatch\(/,
  },
  {
    what: 'Sender#dispatch writes an uncompressed frame synchronously',
    read: (_, s) => src((s as Record<string, unknown>).dispatch),
    re: /if \(!compress\) \{\s*this\.sendFrame\(Sender\.frame\(data, options\), cb\);\s*return;/,
  },
  {
    what: 'Sender#sendFrame writes to this._socket',
    read: (_, s) => src((s as Record<string, unknown>).sendFrame),
    re: /this\._socket\.write\(list\[0\]/,
  },
  {
    what: 'Sender#enqueue counts queued bytes and pushes to _queue',
    read: (_, s) => src((s as Record<string, unknown>).enqueue),
    re: /this\._bufferedBytes \+= [^;]+;\s*this\._queue\.push\(params\);/,
  },
  {
    what: 'Sender#dequeue drains _queue while _state is DEFAULT',
    read: (_, s) => src((s as Record<string, unknown>).dequeue),
    re: /while \(this\._state === DEFAULT && this\._queue\.length\)/,
  },
]

/** Per (WebSocket prototype, Sender prototype): the list of mismatches (empty = supported). */
const verdicts = new WeakMap<object, WeakMap<object, string[]>>()

/**
 * What in ws's code differs from what the direct path expects (empty when nothing does). `ws` is
 * an open server-side WebSocket (any copy of ws: the check is per class).
 */
export function directMismatches(ws: object): string[] {
  const sender = (ws as WsInternals)._sender
  if (typeof sender !== 'object' || sender === null) return ['WebSocket has no _sender object']
  const wsProto = Object.getPrototypeOf(ws) as object
  const senderProto = Object.getPrototypeOf(sender) as object
  let bySender = verdicts.get(wsProto)
  if (!bySender) {
    bySender = new WeakMap()
    verdicts.set(wsProto, bySender)
  }
  let found = bySender.get(senderProto)
  if (!found) {
    found = []
    for (const e of EXPECTED) if (!e.re.test(e.read(wsProto, senderProto))) found.push(e.what)
    // DEFAULT's value is not visible in the code above: a new Sender starts in it.
    try {
      const fresh = Reflect.construct(senderProto.constructor as Fn & (new (...a: unknown[]) => unknown), [{}]) as Partial<WsSenderState>
      if (fresh._state !== 0) found.push('a new Sender has _state 0 (DEFAULT)')
      if (!Array.isArray(fresh._queue) || fresh._queue.length !== 0) found.push('a new Sender has an empty _queue array')
      if (fresh._bufferedBytes !== 0) found.push('a new Sender has _bufferedBytes 0')
      if (fresh._firstFragment !== true) found.push('a new Sender has _firstFragment true')
    } catch {
      found.push('Sender can be constructed with a socket argument')
    }
    bySender.set(senderProto, found)
  }
  return found
}

/**
 * The socket and ws Sender to write complete frames to, or undefined when this WebSocket must
 * use `ws.send` (ws internals not as expected, no TCP socket yet, an extension negotiated).
 * Extensions are negotiated in the upgrade, so the answer holds for the socket's life; the
 * per-write conditions are in `canWriteDirect`.
 */
export function directTarget(ws: object): DirectTarget | undefined {
  const w = ws as WsInternals
  const socket = w._socket as Partial<DirectSocket> | undefined
  if (!socket || typeof socket.write !== 'function' || typeof socket.cork !== 'function') return undefined
  const ext = w._extensions
  if (typeof ext !== 'object' || ext === null || Object.keys(ext).length > 0) return undefined
  if (directMismatches(ws).length > 0) return undefined
  return { socket: socket as DirectSocket, sender: w._sender as WsSenderState }
}

/** True when a frame written to the socket now lands after everything ws was asked to send. */
export function canWriteDirect(t: DirectTarget): boolean {
  const s = t.sender
  return s._state === 0 && s._queue.length === 0 && s._firstFragment && !t.socket.destroyed
}

/**
 * The `/ws` upgrade, before fastify routing (README, "Memory per connection").
 *
 * @fastify/websocket routes every upgrade through fastify: a ServerResponse, a fastify Request
 * and Reply, the route's hooks and response listeners, then `wss.handleUpgrade` from the route
 * handler. For a spectator that is garbage made once per connection, and under a burst of
 * handshakes it is what the young generation has to hold. `upgradeListener` handles the one
 * upgrade the gateway serves (`GET <prefix>/ws`, not draining) with the plugin's own
 * WebSocketServer (its maxPayload and other options) and hands every other upgrade to the
 * plugin unchanged, so fastify still answers those exactly as before (404 for an unknown path,
 * 503 while fastify closes, the route handler for anything its router would also call /ws).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { parse as parseQuery } from 'fast-querystring'
import type { WebSocket, WebSocketServer } from 'ws'
import type { ConnectOptions } from './connection.ts'

const KEYS = ['token', 'match', 'since', 'epoch'] as const satisfies ReadonlyArray<keyof ConnectOptions>

/**
 * The connect options of a parsed `/ws` query (fastify's `request.query` or fast-querystring's
 * result): each of the four parameters when it is a string. One given more than once is an
 * array there, and counts as absent.
 */
export function connectOptionsFrom(q: Record<string, unknown>): ConnectOptions {
  const out: ConnectOptions = {}
  for (const k of KEYS) {
    const v = q[k]
    if (typeof v === 'string') out[k] = v
  }
  return out
}

/**
 * The connect options of a `/ws` query string (without the `?`), read exactly as the fastify route
 * reads `request.query`: with fast-querystring, fastify's default parser.
 */
export function connectOptionsOf(query: string): ConnectOptions {
  return query === '' ? {} : connectOptionsFrom(parseQuery(query) as Record<string, unknown>)
}

export interface UpgradeRoute {
  /** The exact path served here, e.g. `/ws` (with the plugin's prefix). */
  path: string
  /** The WebSocketServer @fastify/websocket made from the plugin options. */
  wss: WebSocketServer
  /** False while the gateway drains: such upgrades take fastify's way (503 once fastify closes, else 1012). */
  accepting(): boolean
  /** An upgraded socket and its query (synchronously after the 101 is written). */
  accept(socket: WebSocket, opts: ConnectOptions): void
  /** Every other upgrade: @fastify/websocket's own listener, which routes it through fastify. */
  routed(req: IncomingMessage, socket: Duplex, head: Buffer): void
}

/** The `upgrade` listener of the HTTP server. */
export function upgradeListener(route: UpgradeRoute): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const { path, wss } = route
  const withQuery = `${path}?`
  return function onUpgrade(req, socket, head) {
    // A request pipelined before this upgrade on the same connection may still be answering
    // (Node emits the upgrade as soon as it is parsed): its response must leave before the 101,
    // or its bytes would land inside the WebSocket stream. `_httpMessage` is the response Node
    // has on the socket (the same field it checks before assigning another one).
    const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
    if (answering && !answering.writableFinished) {
      answering.once('finish', () => {
        if (socket.writable) onUpgrade(req, socket, head)
      })
      return
    }
    const url = req.url ?? ''
    // Only the exact path, as fastify's router (case-sensitive, no trailing-slash folding) would
    // match it without decoding; `/ws#…`, `/%77s` or `/ws/` still reach fastify, which decides.
    const exact = url === path
    if (req.method !== 'GET' || (!exact && !url.startsWith(withQuery)) || !route.accepting()) {
      route.routed(req, socket, head)
      return
    }
    const opts = exact ? {} : connectOptionsOf(url.slice(withQuery.length))
    // ws writes the 101 and calls back synchronously (no verifyClient here), and `accept` writes
    // the `welcome` frame at once: corked, both leave in one writev instead of two write(2)s, a
    // third of the syscalls of a connection (101, welcome, snapshot + subscribed). That is the
    // cost that bounds a reconnect storm after a gateway dies.
    socket.cork()
    try {
      // ws answers a bad handshake itself (400/405 and destroy), as it does from the route.
      wss.handleUpgrade(req, socket, head, (ws) => {
        // As @fastify/websocket does after its handleUpgrade (no listener here: clientTracking is off).
        wss.emit('connection', ws, req)
        route.accept(ws, opts)
      })
    } finally {
      // A refused handshake was already flushed by ws (`end` uncorks) or destroyed.
      if (!socket.destroyed) socket.uncork()
    }
  }
}

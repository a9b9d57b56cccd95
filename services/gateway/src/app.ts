/**
 * The gateway as a fastify plugin (GET /ws, /healthz, /readyz, /metrics) and as an app.
 *
 * `gatewayPlugin` is deliberately *not* wrapped with fastify-plugin: @fastify/websocket, its
 * decorators and hooks stay inside it, so the embedded mode can register it at the root next to
 * ingest (mounted at /api) without either seeing the other's decorators. Closing the app drains
 * the gateway (preClose): sockets get 1012, the node leaves presence. The bus, presence store and
 * rate limiter are passed in and closed by whoever made them.
 *
 * `GET /ws` upgrades are taken from the HTTP server's `upgrade` event before fastify routing
 * (upgrade.ts), with the WebSocketServer and options of @fastify/websocket; every other upgrade
 * goes to @fastify/websocket's listener as before. @fastify/websocket stays: it owns the
 * WebSocketServer, the `/ws` route (404 without an upgrade, and the fallback for upgrades fastify
 * must route), preClose (drain) and `injectWS`.
 */
import { EventEmitter } from 'node:events'
import { type Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import websocket from '@fastify/websocket'
import { answerUnavailableWhileClosing, apiHttpErrors, notFoundBody } from '@touchline/runtime'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify'
import type { Logger } from 'pino'
import type { WebSocket } from 'ws'
import { Gateway, type GatewayDeps } from './gateway.ts'
import { connectOptionsFrom, upgradeListener } from './upgrade.ts'

export type { GatewayDeps } from './gateway.ts'

export interface GatewayPluginOptions extends GatewayDeps {
  /** Use this gateway (e.g. to call reload() on SIGHUP); by default the plugin makes its own. */
  gateway?: Gateway
}

/** What the gateway does with an error on an established socket. */
function onSocketError(error: Error, socket: WebSocket, log: FastifyBaseLogger | Logger): void {
  const code = (error as { code?: string }).code
  if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
    // A protocol error (e.g. frame over maxPayload): ws already sent the close (1009, 1002…).
    log.debug({ code, message: error.message }, 'websocket protocol error')
    setTimeout(() => socket.terminate(), 2000).unref()
    return
  }
  log.warn({ err: error }, 'websocket error')
  socket.terminate()
}

/**
 * Let go of the HTTP upgrade request once the socket is ours. @fastify/websocket leaves, per
 * socket, an `error` listener closing over the fastify request and reply, and the TCP socket
 * still points at the ServerResponse it made for routing (`_httpMessage`), which points at the
 * IncomingMessage with its headers: about 2.5 KiB of heap per idle connection (see README,
 * "Memory per connection"). The listener is replaced by `onError` (the same handling, shared by
 * every socket) and the response is detached from the TCP socket (nothing was, or will be,
 * written through it: the reply is hijacked).
 */
function releaseRequest(socket: WebSocket, onError: (this: WebSocket, error: Error) => void): void {
  socket.removeAllListeners('error')
  socket.on('error', onError)
  const tcp = (socket as unknown as { _socket?: Socket & { _httpMessage?: unknown } })._socket
  const res = tcp?._httpMessage
  if (tcp && res instanceof ServerResponse) res.detachSocket(tcp)
}

/**
 * An upgrade fastify answered with a plain response (404 for an unknown path, 503 while closing)
 * is not ended by anyone: @fastify/websocket's `onResponse` hook that destroys it only runs for
 * routes inside this plugin, and Node's HTTP machinery let go of the socket when it emitted
 * `upgrade`; the server side then stays half-open after the client leaves, and `app.close()`
 * waits for it. End it once the response is written (as a `Connection: close` response would).
 * An upgraded socket's response is hijacked and never finishes, so this leaves those alone.
 */
function endAfterResponse(socket: Duplex): void {
  const res = (socket as Duplex & { _httpMessage?: unknown })._httpMessage
  if (!(res instanceof ServerResponse)) return
  const end = () => socket.end(() => socket.destroy())
  if (res.writableFinished) end()
  else res.once('finish', end)
}

export const gatewayPlugin: FastifyPluginAsync<GatewayPluginOptions> = async (app, opts) => {
  const gw = opts.gateway ?? new Gateway(opts, app.log as unknown as Logger)

  // @fastify/websocket listens for upgrades on `options.server` when given one, instead of on
  // fastify's server: this emitter is how upgrades that are not the hot path still reach it.
  const routedUpgrades = new EventEmitter()
  await app.register(websocket, {
    options: {
      maxPayload: gw.settings.maxPayloadBytes,
      perMessageDeflate: false,
      clientTracking: false,
      server: routedUpgrades as unknown as Server,
    },
    errorHandler(error, socket, request) {
      onSocketError(error, socket, request.log)
    },
    preClose: async () => {
      await gw.drain()
    },
  })

  /** One listener for every socket (`this` is the socket): nothing per socket is captured. */
  const onError = function (this: WebSocket, error: Error): void {
    onSocketError(error, this, gw.log)
  }

  await gw.start()
  app.addHook('onClose', async () => {
    await gw.stop()
  })

  // Left on the server after close, like @fastify/websocket's own listener: a late upgrade then
  // goes to fastify (draining), where the app answers 503 while it closes (an onRequest hook in
  // buildGatewayApp and the embedded mode; fastify's return503OnClosing in an app without one).
  app.server.on(
    'upgrade',
    upgradeListener({
      path: `${app.prefix}/ws`,
      wss: app.websocketServer,
      accepting: () => !gw.draining,
      accept(socket, query) {
        socket.on('error', onError)
        try {
          gw.attach(socket, query)
        } catch (err) {
          onSocketError(err as Error, socket, gw.log)
        }
      },
      routed(req, socket, head) {
        routedUpgrades.emit('upgrade', req, socket, head)
        endAfterResponse(socket)
      },
    }),
  )

  // Reached by upgrades upgrade.ts hands to fastify (and injectWS); without an upgrade, 404.
  app.get('/ws', { websocket: true }, (socket, request) => {
    releaseRequest(socket, onError)
    gw.attach(socket, connectOptionsFrom((request.query ?? {}) as Record<string, unknown>))
  })

  app.get('/healthz', async () => ({ status: 'ok', node: gw.nodeId }))

  app.get('/readyz', async (_request, reply) => {
    const r = gw.readiness()
    reply.code(r.ok ? 200 : 503)
    return r.body
  })

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', opts.registry.contentType)
    return opts.registry.metrics()
  })
}

export interface BuildGatewayOptions {
  /** A pino logger, or false for none (tests). */
  logger?: Logger | false
  gateway?: Gateway
}

const HEALTH = new Set(['/healthz', '/readyz', '/metrics'])

/**
 * While the app closes, a request that still arrives (on a connection that was busy when the close
 * began, or pipelined behind one) gets the API's 503 (runtime's closingGuard: `code` unavailable,
 * `Retry-After: 1`, `Connection: close`); fastify's own (return503OnClosing) had no `code`. That is
 * an unknown path, a plain GET /ws, and an upgrade handed to fastify (/ws while draining, any other
 * path), which `endAfterResponse` then ends. Added before the plugin, so it runs first on its
 * routes too (before @fastify/websocket takes an upgrade). The health routes answer for
 * themselves (readyz `draining`).
 */
function unavailableWhileClosing(app: FastifyInstance): void {
  answerUnavailableWhileClosing(app, {
    answersItself: (request) => HEALTH.has(request.routeOptions.url ?? ''),
    message: 'this gateway is shutting down: nothing was done, retry',
  })
}

/** A fastify app with only the gateway, not yet listening. */
export async function buildGatewayApp(deps: GatewayDeps, options: BuildGatewayOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger as FastifyBaseLogger } : { logger: false }),
    // Per-request lines would log every upgrade and health probe.
    logController: new LogController({ disableRequestLogging: true }),
    // Off: unavailableWhileClosing answers with a `code` (and lets the health routes answer).
    return503OnClosing: false,
    // A malformed URL and a request Node's parser refuses (a bad upgrade among them) answer
    // with the API's body.
    ...apiHttpErrors,
  }) as unknown as FastifyInstance
  unavailableWhileClosing(app)
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).type('application/json; charset=utf-8').send(notFoundBody(request.method, request.url))
  })
  await app.register(gatewayPlugin, { ...deps, ...(options.gateway ? { gateway: options.gateway } : {}) })
  return app
}

/**
 * What a fastify app answers while it closes, for every service with an HTTP side (ingest, the
 * gateway, the embedded mode's root). Structural types, not fastify's, so this package does not
 * depend on fastify: a hook is (request, reply, done) whatever the app.
 */
import { API_ERRORS, type ApiError } from '@touchline/protocol'

/** The part of a fastify request the guard reads. */
export interface ClosingRequest {
  url: string
  routeOptions: { url?: string | undefined }
}

/** The part of a fastify reply the guard writes. */
export interface ClosingReply {
  code(status: number): ClosingReply
  header(name: string, value: string): ClosingReply
  type(contentType: string): ClosingReply
  send(payload: string): unknown
}

export interface ClosingGuard {
  /** True from the app's preClose on. */
  isClosing(): boolean
  /** Requests that answer for themselves while closing (the health routes: `draining`). */
  answersItself(request: ClosingRequest): boolean
  /** The 503's message: who is shutting down, and that nothing was done. */
  message: string
}

/**
 * An onRequest hook for an app that closes with fastify's `return503OnClosing` off. A request that
 * still arrives while closing (on a connection that was busy when the close began, or pipelined
 * behind one) gets the API's own 503: `code` unavailable, nothing done, retry; `Connection: close`
 * so the client's next try opens a connection to a replica that is up. fastify's own 503 answered
 * a body without `code`, before any hook ran. The body is sent as JSON text: a route's response
 * schema for 503 (readyz's) never applies to it.
 */
export function closingGuard(guard: ClosingGuard) {
  const body = JSON.stringify({ code: 'unavailable', message: guard.message } satisfies ApiError)
  return function unavailableWhileClosing(request: ClosingRequest, reply: ClosingReply, done: () => void): void {
    if (!guard.isClosing() || guard.answersItself(request)) {
      done()
      return
    }
    void reply
      .code(API_ERRORS.unavailable)
      .header('connection', 'close')
      .header('retry-after', '1')
      .type('application/json; charset=utf-8')
      .send(body)
  }
}

/** The part of a fastify app `answerUnavailableWhileClosing` needs. */
export interface ClosingApp {
  addHook(name: 'preClose', hook: () => Promise<void>): unknown
  addHook(name: 'onRequest', hook: (request: ClosingRequest, reply: ClosingReply, done: () => void) => void): unknown
}

/**
 * closingGuard on an app of its own: closing from the app's preClose on. Add it before the plugins
 * (their routes then run it first, and an upgrade is answered before @fastify/websocket takes it).
 */
export function answerUnavailableWhileClosing(app: ClosingApp, guard: Omit<ClosingGuard, 'isClosing'>): void {
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onRequest', closingGuard({ ...guard, isClosing: () => closing }))
}

/**
 * The API's error body (`{ code, message }`, docs/protocol.md) for the two kinds of bad request
 * that never reach an app's error handler, for every service with an HTTP side:
 *
 * - `frameworkErrors`: a URL fastify's router cannot take (a malformed percent-escape, a path
 *   parameter over `maxParamLength`). fastify answers these from its root, outside any plugin's
 *   error handler, with its own body (`FST_ERR_BAD_URL`, or a 414 `FST_ERR_MAX_PARAM_LENGTH`).
 * - `clientErrorHandler`: a request Node's HTTP parser refuses (a byte not allowed in a header, an
 *   unknown method, headers over `maxHeaderSize`, a request not received in time). The request
 *   never becomes one; fastify's default wrote `{"error":"Bad Request","message":"Client Error"}`.
 *
 * Structural types, as closing.ts: this package does not depend on fastify.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { API_ERRORS, type ApiError, type ApiErrorCode } from '@touchline/protocol'

/** The part of a fastify reply `frameworkErrors` writes: its Node response, as fastify's own default does. */
export interface FrameworkErrorReply {
  raw: ServerResponse
}

/** fastify's `frameworkErrors` option: a bad URL is a `bad_request` like any other bad input. */
export function frameworkErrors(error: Error & { code?: string }, _request: unknown, reply: FrameworkErrorReply): void {
  const message =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? `a path segment of the URL is longer than ${MAX_PARAM_LENGTH} characters`
      : error.code === 'FST_ERR_BAD_URL'
        ? 'malformed URL: a percent-escape does not decode'
        : 'the URL cannot be routed'
  const body = JSON.stringify({ code: 'bad_request', message } satisfies ApiError)
  reply.raw
    .writeHead(API_ERRORS.bad_request, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
    .end(body)
}

/** fastify's default, named: no id or name in the API comes close (match ids are ≤ 64). */
export const MAX_PARAM_LENGTH = 100

/** What a request Node's parser refused is answered with: status, code, message. */
function clientErrorAnswer(err: Error & { code?: string }): { status: number; code: ApiErrorCode; message: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'too_large', message: 'the request headers are too large' }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'bad_request', message: 'the request was not received in time' }
    case 'HPE_INVALID_METHOD':
      return { status: 400, code: 'bad_request', message: 'unknown HTTP method' }
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_INVALID_HEADER_VALUE':
      return { status: 400, code: 'bad_request', message: 'a request header has a character HTTP does not allow' }
    default:
      return { status: 400, code: 'bad_request', message: 'the request is not valid HTTP' }
  }
}

/**
 * fastify's `clientErrorHandler` option, the same answer as fastify's default (a raw response,
 * then the socket is destroyed, as Node does: the parser cannot find the next request's start)
 * with the API's body. A reset connection, or one already gone, gets nothing.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  if (socket.writable) {
    const { status, code, message } = clientErrorAnswer(err)
    const body = JSON.stringify({ code, message } satisfies ApiError)
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy(err)
}

/**
 * The API's 404 body for a path no route serves, for an app's `setNotFoundHandler` (the gateway,
 * the embedded root): the same `not_found` as ingest answers, instead of fastify's body without
 * a `code`. The query is left out of the message.
 */
export function notFoundBody(method: string, url: string): string {
  return JSON.stringify({ code: 'not_found', message: `no route ${method} ${url.split('?', 1)[0]}` } satisfies ApiError)
}

/** Both, to spread into `Fastify({...})`. */
export const apiHttpErrors = { frameworkErrors, clientErrorHandler } as const

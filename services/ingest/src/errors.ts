/**
 * Every error the ingest API answers, in one table (as fastify's own lib/errors.js): one
 * @fastify/error constructor per code of protocol's API_ERRORS, with its status. The error
 * handler turns anything thrown — ours, fastify's (validation, body too large, bad JSON, wrong
 * content type), the bus's typed errors — into `{ code, message, details? }` with a stable code.
 * No stack trace or internal message ever reaches a client.
 *
 * As docs/protocol.md says: a whole body over LIMITS.apiBodyMaxBytes answers 413 `too_large`; a
 * field over its own limit (text, URL, `data` bytes …) is an invalid body, 400 `bad_request`, with
 * `details` (path + message per problem) naming the field and the limit.
 */
import createError from '@fastify/error'
import { BusUnavailableError, IdempotencyConflictError, MatchExistsError, UnknownMatchError } from '@touchline/bus'
import { PresenceUnavailableError } from '@touchline/presence'
import { API_ERRORS, type ApiErrorCode } from '@touchline/protocol'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'

export type Details = Array<{ path: string; message: string }>

/** The JSON body of every error answer (protocol's ApiError schema). */
export interface ApiErrorBody {
  code: ApiErrorCode
  message: string
  details?: Details
}

function make<C extends ApiErrorCode>(code: C, message: string) {
  // captureStackTrace off: these are answers, not bugs.
  return createError<C, (typeof API_ERRORS)[C], [string?]>(code, message, API_ERRORS[code], Error, false)
}

/**
 * Keys are the public codes; each error's `code` is the key in capitals (@fastify/error upper-cases
 * it) and its statusCode the protocol's. `%s` takes the message argument.
 */
export const ERRORS = {
  bad_request: make('bad_request', '%s'),
  unauthorized: make('unauthorized', '%s'),
  forbidden: make('forbidden', '%s'),
  unknown_match: make('unknown_match', '%s'),
  not_found: make('not_found', '%s'),
  match_exists: make('match_exists', '%s'),
  idempotency_conflict: make('idempotency_conflict', '%s'),
  too_large: make('too_large', '%s'),
  unsupported_media_type: make('unsupported_media_type', '%s'),
  rate_limited: make('rate_limited', '%s'),
  internal: make('internal', '%s'),
  unavailable: make('unavailable', '%s'),
} as const satisfies { [C in ApiErrorCode]: unknown }

/** An API error with optional field details (for `bad_request`). */
export function apiError(code: ApiErrorCode, message: string, details?: Details): FastifyError {
  const err = new ERRORS[code](message) as FastifyError & { details?: Details }
  if (details) err.details = details
  return err
}

interface AjvIssue {
  keyword?: string
  instancePath?: string
  schemaPath?: string
  message?: string
  params?: Record<string, unknown>
}

function validationDetails(context: string | undefined, issues: AjvIssue[]): Details {
  const out: Details = []
  for (const i of issues) {
    // TypeBox reports an unknown field twice (`boolean` on the field, `additionalProperties` on
    // its object); keep the second, which names it.
    if (i.keyword === 'boolean' && i.schemaPath?.endsWith('additionalProperties')) continue
    const base = `${context ?? 'request'}${i.instancePath ?? ''}`
    const named =
      i.params?.requiredProperties ??
      i.params?.missingProperty ??
      (i.keyword === 'additionalProperties' ? (i.params?.additionalProperties ?? i.params?.additionalProperty) : undefined)
    const names = Array.isArray(named) ? named : typeof named === 'string' ? [named] : []
    if (names.length > 0) {
      const message = i.keyword === 'required' ? 'is required' : 'is not a known field'
      for (const n of names) out.push({ path: `${base}/${String(n)}`, message })
    } else {
      out.push({ path: base, message: i.message ?? 'is invalid' })
    }
    if (out.length >= 20) break
  }
  return out
}

export interface MappedError {
  status: number
  body: ApiErrorBody
}

/** Map anything thrown to a status and a public body. Unknown errors become 500 `internal`. */
export function mapError(error: unknown): MappedError {
  const e = error as FastifyError & { details?: Details; validationContext?: string }
  if (e instanceof BusUnavailableError) {
    return { status: 503, body: { code: 'unavailable', message: 'the event bus is unavailable: nothing was stored, retry' } }
  }
  if (e instanceof PresenceUnavailableError) {
    return { status: 503, body: { code: 'unavailable', message: 'the presence store is unavailable, retry' } }
  }
  if (e instanceof UnknownMatchError) {
    return { status: 404, body: { code: 'unknown_match', message: `unknown match ${e.matchId}` } }
  }
  if (e instanceof MatchExistsError) {
    return { status: 409, body: { code: 'match_exists', message: `match ${e.matchId} already exists` } }
  }
  if (e instanceof IdempotencyConflictError) {
    return {
      status: 409,
      body: { code: 'idempotency_conflict', message: 'this Idempotency-Key was already used for a different event' },
    }
  }
  if (e && Array.isArray(e.validation)) {
    const issues = e.validation as AjvIssue[]
    const details = validationDetails(e.validationContext, issues)
    const first = details[0]
    const message = first ? `${first.path} ${first.message}` : 'invalid request'
    return { status: 400, body: { code: 'bad_request', message, details } }
  }
  const code = e?.code
  // @fastify/error upper-cases codes: ours are the table's keys in capitals.
  const own = typeof code === 'string' ? code.toLowerCase() : ''
  if (Object.hasOwn(ERRORS, own) && e instanceof ERRORS[own as ApiErrorCode]) {
    const body: ApiErrorBody = { code: own as ApiErrorCode, message: e.message }
    const details = (error as { details?: Details }).details
    if (details) body.details = details
    return { status: API_ERRORS[own as ApiErrorCode], body }
  }
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: { code: 'too_large', message: 'request body is too large' } }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: { code: 'unsupported_media_type', message: 'send the body as application/json' } }
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      // fastify's parser (secure-json-parse) refuses prototype keys with the same error.
      return {
        status: 400,
        body: { code: 'bad_request', message: 'request body is not valid JSON, or has a __proto__ or constructor.prototype key' },
      }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, body: { code: 'bad_request', message: 'request body is empty but content-type is application/json' } }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: { code: 'bad_request', message: 'content-length does not match the body' } }
    case 'FST_ERR_BAD_URL':
      return { status: 400, body: { code: 'bad_request', message: 'malformed URL' } }
  }
  // JSON.parse SyntaxError from a custom parser, or any other client error fastify flags with 4xx.
  const status = typeof e?.statusCode === 'number' ? e.statusCode : 500
  if (status === 429) return { status, body: { code: 'rate_limited', message: 'too many requests: retry later' } }
  if (status >= 400 && status < 500) return { status: 400, body: { code: 'bad_request', message: 'bad request' } }
  return { status: 500, body: { code: 'internal', message: 'internal error: it has been logged' } }
}

/** setErrorHandler body: map, log server-side failures with their stack, answer JSON. */
export function errorHandler(this: unknown, error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = mapError(error)
  if (status >= 500 && status !== 503) request.log.error({ err: error }, 'request failed')
  else if (status === 503) request.log.warn({ err: { message: error.message, name: error.name } }, 'dependency unavailable')
  if (status === 503) reply.header('retry-after', '1')
  if (status === 401) reply.header('www-authenticate', 'Bearer realm="touchline"')
  void reply.code(status).type('application/json; charset=utf-8').send(body)
}

/**
 * Bearer API keys with roles. Keys are kept only as SHA-256 digests; a presented key is hashed
 * and compared with every stored digest in constant time (no early exit, so timing says nothing
 * about which key or how many bytes matched).
 *
 * Roles: `commentator` may post events and read; `admin` may do everything a commentator may,
 * and also create matches and moderate (chat deletion, mutes, banned words).
 */
import { hash, timingSafeEqual } from 'node:crypto'
import { type ApiKey, resolveApiKeys } from '@touchline/config'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { apiError } from './errors.ts'

export type Role = ApiKey['role']

const RANK: Record<Role, number> = { commentator: 1, admin: 2 }

export interface KeyRing {
  /** The role of a presented key, or null. */
  roleOf(presented: string): Role | null
  /** Swap the whole key set at once (SIGHUP reload); requests in flight keep their answer. */
  replace(keys: readonly ApiKey[]): void
  readonly size: number
  /** Bumped by every replace(): an answer remembered under an older generation is not used. */
  readonly generation: number
}

/** One-shot `crypto.hash` (no Hash object per call: a third of the auth hook's CPU per request). */
function digest(key: string): Buffer {
  return hash('sha256', key, 'buffer')
}

export function keyRing(keys: readonly ApiKey[]): KeyRing {
  let entries = keys.map((k) => ({ role: k.role, hash: digest(k.key) }))
  let generation = 0
  return {
    get size() {
      return entries.length
    },
    get generation() {
      return generation
    },
    replace(next) {
      entries = next.map((k) => ({ role: k.role, hash: digest(k.key) }))
      generation++
    },
    roleOf(presented) {
      const h = digest(presented)
      let found: Role | null = null
      for (const e of entries) {
        // Every entry is compared; the best role wins if a key is listed twice.
        if (timingSafeEqual(h, e.hash) && (found === null || RANK[e.role] > RANK[found])) found = e.role
      }
      return found
    },
  }
}

/**
 * SIGHUP key rotation (ingest and the embedded mode): re-read TOUCHLINE_API_KEYS_FILE, with
 * TOUCHLINE_API_KEYS as it was at start (a running process's environment cannot change), into
 * `ring`. A file that cannot be read or parsed, or that holds no key at all, keeps the current
 * keys with a warning: an empty file is far more likely a rotation caught half-written than a wish
 * to lock every commentator out. Never throws.
 */
export function reloadApiKeysFile(
  cfg: { TOUCHLINE_API_KEYS?: ApiKey[] | undefined; TOUCHLINE_API_KEYS_FILE?: string | undefined },
  ring: KeyRing,
  log: Pick<FastifyBaseLogger, 'info' | 'warn'>,
): void {
  const file = cfg.TOUCHLINE_API_KEYS_FILE
  if (!file) {
    log.info('SIGHUP: no TOUCHLINE_API_KEYS_FILE, API keys unchanged (the environment is read at start only)')
    return
  }
  let keys: ApiKey[]
  try {
    keys = resolveApiKeys(cfg)
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'SIGHUP: API keys not reloaded, keeping the current ones')
    return
  }
  if (keys.length === 0) {
    log.warn({ file }, 'SIGHUP: API keys not reloaded (the file holds no key), keeping the current ones')
    return
  }
  ring.replace(keys)
  log.info({ file, keys: ring.size }, 'SIGHUP: API keys reloaded from TOUCHLINE_API_KEYS_FILE')
}

/** Route config: the least role a route needs. */
export interface AuthConfig {
  role?: Role
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The role of the caller's API key, set by the auth hook (null before it ran). */
    apiRole: Role | null
  }
  interface FastifyContextConfig {
    role?: Role
  }
}

const BEARER = /^Bearer[ ]+([^\s]{1,512})\s*$/i

/**
 * onRequest hook for the write-routes plugin only: 401 without a valid key, 403 when the key's
 * role is below the route's `config.role` (default commentator).
 *
 * A keep-alive connection sends the same Authorization header with every request, so the hook
 * remembers, per connection, the last header that was accepted and its role (for the ring's
 * current generation only, so a key removed by a reload is refused on the next request). Any
 * other header goes through the ring's hash-and-compare. Hashing every request was ~2.5 % of
 * ingest CPU at 5,000 posts/s. Only a connection's own accepted header can hit, so the shortcut
 * tells a client nothing it did not know.
 */
export function authHook(ring: KeyRing) {
  const accepted = new WeakMap<object, { header: string; role: Role; generation: number }>()
  return async function requireApiKey(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const header = request.headers.authorization
    if (!header) throw apiError('unauthorized', 'missing API key: send Authorization: Bearer <key>')
    const conn = request.raw.socket as object | undefined
    const last = conn ? accepted.get(conn) : undefined
    let role: Role | null
    if (last && last.header === header && last.generation === ring.generation) role = last.role
    else {
      const m = BEARER.exec(header)
      role = m?.[1] ? ring.roleOf(m[1]) : null
      if (role && conn) accepted.set(conn, { header, role, generation: ring.generation })
    }
    if (!role) throw apiError('unauthorized', 'invalid API key')
    request.apiRole = role
    const need: Role = request.routeOptions.config.role ?? 'commentator'
    if (RANK[role] < RANK[need]) throw apiError('forbidden', `this needs the ${need} role`)
  }
}

/**
 * Field parsers for environment variables. Each turns the raw string (or undefined) into a typed
 * value or throws a message saying what is wrong; `load.ts` adds the variable's name.
 */
import { isIP, isIPv4 } from 'node:net'

export interface Field<T> {
  readonly describe: string
  readonly defaultText: string
  parse(raw: string | undefined): T
}

type Opt<T> = { default?: T; describe?: string }

function need(raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') throw new Error('is required')
  return raw.trim()
}

export function str(o: Opt<string> & { pattern?: RegExp } = {}): Field<string> {
  return {
    describe: o.describe ?? '',
    defaultText: o.default ?? '(required)',
    parse(raw) {
      const v = raw === undefined || raw.trim() === '' ? o.default : raw.trim()
      if (v === undefined) return need(raw)
      if (o.pattern && !o.pattern.test(v)) throw new Error(`must match ${o.pattern}, got ${JSON.stringify(v)}`)
      return v
    },
  }
}

export function optionalStr(o: { describe?: string; pattern?: RegExp } = {}): Field<string | undefined> {
  return {
    describe: o.describe ?? '',
    defaultText: '(unset)',
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return undefined
      const v = raw.trim()
      if (o.pattern && !o.pattern.test(v)) throw new Error(`must match ${o.pattern}, got ${JSON.stringify(v)}`)
      return v
    },
  }
}

export function int(o: Opt<number> & { min?: number; max?: number } = {}): Field<number> {
  return {
    describe: o.describe ?? '',
    defaultText: o.default === undefined ? '(required)' : String(o.default),
    parse(raw) {
      if (raw === undefined || raw.trim() === '') {
        if (o.default !== undefined) return o.default
        return Number(need(raw))
      }
      const t = raw.trim()
      if (!/^-?\d+$/.test(t)) throw new Error(`must be a whole number, got ${JSON.stringify(t)}`)
      const n = Number(t)
      // `t`, not `n`, in the messages: a number past 2^53 would be shown rounded.
      if (o.min !== undefined && n < o.min) throw new Error(`must be at least ${o.min}, got ${t}`)
      if (o.max !== undefined && n > o.max) throw new Error(`must be at most ${o.max}, got ${t}`)
      if (!Number.isSafeInteger(n)) throw new Error(`must be at most ${Number.MAX_SAFE_INTEGER}, got ${t}`)
      return n
    },
  }
}

export function bool(o: Opt<boolean> = {}): Field<boolean> {
  return {
    describe: o.describe ?? '',
    defaultText: String(o.default ?? false),
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return o.default ?? false
      const t = raw.trim().toLowerCase()
      if (['1', 'true', 'yes', 'on'].includes(t)) return true
      if (['0', 'false', 'no', 'off'].includes(t)) return false
      throw new Error(`must be true or false (or 1/0, yes/no, on/off), got ${JSON.stringify(raw.trim())}`)
    },
  }
}

export function oneOf<const T extends string>(values: readonly T[], o: Opt<T> = {}): Field<T> {
  return {
    describe: o.describe ?? '',
    defaultText: o.default ?? '(required)',
    parse(raw) {
      const v = raw === undefined || raw.trim() === '' ? o.default : raw.trim()
      if (v === undefined) return need(raw) as T
      if (!(values as readonly string[]).includes(v)) throw new Error(`must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`)
      return v as T
    },
  }
}

/**
 * A comma-separated list of URLs with one of the given schemes, or with `list: false` exactly one
 * (several are refused: only the first would be used). Unset gives undefined: for NATS_URL and
 * REDIS_URL that means the in-memory implementation.
 */
export function urls(o: { protocols: string[]; list?: boolean; describe?: string }): Field<string[] | undefined> {
  return {
    describe: o.describe ?? '',
    defaultText: '(unset)',
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return undefined
      const parts = raw.split(',')
      // Only the first of several would be used: say so rather than ignore the others.
      if (o.list === false && parts.length > 1) throw new Error(`takes one URL, got ${parts.length}: ${JSON.stringify(raw.trim())}`)
      return parts.map((part, i) => {
        const t = part.trim()
        if (t === '') throw new Error(`has an empty entry (${i + 1} of ${parts.length}): ${JSON.stringify(raw.trim())}`)
        let u: URL
        try {
          u = new URL(t)
        } catch {
          throw new Error(`is not a valid URL: ${JSON.stringify(t)} (expected e.g. ${o.protocols[0]}//127.0.0.1:port)`)
        }
        if (!o.protocols.includes(u.protocol)) {
          throw new Error(`must use ${o.protocols.join(' or ')}, got ${JSON.stringify(t)}`)
        }
        if (!u.hostname) throw new Error(`has no host: ${JSON.stringify(t)}`)
        if (u.port !== '' && (Number(u.port) < 1 || Number(u.port) > 65535)) throw new Error(`has a bad port: ${JSON.stringify(t)}`)
        return t
      })
    },
  }
}

export interface ApiKey {
  role: 'admin' | 'commentator'
  key: string
}

/** What a key may hold: what ingest's `Authorization: Bearer <key>` accepts (auth.ts). */
const KEY_CHARS = /^[\x21-\x7e]+$/
const KEY_MAX = 512

/**
 * Parse `role:key` entries (e.g. `admin:k1`); throws naming the entry that is wrong. A key listed
 * twice is refused: with two roles it would silently get the higher one.
 */
export function parseApiKeys(entries: readonly string[]): ApiKey[] {
  const seen = new Map<string, number>()
  return entries.map((pair, i) => {
    const idx = pair.indexOf(':')
    const role = pair.slice(0, idx).trim()
    const key = pair.slice(idx + 1).trim()
    if (idx < 0 || (role !== 'admin' && role !== 'commentator')) {
      throw new Error(`entry ${i + 1} must be admin:<key> or commentator:<key>, got role ${JSON.stringify(idx < 0 ? pair.trim() : role)}`)
    }
    if (key.length < 8) throw new Error(`entry ${i + 1} (${role}) has a key shorter than 8 characters`)
    if (key.length > KEY_MAX) throw new Error(`entry ${i + 1} (${role}) has a key longer than ${KEY_MAX} characters`)
    if (/[;\s]\s*(admin|commentator):/.test(key)) {
      throw new Error(`entry ${i + 1} (${role}) looks like two entries: separate role:key pairs with commas`)
    }
    if (!KEY_CHARS.test(key)) {
      throw new Error(
        `entry ${i + 1} (${role}) has a key with spaces or characters other than printable ASCII (it could not be sent as a Bearer token)`,
      )
    }
    const first = seen.get(key)
    if (first !== undefined) throw new Error(`entry ${i + 1} (${role}) repeats the key of entry ${first}`)
    seen.set(key, i + 1)
    return { role, key }
  })
}

/** `role:key` pairs, comma-separated: `admin:k1,commentator:k2`. */
export function apiKeys(o: { describe?: string } = {}): Field<ApiKey[] | undefined> {
  return {
    describe: o.describe ?? '',
    defaultText: '(unset)',
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return undefined
      return parseApiKeys(raw.split(','))
    },
  }
}

const TRUST_NAMES = ['loopback', 'linklocal', 'uniquelocal']

/** Why one TRUST_PROXY entry is not an address, a CIDR or a proxy-addr name; null when it is. */
function trustEntryProblem(entry: string): string | null {
  if (TRUST_NAMES.includes(entry)) return null
  const slash = entry.indexOf('/')
  const addr = slash < 0 ? entry : entry.slice(0, slash)
  const version = isIP(addr)
  if (version === 0) return `${JSON.stringify(entry)} is not an IP address`
  if (slash < 0) return null
  const range = entry.slice(slash + 1)
  const bits = version === 4 ? 32 : 128
  if (/^\d+$/.test(range) && Number(range) <= bits) return null
  if (version === 4 && isIPv4(range)) return null
  return `${JSON.stringify(entry)} has a bad range (expected /0 to /${bits}${version === 4 ? ' or a netmask' : ''})`
}

/**
 * Addresses, CIDRs or the names loopback, linklocal, uniquelocal, comma-separated (fastify's
 * `trustProxy`); kept as the text, checked now so that a typo is not a crash when the app starts.
 */
export function trustProxy(o: { describe?: string } = {}): Field<string | undefined> {
  return {
    describe: o.describe ?? '',
    defaultText: '(unset)',
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return undefined
      const entries = raw.split(',').map((e) => e.trim())
      for (const [i, e] of entries.entries()) {
        const problem = e === '' ? `entry ${i + 1} is empty` : trustEntryProblem(e)
        if (problem) {
          throw new Error(
            `must be addresses or CIDRs (or loopback, linklocal, uniquelocal), comma-separated: ${problem}, got ${JSON.stringify(raw.trim())}`,
          )
        }
      }
      return entries.join(',')
    },
  }
}

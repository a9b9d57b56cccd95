/**
 * Field parsers for environment variables. Each turns the raw string (or undefined) into a typed
 * value or throws a message saying what is wrong; `load.ts` adds the variable's name.
 */
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
      if (o.min !== undefined && n < o.min) throw new Error(`must be at least ${o.min}, got ${n}`)
      if (o.max !== undefined && n > o.max) throw new Error(`must be at most ${o.max}, got ${n}`)
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
      throw new Error(`must be true or false, got ${JSON.stringify(raw)}`)
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
 * A URL (or a comma-separated list of URLs when `list` is set) with one of the given schemes.
 * Unset gives undefined: for NATS_URL and REDIS_URL that means the in-memory implementation.
 */
export function urls(o: { protocols: string[]; describe?: string }): Field<string[] | undefined> {
  return {
    describe: o.describe ?? '',
    defaultText: '(unset)',
    parse(raw) {
      if (raw === undefined || raw.trim() === '') return undefined
      return raw.split(',').map((part) => {
        const t = part.trim()
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

/** Parse `role:key` entries (e.g. `admin:k1`); throws naming the entry that is wrong. */
export function parseApiKeys(entries: readonly string[]): ApiKey[] {
  return entries.map((pair, i) => {
    const idx = pair.indexOf(':')
    const role = pair.slice(0, idx).trim()
    const key = pair.slice(idx + 1).trim()
    if (idx < 0 || (role !== 'admin' && role !== 'commentator')) {
      throw new Error(`entry ${i + 1} must be admin:<key> or commentator:<key>`)
    }
    if (key.length < 8) throw new Error(`entry ${i + 1} (${role}) has a key shorter than 8 characters`)
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

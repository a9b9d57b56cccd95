/**
 * The only reader of process.env. A service declares its variables as a spec of fields and gets a
 * typed, validated object; anything wrong throws one ConfigError naming every bad variable.
 */
import { readFileSync } from 'node:fs'
import { type ApiKey, type Field, parseApiKeys } from './fields.ts'

export type Spec = Record<string, Field<unknown>>
export type ConfigOf<S extends Spec> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never }

export class ConfigError extends Error {
  override name = 'ConfigError'
  readonly problems: Problem[]
  constructor(problems: Problem[]) {
    super(problems.map((p) => `${p.variable} ${p.problem}`).join('; '))
    this.problems = problems
  }
}

export type Problem = { variable: string; problem: string }

/** Warnings of a loaded configuration, by the object loadConfig returned (see configWarnings). */
const warningsByConfig = new WeakMap<object, string[]>()

/**
 * Variables other processes read whose names look like ours. Node's own (NODE_OPTIONS…) and the
 * ones Kubernetes sets for a Service named nats or redis (NATS_PORT=tcp://…, REDIS_SERVICE_HOST).
 */
const FOREIGN =
  /^NODE_(OPTIONS|ENV|PATH|DEBUG|EXTRA_CA_CERTS|TLS_REJECT_UNAUTHORIZED|NO_WARNINGS|REPL_.*|V8_COVERAGE|COMPILE_CACHE|PENDING_DEPRECATION|ICU_DATA|DISABLE_COLORS|CHANNEL_FD|UNIQUE_ID)$|_SERVICE_(HOST|PORT(_[A-Z0-9_]+)?)$|_PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?$/

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return row[b.length] as number
}

/**
 * Warnings (never errors) about the environment: a variable that starts like one of the spec's
 * (WS_, PRESENCE_, TOUCHLINE_…) or is within two letters of one, but is none of them — most often
 * a typo that would otherwise leave the default in force without a word; and one of the spec's set
 * but empty, which counts as unset. `alsoKnown`: names other services read, never reported.
 */
export function environmentWarnings(spec: Spec, env: Record<string, string | undefined>, alsoKnown: readonly string[] = []): string[] {
  const names = Object.keys(spec)
  const prefixes = new Set(names.filter((n) => n.includes('_')).map((n) => n.slice(0, n.indexOf('_') + 1)))
  const known = new Set([...names, ...alsoKnown])
  const warnings: string[] = []
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue
    if (names.includes(name)) {
      if (value.trim() === '') warnings.push(`${name} is set but empty: using its default (${spec[name]?.defaultText})`)
      continue
    }
    if (known.has(name) || FOREIGN.test(name)) continue
    const near = names.map((n) => ({ n, d: n.startsWith(name) || name.startsWith(n) ? 1 : distance(name, n) })).sort((a, b) => a.d - b.d)[0]
    // A known prefix (WS_MAX_CONECTIONS), or a near miss of a long name (EMBEDED_DEMO).
    const nearMiss = near !== undefined && near.d <= 2 && name.includes('_') && near.n.length >= 8
    if (!nearMiss && ![...prefixes].some((p) => name.startsWith(p))) continue
    const hint = near && near.d <= 3 ? ` (did you mean ${near.n}?)` : ''
    warnings.push(`${name} is not a variable of this service and is ignored${hint}`)
  }
  return warnings
}

/** The warnings found when `cfg` was loaded (environmentWarnings); configOrExit prints them. */
export function configWarnings(cfg: object): readonly string[] {
  return warningsByConfig.get(cfg) ?? []
}

export function loadConfig<S extends Spec>(
  spec: S,
  env: Record<string, string | undefined> = process.env,
  options: { alsoKnown?: readonly string[] } = {},
): ConfigOf<S> {
  const out: Record<string, unknown> = {}
  const problems: Problem[] = []
  for (const [name, field] of Object.entries(spec)) {
    try {
      out[name] = field.parse(env[name])
    } catch (err) {
      problems.push({ variable: name, problem: (err as Error).message })
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
  warningsByConfig.set(out, environmentWarnings(spec, env, options.alsoKnown))
  return out as ConfigOf<S>
}

/** Markdown rows for the README's configuration table. */
export function describeSpec(spec: Spec): string {
  return Object.entries(spec)
    .map(([name, f]) => `| \`${name}\` | ${f.defaultText} | ${f.describe} |`)
    .join('\n')
}

/**
 * The API keys of TOUCHLINE_API_KEYS plus those of TOUCHLINE_API_KEYS_FILE (read now: call it
 * again on SIGHUP to pick up a rotated file). Throws ConfigError naming the variable.
 */
export function resolveApiKeys(cfg: { TOUCHLINE_API_KEYS?: ApiKey[] | undefined; TOUCHLINE_API_KEYS_FILE?: string | undefined }): ApiKey[] {
  const keys = [...(cfg.TOUCHLINE_API_KEYS ?? [])]
  const file = cfg.TOUCHLINE_API_KEYS_FILE
  if (file) {
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new ConfigError([
        {
          variable: 'TOUCHLINE_API_KEYS_FILE',
          problem: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${file})`,
        },
      ])
    }
    const lines = text
      .split('\n')
      .map((l) => l.replace(/#.*/, '').trim())
      .filter(Boolean)
    let fromFile: ApiKey[]
    try {
      fromFile = parseApiKeys(lines)
    } catch (err) {
      throw new ConfigError([{ variable: 'TOUCHLINE_API_KEYS_FILE', problem: `${(err as Error).message} (${file})` }])
    }
    const inEnv = new Set(keys.map((k) => k.key))
    const line = fromFile.findIndex((k) => inEnv.has(k.key))
    if (line >= 0) {
      throw new ConfigError([
        { variable: 'TOUCHLINE_API_KEYS_FILE', problem: `entry ${line + 1} repeats a key of TOUCHLINE_API_KEYS (${file})` },
      ])
    }
    keys.push(...fromFile)
  }
  return keys
}

/**
 * The API keys at start: TOUCHLINE_API_KEYS_FILE is read now, so a missing, unreadable or broken
 * file is a configuration problem (exit 78), not a crash after the backends connected; a file
 * that names no key, with no TOUCHLINE_API_KEYS beside it, is one too (nobody could post).
 * `required`: one of the two must be set (standalone ingest; the embedded mode generates keys).
 */
export function apiKeysProblems(
  cfg: { TOUCHLINE_API_KEYS?: ApiKey[] | undefined; TOUCHLINE_API_KEYS_FILE?: string | undefined },
  options: { required: boolean },
): Problem[] {
  if (!cfg.TOUCHLINE_API_KEYS && !cfg.TOUCHLINE_API_KEYS_FILE) {
    if (!options.required) return []
    return [
      {
        variable: 'TOUCHLINE_API_KEYS',
        problem:
          'is required for a standalone ingest, or TOUCHLINE_API_KEYS_FILE (e.g. admin:<key>,commentator:<key>; keys of 8+ characters)',
      },
    ]
  }
  let keys: ApiKey[]
  try {
    keys = resolveApiKeys(cfg)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  if (keys.length === 0) {
    return [
      {
        variable: 'TOUCHLINE_API_KEYS_FILE',
        problem: `holds no key (${cfg.TOUCHLINE_API_KEYS_FILE}): expected lines of admin:<key> or commentator:<key>, and TOUCHLINE_API_KEYS is unset`,
      },
    ]
  }
  return []
}

/**
 * For a service's main: print a one-line error (no stack trace) and exit with status 78
 * (EX_CONFIG) when configuration is bad or a dependency named by it cannot be reached.
 */
export function failStartup(service: string, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`${service}: configuration error: ${message}\n`)
  process.exit(78)
}

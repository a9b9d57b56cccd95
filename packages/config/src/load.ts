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
  readonly problems: Array<{ variable: string; problem: string }>
  constructor(problems: Array<{ variable: string; problem: string }>) {
    super(problems.map((p) => `${p.variable} ${p.problem}`).join('; '))
    this.problems = problems
  }
}

export function loadConfig<S extends Spec>(spec: S, env: Record<string, string | undefined> = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {}
  const problems: Array<{ variable: string; problem: string }> = []
  for (const [name, field] of Object.entries(spec)) {
    try {
      out[name] = field.parse(env[name])
    } catch (err) {
      problems.push({ variable: name, problem: (err as Error).message })
    }
  }
  if (problems.length > 0) throw new ConfigError(problems)
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
    try {
      keys.push(...parseApiKeys(lines))
    } catch (err) {
      throw new ConfigError([{ variable: 'TOUCHLINE_API_KEYS_FILE', problem: `${(err as Error).message} (${file})` }])
    }
  }
  return keys
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

/**
 * The only reader of process.env. A service declares its variables as a spec of fields and gets a
 * typed, validated object; anything wrong throws one ConfigError naming every bad variable.
 */
import type { Field } from './fields.ts'

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
 * For a service's main: print a one-line error (no stack trace) and exit with status 78
 * (EX_CONFIG) when configuration is bad or a dependency named by it cannot be reached.
 */
export function failStartup(service: string, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err)
  process.stderr.write(`${service}: configuration error: ${message}\n`)
  process.exit(78)
}

/**
 * Typed refusals of the renderer. A description that cannot work is refused as a whole with every
 * problem listed, each with a stable code and the path of the offending field.
 */

export const NGINX_PROBLEM_CODES = [
  'invalid_value', // a field has the wrong type or an out-of-range value
  'unknown_field', // a field the renderer does not know (usually a typo)
  'unknown_strategy',
  'no_servers', // an upstream lists no server
  'no_primary', // every server is a backup: nothing to fall back from
  'no_usable_server', // every server is `down`
  'invalid_address',
  'duplicate_address',
  'hash_key_required', // strategy `hash` without `hashKey`
  'hash_key_invalid', // unsafe characters, or no variable (every request would go to one server)
  'hash_only_option', // `hashKey` / `consistent` with another strategy
  'resolve_unsupported', // `resolve` needs nginx 1.27.3+
  'resolver_required', // `resolve` needs `resolver`
  'timeout_too_short', // WebSocket read timeout not at least twice the heartbeat
] as const
export type NginxProblemCode = (typeof NGINX_PROBLEM_CODES)[number]

export interface NginxProblem {
  code: NginxProblemCode
  /** e.g. `gateways.servers[2].weight` */
  path: string
  message: string
}

export class NginxConfigError extends Error {
  override name = 'NginxConfigError'
  readonly problems: NginxProblem[]
  constructor(problems: NginxProblem[]) {
    super(`nginx description refused:\n${problems.map((p) => `  - ${p.path}: ${p.message} [${p.code}]`).join('\n')}`)
    this.problems = problems
  }
}

/** `nginx -t` rejected a rendered file (should not happen for rendered files; a bug if it does). */
export class NginxTestError extends Error {
  override name = 'NginxTestError'
  readonly output: string
  constructor(output: string) {
    super(`nginx -t failed: ${output.trim()}`)
    this.output = output
  }
}

/** The nginx binary is not installed. */
export class NginxMissingError extends Error {
  override name = 'NginxMissingError'
}

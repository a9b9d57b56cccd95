/**
 * The embedded mode's environment: everything a gateway and ingest read, with the embedded
 * defaults (PORT 8080, HOST 127.0.0.1, API keys and token secret generated when unset).
 */
import { apiKeysProblems, bool, ConfigError, type ConfigOf, int, loadConfig } from '@touchline/config'
import { gatewayConfigProblems, gatewaySpec } from '@touchline/gateway'
import { ingestSpec } from '@touchline/ingest'

export const embeddedSpec = {
  ...gatewaySpec,
  ...ingestSpec,
  PORT: int({ default: 8080, min: 0, max: 65535, describe: 'port of the one process (pages, /ws, /api)' }),
  EMBEDDED_DEMO: bool({ default: false, describe: 'create a demo match with a few events at start' }),
} as const

export type EmbeddedConfig = ConfigOf<typeof embeddedSpec>

/** Load and cross-check; throws one ConfigError naming every bad variable. */
export function loadEmbeddedConfig(env: Record<string, string | undefined> = process.env): EmbeddedConfig {
  const cfg = loadConfig(embeddedSpec, env)
  // Keys are generated when neither variable is set; a file that is named must be readable and hold one.
  const problems = [...gatewayConfigProblems(cfg, { requireSharedSecret: false }), ...apiKeysProblems(cfg, { required: false })]
  if (problems.length > 0) throw new ConfigError(problems)
  return cfg
}

/**
 * Ingest's environment: the common variables plus its own. `loadIngestConfig` adds the rules
 * that need several variables at once; both throw ConfigError naming the variable.
 */
import { apiKeysProblems, commonSpec, ConfigError, type ConfigOf, int, loadConfig, type Problem } from '@touchline/config'

export const ingestSpec = {
  ...commonSpec,
  PORT: int({ default: 8081, min: 0, max: 65535, describe: 'port ingest listens on' }),
  NATS_TIMEOUT_MS: int({
    default: 2000,
    min: 100,
    max: 60_000,
    describe: 'upper bound of one bus call; a post answers 503 (nothing stored) within about this when NATS is down or slow',
  }),
  VIEWER_TOKEN_TTL_SEC: int({ default: 4 * 3600, min: 60, max: 7 * 24 * 3600, describe: 'life of a viewer token, seconds' }),
  VIEWER_TOKENS_PER_MINUTE: int({ default: 20, min: 1, max: 100_000, describe: 'viewer tokens per client address per minute' }),
} as const

export type IngestConfig = ConfigOf<typeof ingestSpec>

export function loadIngestConfig(env: Record<string, string | undefined> = process.env): IngestConfig {
  const cfg = loadConfig(ingestSpec, env)
  // Reads TOUCHLINE_API_KEYS_FILE now: a missing or broken file stops start-up here, exit 78.
  const problems: Problem[] = apiKeysProblems(cfg, { required: true })
  if (cfg.NATS_URL && !cfg.TOUCHLINE_TOKEN_SECRET) {
    problems.push({
      variable: 'TOUCHLINE_TOKEN_SECRET',
      problem: 'is required when NATS_URL is set (the gateways verify viewer tokens with the same secret)',
    })
  }
  if (cfg.TOUCHLINE_TOKEN_SECRET && cfg.TOUCHLINE_TOKEN_SECRET.length < 16) {
    problems.push({
      variable: 'TOUCHLINE_TOKEN_SECRET',
      problem: `must have at least 16 characters, got ${cfg.TOUCHLINE_TOKEN_SECRET.length}`,
    })
  }
  if (problems.length > 0) throw new ConfigError(problems)
  return cfg
}

/** fastify `trustProxy` from TRUST_PROXY: a comma-separated list of addresses/CIDRs, or unset. */
export function trustProxyOf(raw: string | undefined): string[] | false {
  if (!raw) return false
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  return list.length > 0 ? list : false
}

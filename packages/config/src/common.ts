/** Variables shared by several services. */
import { apiKeys, int, optionalStr, str, urls, oneOf } from './fields.ts'

/** What every service built on the bus and presence reads: ingest, gateway, embedded. */
export const baseSpec = {
  HOST: str({ default: '127.0.0.1', describe: 'address to bind' }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', describe: 'pino log level' }),
  NATS_URL: urls({ protocols: ['nats:', 'tls:', 'ws:', 'wss:'], describe: 'NATS servers, comma-separated; unset = in-memory bus' }),
  REDIS_URL: urls({ protocols: ['redis:', 'rediss:'], describe: 'Redis URL; unset = in-memory presence' }),
  NATS_PREFIX: str({ default: 'tl', pattern: /^[a-z][a-z0-9_]{0,30}$/, describe: 'prefix of NATS subjects, streams and buckets' }),
  REDIS_AT_START: oneOf(['require', 'degrade'], {
    default: 'require',
    describe:
      'with REDIS_URL set and Redis not answering at start: require = exit with an error naming REDIS_URL (catches a wrong URL); degrade = start anyway (presence degraded until Redis answers)',
  }),
  REDIS_PREFIX: str({ default: 'tl', pattern: /^[A-Za-z0-9_:-]{1,32}$/, describe: 'prefix of Redis keys' }),
  TOUCHLINE_TOKEN_SECRET: optionalStr({
    describe: 'HMAC secret for viewer tokens (shared by ingest and gateways); generated in embedded mode',
  }),
  SHUTDOWN_GRACE_MS: int({ default: 10000, min: 0, max: 600000, describe: 'how long a drain may take before exit' }),
} as const

/**
 * What only the HTTP API (ingest, and the embedded mode that contains it) reads: the API keys and
 * whose X-Forwarded-For to trust. A gateway has no API keys and no per-address limits, so it does
 * not declare them (a variable it declared but ignored would be listed as its own).
 */
export const apiSpec = {
  TOUCHLINE_API_KEYS: apiKeys({ describe: 'comma-separated role:key pairs (admin, commentator)' }),
  TOUCHLINE_API_KEYS_FILE: optionalStr({
    describe: 'file with one role:key per line (# comments); read at start and again on SIGHUP, so keys rotate without a restart',
  }),
  TRUST_PROXY: optionalStr({ describe: 'addresses whose X-Forwarded-For is trusted (e.g. 127.0.0.1)' }),
} as const

/** `baseSpec` plus `apiSpec`: ingest's common variables. */
export const commonSpec = { ...baseSpec, ...apiSpec } as const

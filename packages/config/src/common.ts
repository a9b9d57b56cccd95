/** Variables shared by several services. */
import { apiKeys, int, oneOf, optionalStr, str, trustProxy, urls } from './fields.ts'

/** What every service built on the bus and presence reads: ingest, gateway, embedded. */
export const baseSpec = {
  HOST: str({ default: '127.0.0.1', describe: 'address to bind' }),
  LOG_LEVEL: oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', describe: 'pino log level' }),
  NATS_URL: urls({ protocols: ['nats:', 'tls:', 'ws:', 'wss:'], describe: 'NATS servers, comma-separated; unset = in-memory bus' }),
  REDIS_URL: urls({ protocols: ['redis:', 'rediss:'], list: false, describe: 'Redis URL; unset = in-memory presence' }),
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
 * IDEMPOTENCY_MAX_BYTES: -1, or a byte count from 1 MiB (a value meant in MiB, "512", would hold
 * not even one record). Default 512 MiB: a record is the event's frame plus ~135 bytes (623 for a
 * 355-character commentary, docs/operations.md "Sizing the NATS store"), ~750 bytes on disk with
 * its subject and the store's per-message overhead, so 512 MiB holds ~715,000 records: every key
 * for its full 25 h up to ~8 keyed posts/s sustained, the last 2 hours of keys at 100 posts/s —
 * far beyond JetStream's 2-minute window, in which retries come. nats-server sets a stream's
 * max_bytes aside from its max_file_store, so the default must fit small stores too (the local
 * stack's 4 GB; the testkit's 2 GB, on which the benchmarks run two prefixes side by side).
 */
const idemBytes = int({
  default: 512 * 1024 * 1024,
  min: -1,
  max: Number.MAX_SAFE_INTEGER,
  describe:
    'bytes of idempotency-key records kept in NATS (KV bucket `tl_idempotency` with the default prefix; 25 h; default 512 MiB); when full the oldest go, and their keys lose the 24-hour protection (a retry within 2 minutes is still caught); -1 = age only; nats-server sets it aside from its max_file_store',
})
const IDEM_MIN_BYTES = 1024 * 1024

/**
 * What only the HTTP API (ingest, and the embedded mode that contains it) reads: the API keys,
 * whose X-Forwarded-For to trust and the bound of the idempotency records its posts write. A
 * gateway has no API keys, no per-address limits and writes no records, so it does not declare
 * them (a variable it declared but ignored would be listed as its own).
 */
export const apiSpec = {
  TOUCHLINE_API_KEYS: apiKeys({ describe: 'comma-separated role:key pairs (admin, commentator)' }),
  TOUCHLINE_API_KEYS_FILE: optionalStr({
    describe: 'file with one role:key per line (# comments); read at start and again on SIGHUP, so keys rotate without a restart',
  }),
  TRUST_PROXY: trustProxy({
    describe: 'addresses or CIDRs whose X-Forwarded-For is trusted, comma-separated (e.g. 127.0.0.1,10.0.0.0/8; also loopback)',
  }),
  IDEMPOTENCY_MAX_BYTES: {
    ...idemBytes,
    parse(raw: string | undefined): number {
      const n = idemBytes.parse(raw)
      if (n !== -1 && n < IDEM_MIN_BYTES) throw new Error(`must be -1 (age only) or at least ${IDEM_MIN_BYTES} bytes (1 MiB), got ${n}`)
      return n
    },
  },
} as const

/** `baseSpec` plus `apiSpec`: ingest's common variables. */
export const commonSpec = { ...baseSpec, ...apiSpec } as const

import { describe, expect, it } from 'vitest'
import { ConfigError, commonSpec, int, loadConfig, str } from './index.ts'

describe('loadConfig', () => {
  const spec = { ...commonSpec, PORT: int({ default: 8080, min: 0, max: 65535 }) }

  it('gives defaults and typed values', () => {
    const cfg = loadConfig(spec, { PORT: '9000', NATS_URL: 'nats://127.0.0.1:4333' })
    expect(cfg.PORT).toBe(9000)
    expect(cfg.HOST).toBe('127.0.0.1')
    expect(cfg.NATS_URL).toEqual(['nats://127.0.0.1:4333'])
    expect(cfg.REDIS_URL).toBeUndefined()
  })

  it.each([
    [{ NATS_URL: 'not a url' }, /^NATS_URL is not a valid URL/],
    [{ NATS_URL: 'http://127.0.0.1:4222' }, /^NATS_URL must use nats:/],
    [{ REDIS_URL: 'nats://x:1' }, /^REDIS_URL must use redis:/],
    [{ PORT: 'eighty' }, /^PORT must be a whole number/],
    [{ PORT: '70000' }, /^PORT must be at most 65535/],
    [{ TOUCHLINE_API_KEYS: 'root:abcdefgh' }, /^TOUCHLINE_API_KEYS entry 1 must be admin:<key>/],
    [{ TOUCHLINE_API_KEYS: 'admin:short' }, /shorter than 8/],
    [{ LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of/],
    [{ IDEMPOTENCY_MAX_BYTES: '1GiB' }, /^IDEMPOTENCY_MAX_BYTES must be a whole number, got "1GiB"/],
    [{ IDEMPOTENCY_MAX_BYTES: '512' }, /^IDEMPOTENCY_MAX_BYTES must be -1 \(age only\) or at least 1048576 bytes \(1 MiB\), got 512/],
    [{ IDEMPOTENCY_MAX_BYTES: '0' }, /^IDEMPOTENCY_MAX_BYTES must be -1 \(age only\) or at least 1048576/],
    [{ IDEMPOTENCY_MAX_BYTES: '-2' }, /^IDEMPOTENCY_MAX_BYTES must be at least -1, got -2/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    try {
      loadConfig(spec, env)
      expect.unreachable()
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toMatch(message)
      expect((err as Error).message).not.toContain('\n')
    }
  })

  it('IDEMPOTENCY_MAX_BYTES: 512 MiB by default, -1 (age only) or a byte count from 1 MiB', () => {
    expect(loadConfig(spec, {}).IDEMPOTENCY_MAX_BYTES).toBe(512 * 1024 * 1024)
    expect(loadConfig(spec, { IDEMPOTENCY_MAX_BYTES: '-1' }).IDEMPOTENCY_MAX_BYTES).toBe(-1)
    expect(loadConfig(spec, { IDEMPOTENCY_MAX_BYTES: ' 1048576 ' }).IDEMPOTENCY_MAX_BYTES).toBe(1024 * 1024)
    expect(loadConfig(spec, { IDEMPOTENCY_MAX_BYTES: '4294967296' }).IDEMPOTENCY_MAX_BYTES).toBe(4 * 1024 ** 3)
  })

  it('reports every bad variable at once', () => {
    expect(() => loadConfig(spec, { PORT: 'x', NATS_URL: 'y' })).toThrow(/NATS_URL .*; PORT |PORT .*; NATS_URL /)
  })

  it('requires required strings', () => {
    expect(() => loadConfig({ NAME: str() }, {})).toThrow('NAME is required')
  })
})

describe('resolveApiKeys', () => {
  it('merges TOUCHLINE_API_KEYS with the lines of TOUCHLINE_API_KEYS_FILE and re-reads the file', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const { resolveApiKeys } = await import('./index.ts')
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'keys')
    writeFileSync(file, '# rotated 2026-11-25\nadmin:file-admin-1\n\ncommentator:file-comm-1  # desk 2\n')
    const cfg = loadConfig(commonSpec, { TOUCHLINE_API_KEYS: 'admin:env-admin-1', TOUCHLINE_API_KEYS_FILE: file })
    expect(resolveApiKeys(cfg)).toEqual([
      { role: 'admin', key: 'env-admin-1' },
      { role: 'admin', key: 'file-admin-1' },
      { role: 'commentator', key: 'file-comm-1' },
    ])
    writeFileSync(file, 'commentator:file-comm-2\n')
    expect(resolveApiKeys(cfg).map((k) => k.key)).toEqual(['env-admin-1', 'file-comm-2'])
  })

  it('names TOUCHLINE_API_KEYS_FILE when it is missing or malformed', async () => {
    const { resolveApiKeys } = await import('./index.ts')
    expect(() => resolveApiKeys({ TOUCHLINE_API_KEYS_FILE: '/nonexistent/keys' })).toThrow(
      /^TOUCHLINE_API_KEYS_FILE cannot be read: ENOENT/,
    )
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'keys')
    writeFileSync(file, 'root:abcdefghij\n')
    expect(() => resolveApiKeys({ TOUCHLINE_API_KEYS_FILE: file })).toThrow(/^TOUCHLINE_API_KEYS_FILE entry 1 must be admin/)
  })
})

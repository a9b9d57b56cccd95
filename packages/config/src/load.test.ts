import { describe, expect, it } from 'vitest'
import { apiKeysProblems, ConfigError, commonSpec, int, loadConfig, str } from './index.ts'

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
    // What was written, not a rounded double, and never a value past 2^53.
    [{ PORT: '99999999999999999999' }, /^PORT must be at most 65535, got 99999999999999999999$/],
    [{ IDEMPOTENCY_MAX_BYTES: '9007199254740993' }, /^IDEMPOTENCY_MAX_BYTES must be at most 9007199254740991, got 9007199254740993$/],
    // A key listed twice would silently get the higher of its roles.
    [
      { TOUCHLINE_API_KEYS: 'admin:abcdefgh12,commentator:abcdefgh12' },
      /^TOUCHLINE_API_KEYS entry 2 \(commentator\) repeats the key of entry 1$/,
    ],
    [{ TOUCHLINE_API_KEYS: 'admin:abcdefgh12,admin:abcdefgh12' }, /^TOUCHLINE_API_KEYS entry 2 \(admin\) repeats the key of entry 1$/],
    // A wrong separator would make one admin key of both.
    [{ TOUCHLINE_API_KEYS: 'admin:abcdefgh12;commentator:ijklmnop34' }, /^TOUCHLINE_API_KEYS entry 1 \(admin\) looks like two entries/],
    [{ TOUCHLINE_API_KEYS: 'admin:abcd efgh12' }, /^TOUCHLINE_API_KEYS entry 1 \(admin\) has a key with spaces/],
    [{ TOUCHLINE_API_KEYS: `admin:${'k'.repeat(513)}` }, /^TOUCHLINE_API_KEYS entry 1 \(admin\) has a key longer than 512/],
    [{ TOUCHLINE_API_KEYS: 'Admin:abcdefgh12' }, /^TOUCHLINE_API_KEYS entry 1 must be admin:<key> or commentator:<key>, got role "Admin"$/],
    // fastify would throw "invalid IP address" with a stack trace when the app is built.
    [{ TRUST_PROXY: 'not-an-ip' }, /^TRUST_PROXY must be addresses or CIDRs .*"not-an-ip" is not an IP address/],
    [{ TRUST_PROXY: 'true' }, /^TRUST_PROXY must be addresses or CIDRs/],
    [{ TRUST_PROXY: '10.0.0.0/33' }, /^TRUST_PROXY .*"10.0.0.0\/33" has a bad range/],
    [{ TRUST_PROXY: '127.0.0.1,' }, /^TRUST_PROXY .*entry 2 is empty/],
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

  it('TRUST_PROXY: addresses, CIDRs (or netmasks) and the proxy-addr names', () => {
    expect(loadConfig(spec, { TRUST_PROXY: ' 127.0.0.1, 10.0.0.0/8 ,::1,fd00::/8,192.168.0.0/255.255.0.0,loopback' }).TRUST_PROXY).toBe(
      '127.0.0.1,10.0.0.0/8,::1,fd00::/8,192.168.0.0/255.255.0.0,loopback',
    )
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

describe('apiKeysProblems (what a service checks at start)', () => {
  async function keysFile(text: string): Promise<string> {
    const { mkdtempSync, writeFileSync } = await import('node:fs')
    const { join } = await import('node:path')
    const { tmpdir } = await import('node:os')
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'keys')
    writeFileSync(file, text)
    return file
  }
  const load = (env: Record<string, string>) => loadConfig(commonSpec, env)

  it('reads the file now: missing, a directory, or broken names TOUCHLINE_API_KEYS_FILE', async () => {
    expect(apiKeysProblems(load({ TOUCHLINE_API_KEYS_FILE: '/nonexistent/keys' }), { required: true })).toEqual([
      { variable: 'TOUCHLINE_API_KEYS_FILE', problem: 'cannot be read: ENOENT (/nonexistent/keys)' },
    ])
    const { dirname } = await import('node:path')
    const dir = dirname(await keysFile(''))
    expect(apiKeysProblems(load({ TOUCHLINE_API_KEYS_FILE: dir }), { required: false })[0]?.problem).toMatch(/^cannot be read: EISDIR/)
  })

  it('refuses a file that holds no key when TOUCHLINE_API_KEYS is unset, required or not', async () => {
    for (const text of ['', '# rotated, keys to follow\n\n']) {
      const file = await keysFile(text)
      for (const required of [true, false]) {
        const problems = apiKeysProblems(load({ TOUCHLINE_API_KEYS_FILE: file }), { required })
        expect(problems).toEqual([{ variable: 'TOUCHLINE_API_KEYS_FILE', problem: expect.stringMatching(/^holds no key \(/) }])
      }
      expect(apiKeysProblems(load({ TOUCHLINE_API_KEYS_FILE: file, TOUCHLINE_API_KEYS: 'admin:abcdefgh12' }), { required: true })).toEqual(
        [],
      )
    }
  })

  it('refuses a key of the file that TOUCHLINE_API_KEYS already lists', async () => {
    const file = await keysFile('commentator:ijklmnop34\ncommentator:abcdefgh12\n')
    expect(apiKeysProblems(load({ TOUCHLINE_API_KEYS_FILE: file, TOUCHLINE_API_KEYS: 'admin:abcdefgh12' }), { required: true })).toEqual([
      { variable: 'TOUCHLINE_API_KEYS_FILE', problem: `entry 2 repeats a key of TOUCHLINE_API_KEYS (${file})` },
    ])
  })

  it('requires one of the two only when asked', () => {
    expect(apiKeysProblems(load({}), { required: false })).toEqual([])
    expect(apiKeysProblems(load({}), { required: true })[0]?.variable).toBe('TOUCHLINE_API_KEYS')
  })
})

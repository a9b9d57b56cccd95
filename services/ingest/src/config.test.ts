import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError } from '@touchline/config'
import { describe, expect, it } from 'vitest'
import { loadIngestConfig, trustProxyOf } from './config.ts'

describe('ingest config', () => {
  it('defaults PORT to 8081 and parses keys', () => {
    const c = loadIngestConfig({ TOUCHLINE_API_KEYS: 'admin:abcdefgh,commentator:ijklmnop' })
    expect(c.PORT).toBe(8081)
    expect(c.TOUCHLINE_API_KEYS).toEqual([
      { role: 'admin', key: 'abcdefgh' },
      { role: 'commentator', key: 'ijklmnop' },
    ])
    expect(c.NATS_URL).toBeUndefined()
  })
  it('requires TOUCHLINE_API_KEYS, and TOUCHLINE_TOKEN_SECRET with NATS_URL, naming them', () => {
    expect(() => loadIngestConfig({})).toThrow(/TOUCHLINE_API_KEYS is required/)
    const err = (() => {
      try {
        loadIngestConfig({ TOUCHLINE_API_KEYS: 'admin:abcdefgh', NATS_URL: 'nats://127.0.0.1:4999' })
      } catch (e) {
        return e
      }
    })()
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).message).toMatch(/^TOUCHLINE_TOKEN_SECRET is required when NATS_URL is set/)
    expect(() => loadIngestConfig({ TOUCHLINE_API_KEYS: 'admin:abcdefgh', PORT: 'eighty' })).toThrow(/PORT must be a whole number/)
    expect(() => loadIngestConfig({ TOUCHLINE_API_KEYS: 'boss:abcdefgh' })).toThrow(/TOUCHLINE_API_KEYS entry 1/)
  })
  it('reads TRUST_PROXY as a list', () => {
    expect(trustProxyOf(undefined)).toBe(false)
    expect(trustProxyOf('127.0.0.1, 10.0.0.0/8')).toEqual(['127.0.0.1', '10.0.0.0/8'])
  })

  it('reads TOUCHLINE_API_KEYS_FILE at load: missing or empty is a ConfigError, not a crash once the bus is up', () => {
    expect(() => loadIngestConfig({ TOUCHLINE_API_KEYS_FILE: '/nonexistent/keys' })).toThrow(ConfigError)
    expect(() => loadIngestConfig({ TOUCHLINE_API_KEYS_FILE: '/nonexistent/keys' })).toThrow(
      /^TOUCHLINE_API_KEYS_FILE cannot be read: ENOENT \(\/nonexistent\/keys\)$/,
    )
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'keys')
    writeFileSync(file, '# keys to follow\n')
    // Nobody could post: refused rather than a start with no key at all.
    expect(() => loadIngestConfig({ TOUCHLINE_API_KEYS_FILE: file })).toThrow(/^TOUCHLINE_API_KEYS_FILE holds no key/)
    writeFileSync(file, 'commentator:ijklmnop34\n')
    expect(loadIngestConfig({ TOUCHLINE_API_KEYS_FILE: file }).TOUCHLINE_API_KEYS_FILE).toBe(file)
  })
  it('refuses a TRUST_PROXY that is not addresses (fastify would throw when the app is built)', () => {
    expect(() => loadIngestConfig({ TOUCHLINE_API_KEYS: 'admin:abcdefgh', TRUST_PROXY: 'not-an-ip' })).toThrow(
      /^TRUST_PROXY must be addresses/,
    )
  })
})

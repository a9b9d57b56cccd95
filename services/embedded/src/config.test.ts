import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, configWarnings } from '@touchline/config'
import { describe, expect, it } from 'vitest'
import { loadEmbeddedConfig } from './config.ts'

describe('embedded configuration', () => {
  it('needs no variable (keys and secret are generated)', () => {
    const cfg = loadEmbeddedConfig({})
    expect(cfg.PORT).toBe(8080)
    expect(cfg.TOUCHLINE_API_KEYS).toBeUndefined()
  })

  it('refuses a TOUCHLINE_API_KEYS_FILE that cannot be read or holds no key, rather than generating keys', () => {
    expect(() => loadEmbeddedConfig({ TOUCHLINE_API_KEYS_FILE: '/nonexistent/keys' })).toThrow(ConfigError)
    expect(() => loadEmbeddedConfig({ TOUCHLINE_API_KEYS_FILE: '/nonexistent/keys' })).toThrow(
      /^TOUCHLINE_API_KEYS_FILE cannot be read: ENOENT/,
    )
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'keys')
    writeFileSync(file, '')
    expect(() => loadEmbeddedConfig({ TOUCHLINE_API_KEYS_FILE: file })).toThrow(/^TOUCHLINE_API_KEYS_FILE holds no key/)
  })

  it('runs the gateway rules and the API key rules together', () => {
    expect(() =>
      loadEmbeddedConfig({ WS_CHAT_SHED_BYTES: '9999999', TOUCHLINE_API_KEYS: 'admin:abcdefgh12,commentator:abcdefgh12' }),
    ).toThrow(/^TOUCHLINE_API_KEYS entry 2 \(commentator\) repeats the key of entry 1/)
    expect(() => loadEmbeddedConfig({ WS_CHAT_SHED_BYTES: '9999999' })).toThrow(/^WS_CHAT_SHED_BYTES \(9999999\) must not exceed/)
  })

  it('warns about a typo of one of its variables', () => {
    expect(configWarnings(loadEmbeddedConfig({ EMBEDED_DEMO: '1', EMBEDDED_DEMOS: '1', VIEWER_TOKEN_TTL: '60', HOME: '/root' }))).toEqual([
      'EMBEDED_DEMO is not a variable of this service and is ignored (did you mean EMBEDDED_DEMO?)',
      'EMBEDDED_DEMOS is not a variable of this service and is ignored (did you mean EMBEDDED_DEMO?)',
      'VIEWER_TOKEN_TTL is not a variable of this service and is ignored (did you mean VIEWER_TOKEN_TTL_SEC?)',
    ])
  })
})

import { afterEach, describe, expect, it, vi } from 'vitest'
import { api, apiKeyProblem } from './api.ts'

afterEach(() => {
  vi.unstubAllGlobals()
})

describe('apiKeyProblem', () => {
  it('accepts what an Authorization header can carry', () => {
    expect(apiKeyProblem('adm_audit_key_0001')).toBeUndefined()
    expect(apiKeyProblem('k3y-with.punct~and:colons/é')).toBeUndefined()
  })

  it('names a character a key cannot have, visible or not', () => {
    expect(apiKeyProblem('abc\u200bdefgh')).toBe(
      'The API key contains an invisible character (U+200B), which an API key cannot have: copy the key again without it.',
    )
    expect(apiKeyProblem('abcdefgh…')).toContain('"…" (U+2026)')
    expect(apiKeyProblem('abcd\u0007efgh')).toContain('(U+0007)')
  })
})

describe('api', () => {
  it('refuses such a key before fetch, with that message, not "the server did not answer"', async () => {
    const fetch = vi.fn(() => Promise.reject(new TypeError("Failed to execute 'fetch': String contains non ISO-8859-1 code point.")))
    vi.stubGlobal('fetch', fetch)
    await expect(api('/v1/chat/banned-words', { apiKey: 'abcdefgh…' })).rejects.toThrow('"…" (U+2026)')
    expect(fetch).not.toHaveBeenCalled()
  })
})

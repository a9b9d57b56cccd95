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

  it('reports every bad variable at once', () => {
    expect(() => loadConfig(spec, { PORT: 'x', NATS_URL: 'y' })).toThrow(/NATS_URL .*; PORT |PORT .*; NATS_URL /)
  })

  it('requires required strings', () => {
    expect(() => loadConfig({ NAME: str() }, {})).toThrow('NAME is required')
  })
})

import { ConfigError } from '@touchline/config'
import { LIMITS } from '@touchline/protocol'
import { describe, expect, it } from 'vitest'
import { loadGatewayConfig, settingsFromConfig } from './config.ts'

describe('gateway configuration', () => {
  it('defaults to the protocol frame limit and a heartbeat a third of the presence TTL', () => {
    const cfg = loadGatewayConfig({})
    expect(settingsFromConfig(cfg).maxPayloadBytes).toBe(LIMITS.wsMaxPayloadBytes)
    expect(cfg.PRESENCE_HEARTBEAT_MS * 3).toBeLessThanOrEqual(cfg.PRESENCE_TTL_MS)
  })

  it.each([
    [{ PRESENCE_TTL_MS: '1000' }, /^PRESENCE_HEARTBEAT_MS must be at most half of PRESENCE_TTL_MS/],
    [{ NATS_URL: 'nats://127.0.0.1:4999' }, /^TOUCHLINE_TOKEN_SECRET is required when NATS_URL is set/],
    [{ TOUCHLINE_TOKEN_SECRET: 'short' }, /^TOUCHLINE_TOKEN_SECRET must have at least 16 characters/],
    [{ WS_CHAT_SHED_BYTES: String(4 * 1024 * 1024) }, /^WS_CHAT_SHED_BYTES must not exceed/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadGatewayConfig(env)).toThrow(ConfigError)
    expect(() => loadGatewayConfig(env)).toThrow(message)
  })
})

import { ConfigError } from '@touchline/config'
import { LIMITS } from '@touchline/protocol'
import { describe, expect, it } from 'vitest'
import { gatewaySpec, loadGatewayConfig, settingsFromConfig } from './config.ts'

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
    [{ CHAT_COALESCE_MS: '-1' }, /^CHAT_COALESCE_MS must be at least 0, got -1$/],
    [{ CHAT_COALESCE_MS: '101' }, /^CHAT_COALESCE_MS must be at most 100, got 101$/],
    [{ CHAT_COALESCE_MS: '5ms' }, /^CHAT_COALESCE_MS must be a whole number, got "5ms"$/],
    [{ CHAT_COALESCE_MS: '2.5' }, /^CHAT_COALESCE_MS must be a whole number/],
    [{ WS_CORK: 'sometimes' }, /^WS_CORK must be true or false, got "sometimes"$/],
  ])('refuses %j naming the variable', (env, message) => {
    expect(() => loadGatewayConfig(env)).toThrow(ConfigError)
    expect(() => loadGatewayConfig(env)).toThrow(message)
  })

  it('CHAT_COALESCE_MS: a few ms by default, 0 turns coalescing off, 100 is the most', () => {
    expect(settingsFromConfig(loadGatewayConfig({})).chatCoalesceMs).toBe(5)
    expect(settingsFromConfig(loadGatewayConfig({ CHAT_COALESCE_MS: '0' })).chatCoalesceMs).toBe(0)
    expect(settingsFromConfig(loadGatewayConfig({ CHAT_COALESCE_MS: ' 100 ' })).chatCoalesceMs).toBe(100)
  })

  it('WS_CORK: on by default; false makes every frame its own write (the gateway passes it to its senders)', () => {
    expect(settingsFromConfig(loadGatewayConfig({})).cork).toBe(true)
    expect(settingsFromConfig(loadGatewayConfig({ WS_CORK: 'false' })).cork).toBe(false)
    expect(settingsFromConfig(loadGatewayConfig({ WS_CORK: 'on' })).cork).toBe(true)
  })

  it('does not declare the API-only variables (the gateway has no API keys and no per-address limits)', () => {
    for (const name of ['TOUCHLINE_API_KEYS', 'TOUCHLINE_API_KEYS_FILE', 'TRUST_PROXY']) expect(gatewaySpec).not.toHaveProperty(name)
    // So a value meant for ingest, even a malformed one, cannot stop a gateway from starting.
    const cfg = loadGatewayConfig({
      TOUCHLINE_API_KEYS: 'root:abcdefgh',
      TOUCHLINE_API_KEYS_FILE: '/nonexistent',
      TRUST_PROXY: '127.0.0.1',
    })
    expect(cfg).not.toHaveProperty('TOUCHLINE_API_KEYS')
    expect(cfg).not.toHaveProperty('TRUST_PROXY')
  })
})

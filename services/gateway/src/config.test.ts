import { ConfigError, configWarnings } from '@touchline/config'
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
    [{ PRESENCE_TTL_MS: '1000' }, /^PRESENCE_HEARTBEAT_MS \(2000\) must be at most half of PRESENCE_TTL_MS \(1000\)/],
    [{ PRESENCE_HEARTBEAT_MS: '6000' }, /^PRESENCE_HEARTBEAT_MS \(6000\) must be at most half of PRESENCE_TTL_MS \(6000\)/],
    [{ NATS_URL: 'nats://127.0.0.1:4999' }, /^TOUCHLINE_TOKEN_SECRET is required when NATS_URL is set/],
    [{ TOUCHLINE_TOKEN_SECRET: 'short' }, /^TOUCHLINE_TOKEN_SECRET must have at least 16 characters, got 5$/],
    [
      { WS_CHAT_SHED_BYTES: String(4 * 1024 * 1024) },
      /^WS_CHAT_SHED_BYTES \(4194304\) must not exceed WS_SEND_BUFFER_MAX_BYTES \(1048576\)/,
    ],
    // Lowering the buffer below the default shed limit names both values.
    [{ WS_SEND_BUFFER_MAX_BYTES: '100000' }, /^WS_CHAT_SHED_BYTES \(262144\) must not exceed WS_SEND_BUFFER_MAX_BYTES \(100000\)/],
    // A drain longer than SHUTDOWN_GRACE_MS would always be cut off (exit 1, sockets never sent 1012).
    [
      { DRAIN_SPREAD_MS: '3600000' },
      /^SHUTDOWN_GRACE_MS \(10000\) must be more than DRAIN_SPREAD_MS \+ DRAIN_GRACE_MS \(3600000 \+ 2000\)/,
    ],
    [{ SHUTDOWN_GRACE_MS: '3000' }, /^SHUTDOWN_GRACE_MS \(3000\) must be more than DRAIN_SPREAD_MS \+ DRAIN_GRACE_MS \(1000 \+ 2000\)/],
    [{ WS_MAX_CONNECTIONS: '99999999999999999999' }, /^WS_MAX_CONNECTIONS must be at most 1000000000, got 99999999999999999999$/],
    [{ REDIS_URL: 'redis://127.0.0.1:1,redis://127.0.0.1:2' }, /^REDIS_URL takes one URL, got 2/],
    [{ NATS_URL: 'nats://127.0.0.1:1,,nats://127.0.0.1:2' }, /^NATS_URL has an empty entry \(2 of 3\)/],
    [{ CHAT_COALESCE_MS: '-1' }, /^CHAT_COALESCE_MS must be at least 0, got -1$/],
    [{ CHAT_COALESCE_MS: '101' }, /^CHAT_COALESCE_MS must be at most 100, got 101$/],
    [{ CHAT_COALESCE_MS: '5ms' }, /^CHAT_COALESCE_MS must be a whole number, got "5ms"$/],
    [{ CHAT_COALESCE_MS: '2.5' }, /^CHAT_COALESCE_MS must be a whole number/],
    [{ WS_CORK: 'sometimes' }, /^WS_CORK must be true or false \(or 1\/0, yes\/no, on\/off\), got "sometimes"$/],
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

  it('warns (without refusing) about a variable that looks like one of its own, and one set but empty', () => {
    const cfg = loadGatewayConfig({
      WS_MAX_CONECTIONS: '10',
      PRESENCE_TTL: '6000',
      PORT: ' ',
      // Not typos: another service's variables, Node's own and those Kubernetes sets for a Service.
      TOUCHLINE_API_KEYS: 'admin:abcdefgh',
      IDEMPOTENCY_MAX_BYTES: '-1',
      NODE_OPTIONS: '--max-old-space-size=512',
      NATS_PORT: 'tcp://10.0.0.1:4222',
      NATS_SERVICE_HOST: '10.0.0.1',
      REDIS_PORT_6379_TCP_ADDR: '10.0.0.2',
      HOME: '/root',
    })
    expect(cfg.WS_MAX_CONNECTIONS).toBe(50_000)
    expect(configWarnings(cfg)).toEqual([
      'WS_MAX_CONECTIONS is not a variable of this service and is ignored (did you mean WS_MAX_CONNECTIONS?)',
      'PRESENCE_TTL is not a variable of this service and is ignored (did you mean PRESENCE_TTL_MS?)',
      'PORT is set but empty: using its default (8082)',
    ])
    expect(configWarnings(loadGatewayConfig({}))).toEqual([])
  })
})

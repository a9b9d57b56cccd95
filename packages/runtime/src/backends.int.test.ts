/**
 * IDEMPOTENCY_MAX_BYTES through connectBackends on a real nats-server: ingest and the embedded
 * mode pass it to the bus, a gateway (no such variable) leaves the bucket's bound alone, and a
 * bound the server cannot set aside stops the start with an error naming the variable.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type NatsServer, startNats } from '../../testkit/src/index.ts'
import { type BackendConfig, connectBackends } from './backends.ts'
import { captureLog } from './testing.ts'

let server: NatsServer
beforeAll(async () => {
  server = await startNats()
})
afterAll(async () => {
  await server?.stop()
})

const cfg = (extra: Partial<BackendConfig>): BackendConfig => ({
  NATS_URL: [server.url],
  NATS_PREFIX: 'rtidem',
  NATS_TIMEOUT_MS: 2000,
  REDIS_PREFIX: 'rt',
  ...extra,
})

it('passes IDEMPOTENCY_MAX_BYTES to the bus; without it (a gateway) the bound stays; a bound NATS cannot set aside names the variable', async () => {
  const nc = await connect({ servers: [server.url] })
  try {
    const jsm = await jetstreamManager(nc)
    const bucketConfig = async () => (await jsm.streams.info('KV_rtidem_idempotency')).config
    const { log } = captureLog()

    const ingest = await connectBackends(cfg({ IDEMPOTENCY_MAX_BYTES: 2 * 1024 * 1024 }), log, { natsName: 'test-ingest' })
    await ingest.close()
    expect(await bucketConfig()).toMatchObject({ max_bytes: 2 * 1024 * 1024, discard: 'old' })

    const gateway = await connectBackends(cfg({}), log, { natsName: 'test-gateway' })
    await gateway.close()
    expect(await bucketConfig()).toMatchObject({ max_bytes: 2 * 1024 * 1024, discard: 'old' })

    await expect(connectBackends(cfg({ IDEMPOTENCY_MAX_BYTES: 2 ** 50 }), log, { natsName: 'test-ingest' })).rejects.toThrow(
      /^IDEMPOTENCY_MAX_BYTES \(1125899906842624\) does not fit the JetStream store of NATS_URL \(nats:\/\/[^)]+\): lower it, or raise the server's max_file_store; .*insufficient storage/,
    )
    expect(await bucketConfig()).toMatchObject({ max_bytes: 2 * 1024 * 1024, discard: 'old' })
  } finally {
    await nc.close()
  }
})

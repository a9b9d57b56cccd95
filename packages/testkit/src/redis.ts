/**
 * A real redis-server for one test, on a free port, in its own temporary directory, no
 * persistence (a restart loses everything, as a crashed cache node would).
 */
import { binaryVersion, canConnect, freePort, requireBinary, startProcess, tempDir, waitFor, type Proc } from './process.ts'
import { runtime } from './runtime.ts'

export interface RedisServer {
  readonly url: string
  readonly port: number
  readonly version: string
  stop(): Promise<void>
  kill(): Promise<void>
  /** Start again on the same port (empty, since nothing is persisted). */
  start(): Promise<void>
  restart(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export async function startRedis(): Promise<RedisServer> {
  if ((await runtime()) === 'docker') return startRedisContainer()
  const bin = requireBinary('redis-server', 'redis-server')
  const version = binaryVersion(bin, ['--version']) ?? '0.0.0'
  const dir = tempDir('redis')
  let port = 0
  let proc: Proc | undefined

  const launch = async (samePort: boolean) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (!samePort) port = await freePort()
      const p = startProcess(
        bin,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'],
        { cwd: dir },
      )
      proc = p
      try {
        await waitFor(
          'redis-server to listen',
          async () => {
            if (p.child.exitCode !== null) throw new Error(`redis-server exited: ${p.output().slice(-300)}`)
            return (await canConnect(port)) || undefined
          },
          10_000,
          20,
        )
        return
      } catch (err) {
        await p.stop('SIGKILL')
        if (samePort && attempt >= 4) throw err
        if (!samePort && attempt >= 4) throw err
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  await launch(false)
  const server: RedisServer = {
    get url() {
      return `redis://127.0.0.1:${port}`
    },
    get port() {
      return port
    },
    version,
    async stop() {
      await proc?.stop('SIGTERM')
    },
    async kill() {
      await proc?.stop('SIGKILL')
    },
    async start() {
      if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return
      await launch(true)
    },
    async restart() {
      await server.stop()
      await server.start()
    },
    async [Symbol.asyncDispose]() {
      await server.stop()
    },
  }
  return server
}

async function startRedisContainer(): Promise<RedisServer> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const container = await new GenericContainer('redis:7.0-alpine')
    .withCommand(['redis-server', '--save', '', '--appendonly', 'no'])
    .withExposedPorts(6379)
    .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
    .start()
  let port = container.getMappedPort(6379)
  const server: RedisServer = {
    get url() {
      return `redis://${container.getHost()}:${port}`
    },
    get port() {
      return port
    },
    version: '7.0',
    async stop() {
      await container.stop({ remove: false, timeout: 5000 })
    },
    async kill() {
      await container.stop({ remove: false, timeout: 0 })
    },
    async start() {
      await container.restart()
      port = container.getMappedPort(6379)
    },
    async restart() {
      await container.restart()
      port = container.getMappedPort(6379)
    },
    async [Symbol.asyncDispose]() {
      await container.stop()
    },
  }
  return server
}

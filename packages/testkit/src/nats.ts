/**
 * A real nats-server with JetStream for one test: its own port (picked by the server and read
 * back from its ports file), its own temporary store directory, always stopped.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binaryVersion, requireBinary, startProcess, tempDir, waitFor, type Proc } from './process.ts'
import { runtime } from './runtime.ts'

export interface NatsServer {
  readonly url: string
  readonly port: number
  readonly version: string
  readonly storeDir: string
  /** Stop gracefully (SIGTERM). */
  stop(): Promise<void>
  /** Crash it (SIGKILL): what JetStream acknowledged must still be there after `start()`. */
  kill(): Promise<void>
  /** Start again on the same port with the same store (after stop or kill). */
  start(): Promise<void>
  restart(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export interface NatsOptions {
  /** JetStream file-store sync interval ("always" fsyncs every write; needs nats-server 2.10+). */
  syncInterval?: string
}

export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  if ((await runtime()) === 'docker') return startNatsContainer()
  const bin = requireBinary('nats-server', 'nats-server')
  const version = binaryVersion(bin) ?? '0.0.0'
  const dir = tempDir('nats')
  const storeDir = join(dir, 'js')
  let port = -1
  let proc: Proc | undefined

  const writeConfig = () => {
    const sync = options.syncInterval && !version.startsWith('2.9.') ? `  sync_interval: ${options.syncInterval}\n` : ''
    writeFileSync(
      join(dir, 'nats.conf'),
      `listen: 127.0.0.1:${port}\nports_file_dir: "${dir}"\nmax_payload: 1MB\njetstream {\n  store_dir: "${storeDir}"\n  max_memory_store: 256MB\n  max_file_store: 2GB\n${sync}}\n`,
    )
  }

  const launch = async () => {
    writeConfig()
    const p = startProcess(bin, ['-c', join(dir, 'nats.conf')], { cwd: dir })
    proc = p
    const portsFile = `nats-server_${p.pid}.ports`
    const info = await waitFor(
      'nats-server ports file',
      () => {
        if (p.child.exitCode !== null) throw new Error(`nats-server exited: ${p.output().slice(-500)}`)
        if (!readdirSync(dir).includes(portsFile)) return undefined
        const txt = readFileSync(join(dir, portsFile), 'utf8')
        return txt.length > 0 ? (JSON.parse(txt) as { nats: string[] }) : undefined
      },
      10_000,
      20,
    )
    const url = info.nats[0] as string
    port = Number(new URL(url).port)
  }

  await launch()
  const server: NatsServer = {
    get url() {
      return `nats://127.0.0.1:${port}`
    },
    get port() {
      return port
    },
    version,
    storeDir,
    async stop() {
      await proc?.stop('SIGTERM')
    },
    async kill() {
      await proc?.stop('SIGKILL')
    },
    async start() {
      if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return
      await launch()
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

async function startNatsContainer(): Promise<NatsServer> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const container = await new GenericContainer('nats:2.10-alpine')
    .withCommand(['-js', '-sd', '/data'])
    .withExposedPorts(4222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start()
  let port = container.getMappedPort(4222)
  const server: NatsServer = {
    get url() {
      return `nats://${container.getHost()}:${port}`
    },
    get port() {
      return port
    },
    version: '2.10',
    storeDir: '/data',
    async stop() {
      await container.stop({ remove: false, timeout: 5000 })
    },
    async kill() {
      await container.stop({ remove: false, timeout: 0 })
    },
    async start() {
      await container.restart()
      port = container.getMappedPort(4222)
    },
    async restart() {
      await container.restart()
      port = container.getMappedPort(4222)
    },
    async [Symbol.asyncDispose]() {
      await container.stop()
    },
  }
  return server
}

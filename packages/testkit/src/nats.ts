/**
 * A real nats-server with JetStream for one test: its own port (picked by the server and read
 * back from its ports file), its own temporary store directory, always stopped.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binaryVersion, requireBinary, startProcess, tempDir, waitFor, type Proc } from './process.ts'
import { runtime } from './runtime.ts'
import { localServer, startContainer, type TestServer } from './server.ts'

/** `kill()` then `start()`: the same port and store, so what JetStream acknowledged is still there. */
export interface NatsServer extends TestServer {
  readonly version: string
  readonly storeDir: string
}

export interface NatsOptions {
  /**
   * JetStream file-store sync interval; default "always" (fsync before every ack) on servers that
   * know the option (2.10+). 2.9 has none: it writes before the ack and fsyncs every 2 minutes.
   */
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
    const syncInterval = options.syncInterval ?? 'always'
    const sync = /^2\.[0-9]\./.test(version) ? '' : `  sync_interval: ${syncInterval}\n`
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
  return localServer('nats', { proc: () => proc, port: () => port, relaunch: launch }, { version, storeDir })
}

function startNatsContainer(): Promise<NatsServer> {
  return startContainer(
    { image: 'nats:2.10-alpine', command: ['-js', '-sd', '/data'], port: 4222, ready: /Server is ready/, scheme: 'nats' },
    { version: '2.10', storeDir: '/data' },
  )
}

/**
 * A real redis-server for one test, on a free port, in its own temporary directory, no
 * persistence (a restart loses everything, as a crashed cache node would).
 */
import { binaryVersion, canConnect, freePort, requireBinary, startProcess, tempDir, waitFor, type Proc } from './process.ts'
import { runtime } from './runtime.ts'
import { localServer, startContainer, type TestServer } from './server.ts'

/** `start()` after a stop or kill comes back empty: nothing is persisted. */
export interface RedisServer extends TestServer {
  readonly version: string
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
  return localServer('redis', { proc: () => proc, port: () => port, relaunch: () => launch(true) }, { version })
}

function startRedisContainer(): Promise<RedisServer> {
  return startContainer(
    {
      image: 'redis:7.0-alpine',
      command: ['redis-server', '--save', '', '--appendonly', 'no'],
      port: 6379,
      ready: /Ready to accept connections/,
      scheme: 'redis',
    },
    { version: '7.0' },
  )
}

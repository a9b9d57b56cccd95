/**
 * The lifecycle every test server shares (`NatsServer`, `RedisServer`), and the two ways to run
 * one: a local process (`localServer`) or a container when a Docker engine answers
 * (`startContainer`, see runtime.ts).
 */
import type { Proc } from './process.ts'

export interface TestServer {
  /** Where to connect now: it follows the port after a restart. */
  readonly url: string
  readonly port: number
  /** Stop gracefully (SIGTERM). */
  stop(): Promise<void>
  /** Crash it (SIGKILL): what the server acknowledged as stored must still be there after `start()`. */
  kill(): Promise<void>
  /** Start again on the same port (after stop or kill); nothing happens while it runs. */
  start(): Promise<void>
  restart(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** A server process on 127.0.0.1; `relaunch` starts it again on `port()`. `extra` is added as is. */
export function localServer<T extends object>(
  scheme: string,
  current: { proc(): Proc | undefined; port(): number; relaunch(): Promise<void> },
  extra: T,
): TestServer & T {
  const server: TestServer & T = {
    ...extra,
    get url() {
      return `${scheme}://127.0.0.1:${current.port()}`
    },
    get port() {
      return current.port()
    },
    async stop() {
      await current.proc()?.stop('SIGTERM')
    },
    async kill() {
      await current.proc()?.stop('SIGKILL')
    },
    async start() {
      const proc = current.proc()
      if (proc && proc.child.exitCode === null && proc.child.signalCode === null) return
      await current.relaunch()
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

export interface ContainerSpec {
  image: string
  command: string[]
  /** The port the server listens on inside the container (Docker maps it to a free one). */
  port: number
  /** A log line that says the server is ready. */
  ready: RegExp
  /** URL scheme: `nats`, `redis`. */
  scheme: string
}

/** The same lifecycle in a container (testcontainers); the mapped port is read again after each start. */
export async function startContainer<T extends object>(spec: ContainerSpec, extra: T): Promise<TestServer & T> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const container = await new GenericContainer(spec.image)
    .withCommand(spec.command)
    .withExposedPorts(spec.port)
    .withWaitStrategy(Wait.forLogMessage(spec.ready))
    .start()
  let port = container.getMappedPort(spec.port)
  const restart = async () => {
    await container.restart()
    port = container.getMappedPort(spec.port)
  }
  return {
    ...extra,
    get url() {
      return `${spec.scheme}://${container.getHost()}:${port}`
    },
    get port() {
      return port
    },
    async stop() {
      await container.stop({ remove: false, timeout: 5000 })
    },
    async kill() {
      await container.stop({ remove: false, timeout: 0 })
    },
    start: restart,
    restart,
    async [Symbol.asyncDispose]() {
      await container.stop()
    },
  }
}

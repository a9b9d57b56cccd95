/**
 * Which way the testkit runs servers: in containers when a Docker engine answers (testcontainers),
 * else as local binaries. TESTKIT_RUNTIME=local|docker forces one.
 */
import { existsSync } from 'node:fs'

let decided: Promise<'docker' | 'local'> | undefined

export function runtime(): Promise<'docker' | 'local'> {
  decided ??= decide()
  return decided
}

async function decide(): Promise<'docker' | 'local'> {
  const forced = process.env.TESTKIT_RUNTIME
  if (forced === 'local' || forced === 'docker') return forced
  // Without a socket or DOCKER_HOST there is no engine: skip the slow client probe.
  if (!process.env.DOCKER_HOST && !existsSync('/var/run/docker.sock')) return 'local'
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    const client = await Promise.race([
      getContainerRuntimeClient(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000)),
    ])
    return client ? 'docker' : 'local'
  } catch {
    return 'local'
  }
}

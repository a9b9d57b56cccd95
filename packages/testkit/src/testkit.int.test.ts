import { describe, expect, it } from 'vitest'
import { canConnect, startNats, startRedis } from './index.ts'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('testkit', () => {
  it('starts nats-server on a port of its own, never the default one', async () => {
    await using nats = await startNats()
    expect(nats.port).not.toBe(4222)
    expect(await canConnect(nats.port)).toBe(true)
  })

  it('starts redis-server on a free port and restarts it on the same port', async () => {
    await using redis = await startRedis()
    expect(redis.port).not.toBe(6379)
    await redis.kill()
    expect(await canConnect(redis.port)).toBe(false)
    await redis.start()
    expect(await canConnect(redis.port)).toBe(true)
  })

  it('kills the servers of a test process that dies without cleaning up', async () => {
    // A child process starts a server and is then SIGKILLed: the watchdog must kill the server.
    const script = `
      import { startRedis } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)}
      const r = await startRedis()
      const { execSync } = await import('node:child_process')
      const pid = execSync('pgrep -f "redis-server 127.0.0.1:' + r.port + '"').toString().trim()
      console.log(pid)
      setInterval(() => {}, 1000)
    `
    const { spawn } = await import('node:child_process')
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const pid = await new Promise<number>((resolve) =>
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim().split('\n')[0]))),
    )
    expect(alive(pid)).toBe(true)
    child.kill('SIGKILL')
    const deadline = Date.now() + 5000
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(alive(pid)).toBe(false)
  })
})

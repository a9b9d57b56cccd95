/**
 * The testkit's startNginx: a real nginx on a free port with every path inside its temporary
 * prefix, reload with a new configuration, and no process left behind — not even when the test
 * process dies (nginx workers survive a SIGKILL of their master, so the whole group is killed).
 */
import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { describe, expect, it } from 'vitest'
import { confine, NginxConfigRejected, startNginx, waitFor } from '../packages/testkit/src/index.ts'
import { alive } from './support/process.ts'

async function backend(text: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(text))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { server, port: (server.address() as { port: number }).port }
}

const conf = (port: number) => `
worker_processes 2;
events {}
http {
  server { listen 127.0.0.1:{{port}}; location / { proxy_pass http://127.0.0.1:${port}; } }
}`

describe('testkit startNginx', () => {
  it('runs a string configuration on a free port, every file in its prefix', async () => {
    const a = await backend('a')
    await using ngx = await startNginx(conf(a.port))
    expect(await (await fetch(ngx.url)).text()).toBe('a')
    for (const d of ['pid', 'error_log', 'client_body_temp_path', 'proxy_temp_path', 'access_log']) {
      expect(ngx.config).toMatch(new RegExp(`${d} ${ngx.prefix}/`))
    }
    expect(ngx.config).not.toMatch(/\/var\/|\/run\//)
    await waitFor('two workers', () => (ngx.workers().length === 2 ? true : undefined), 2000, 10)
    a.server.close()
  })

  it('refuses system paths, and reload() swaps the configuration without a restart', async () => {
    expect(() => confine('pid /run/nginx.pid;\nevents {}\nhttp {}', '/tmp/x', undefined)).toThrow(NginxConfigRejected)
    expect(() => confine('events {}\nhttp { access_log /var/log/nginx/access.log; }', '/tmp/x', undefined)).toThrow(
      /outside the test's prefix/,
    )

    const a = await backend('a')
    const b = await backend('b')
    await using ngx = await startNginx(conf(a.port))
    const master = ngx.pid
    const before = ngx.workers()
    await ngx.reload(conf(b.port))
    expect(ngx.pid).toBe(master)
    expect(ngx.workers().some((w) => before.includes(w))).toBe(false)
    expect(await (await fetch(ngx.url)).text()).toBe('b')
    // A broken file is refused before the running nginx sees it.
    await expect(ngx.reload('events {}\nhttp { nonsense; }')).rejects.toThrow(/nginx -t refused/)
    expect(await (await fetch(ngx.url)).text()).toBe('b')
    a.server.close()
    b.server.close()
  })

  it('stop() ends the master and its workers', async () => {
    const ngx = await startNginx('events {}\nhttp { server { listen 127.0.0.1:{{port}}; return 204; } }')
    const pids = [ngx.pid, ...ngx.workers()]
    await ngx.stop()
    for (const p of pids) expect(alive(p)).toBe(false)
  })

  it('kills nginx and its workers when the test process dies without stopping it', async () => {
    const script = `
      import { startNginx } from ${JSON.stringify(new URL('../packages/testkit/src/index.ts', import.meta.url).href)}
      const n = await startNginx('worker_processes 2;\\nevents {}\\nhttp { server { listen 127.0.0.1:{{port}}; return 204; } }')
      console.log(JSON.stringify([n.pid, ...n.workers()]))
      setInterval(() => {}, 1000)
    `
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
    const pids = await new Promise<number[]>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(JSON.parse(d.toString()))))
    expect(pids.length).toBe(3)
    for (const p of pids) expect(alive(p)).toBe(true)
    child.kill('SIGKILL')
    await waitFor('nginx master and workers to be gone', () => (pids.every((p) => !alive(p)) ? true : undefined), 5000, 50)
  })
})

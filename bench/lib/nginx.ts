/**
 * An nginx in front of a target's processes, for `--via-nginx`. The same configuration fronts
 * touchline's gateways and the baselines, so the ratio "touchline behind nginx / ws behind nginx"
 * compares the servers, not two proxy setups. WebSocket proxying as nginx/ does for /ws: HTTP/1.1
 * upgrade, round-robin, no proxy buffering limits on the long-lived stream, access log off (a
 * log line per connection is not what is measured).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { canConnect, freePort, requireBinary, startProcess, tempDir, waitFor } from '../../packages/testkit/src/index.ts'
import { childPids } from './sys.ts'

export interface BenchNginx {
  url: string
  port: number
  /** master and workers */
  pids(): number[]
  notes: string[]
  stop(): Promise<void>
}

export async function startBenchNginx(o: { upstreamPorts: number[]; socketio: boolean; connections: number }): Promise<BenchNginx> {
  const bin = requireBinary('nginx', 'nginx-light')
  const dir = tempDir('bench-nginx')
  mkdirSync(join(dir, 'logs'), { recursive: true })
  const port = await freePort()
  const workers = 2
  const upstream = o.upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n')
  const proxy = `
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;
      proxy_connect_timeout 5s;`
  const conf = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes ${workers};
worker_rlimit_nofile 20000;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
events {
  worker_connections 19000;
}
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  upstream backend {
${upstream}
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location /ws {${proxy}
    }
    location /socket.io/ {${proxy}
    }
  }
}
`
  writeFileSync(join(dir, 'nginx.conf'), conf)
  const proc = startProcess(bin, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { cwd: dir })
  await waitFor(
    'nginx to listen',
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`nginx exited: ${proc.output().slice(-500)}`)
      return (await canConnect(port)) || undefined
    },
    10_000,
    20,
  )
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pids: () => [proc.pid, ...childPids(proc.pid)],
    notes: [
      `nginx: ${workers} workers, round-robin over ${o.upstreamPorts.length} upstream(s), bench's own minimal config (bench/lib/nginx.ts)`,
    ],
    async stop() {
      await proc.stop('SIGQUIT', 5000)
    },
  }
}

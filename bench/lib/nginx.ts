/**
 * nginx in front of a target's processes, for `--via-nginx`: the project's own configuration
 * (nginx/src/render.ts, `location = /ws` WebSocket proxying, round-robin, proxy buffering off) run
 * by the testkit's `startNginx`. The same rendering fronts touchline's gateways and the baselines
 * (the Socket.IO baseline serves at path /ws for this), so "touchline behind nginx ÷ ws behind
 * nginx" compares the servers, not two proxy setups. The bench turns the access log off (a log
 * line per connection is not what is measured) and sizes worker_connections for the run.
 */
import { renderNginxConfig } from '../../nginx/src/index.ts'
import { startNginx } from '../../packages/testkit/src/nginx.ts'

export interface BenchNginx {
  url: string
  port: number
  /** master and workers */
  pids(): number[]
  notes: string[]
  stop(): Promise<void>
}

export async function startBenchNginx(o: { upstreamPorts: number[]; ingestPort: number; connections: number }): Promise<BenchNginx> {
  const workers = 2
  // each proxied WebSocket holds two connections in a worker; spread evenly over the workers
  const workerConnections = Math.max(4096, Math.ceil((o.connections * 2) / workers) + 1024)
  const server = await startNginx((ctx) => {
    return renderNginxConfig({
      listen: `127.0.0.1:${ctx.port}`,
      stateDir: ctx.prefix,
      logDir: ctx.prefix,
      accessLog: false,
      ...(ctx.user ? { user: ctx.user } : {}),
      workerProcesses: workers,
      workerConnections,
      nginxVersion: ctx.version,
      gateways: { strategy: 'round_robin', servers: o.upstreamPorts.map((p) => ({ address: `127.0.0.1:${p}` })) },
      ingest: { servers: [{ address: `127.0.0.1:${o.ingestPort}` }] },
    }).text
  })
  return {
    url: server.url,
    port: server.port,
    pids: () => [server.pid, ...server.workers()],
    notes: [
      `nginx ${server.version}: ${workers} workers, worker_connections ${workerConnections}, round-robin over ${o.upstreamPorts.length} upstream(s), configuration from nginx/src/render.ts (access log off)`,
    ],
    stop: () => server.stop(),
  }
}

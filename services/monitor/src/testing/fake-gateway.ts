/**
 * A small real HTTP server process for the monitor's tests: `node fake-gateway.ts` with PORT.
 * Serves what a gateway serves to a monitor:
 *   GET /readyz   200 {status:"ok"} | 503 {status:"degraded"} | 503 {status:"draining"} (by mode)
 *   GET /metrics  the histogram touchline_gateway_fanout_latency_seconds (Prometheus text)
 *   POST /control {"mode": "ok"|"degraded"|"draining", "observe": {"seconds": 0.4, "count": 100}}
 * and prints "listening <port>" when ready.
 */
import { createServer } from 'node:http'

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
const counts = BUCKETS.map(() => 0)
let total = 0
let sum = 0
let mode = process.env.FAKE_MODE ?? 'ok'

function observe(seconds: number, n: number): void {
  BUCKETS.forEach((b, i) => {
    if (seconds <= b) counts[i]! += n
  })
  total += n
  sum += seconds * n
}

function metrics(): string {
  const node = process.env.FAKE_NODE ?? 'fake'
  const lines = [
    '# HELP touchline_gateway_fanout_latency_seconds from event acceptance to the last local socket write',
    '# TYPE touchline_gateway_fanout_latency_seconds histogram',
    ...BUCKETS.map((b, i) => `touchline_gateway_fanout_latency_seconds_bucket{le="${b}",node="${node}"} ${counts[i]}`),
    `touchline_gateway_fanout_latency_seconds_bucket{le="+Inf",node="${node}"} ${total}`,
    `touchline_gateway_fanout_latency_seconds_sum{node="${node}"} ${sum}`,
    `touchline_gateway_fanout_latency_seconds_count{node="${node}"} ${total}`,
    '# HELP process_cpu_seconds_total cpu',
    '# TYPE process_cpu_seconds_total counter',
    'process_cpu_seconds_total 1.5',
  ]
  return `${lines.join('\n')}\n`
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/readyz') {
    const code = mode === 'ok' ? 200 : 503
    res.writeHead(code, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ status: mode, ...(mode === 'degraded' ? { checks: { bus: 'reconnecting' } } : {}) }))
    return
  }
  if (req.method === 'GET' && req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end('{"status":"ok"}')
    return
  }
  if (req.method === 'GET' && req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
    res.end(metrics())
    return
  }
  if (req.method === 'POST' && req.url === '/control') {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString()
    })
    req.on('end', () => {
      const cmd = JSON.parse(body || '{}') as { mode?: string; observe?: { seconds: number; count: number } }
      if (cmd.mode) mode = cmd.mode
      if (cmd.observe) observe(cmd.observe.seconds, cmd.observe.count)
      res.writeHead(204)
      res.end()
    })
    return
  }
  res.writeHead(404)
  res.end()
})

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const addr = server.address()
  process.stdout.write(`listening ${typeof addr === 'object' && addr ? addr.port : 0}\n`)
})
process.on('SIGTERM', () => {
  server.close(() => process.exit(0))
  server.closeAllConnections()
})

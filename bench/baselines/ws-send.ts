/**
 * Baseline: a minimal `ws` server that, for every socket, serializes the event object and calls
 * `send` (JSON.stringify + ws.send per socket) — what a straightforward server does.
 * Run by the fanout bench: `node bench/baselines/ws-send.ts` with PORT, REDIS_URL, BENCH_CHANNEL,
 * BENCH_PRIMARY=1 on the process that takes `POST /publish`.
 */
import { WebSocket } from 'ws'
import { runWsBaseline } from './ws-server.ts'

await runWsBaseline('ws-send', (sockets, raw) => {
  const frame = JSON.parse(raw.toString('utf8')) as unknown
  for (const ws of sockets) {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame))
  }
})

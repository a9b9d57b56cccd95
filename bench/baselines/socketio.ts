/**
 * Baseline: Socket.IO 4 with @socket.io/redis-adapter, websocket transport only, as a team would
 * deploy it to scale out (the bench runs two or more of these processes on one Redis).
 *
 * Spectators connect with socket.io-client (`transports: ['websocket']`, query `match=<id>`, path
 * `/ws` without trailing slash so that the project's nginx configuration proxies it too), are
 * joined to the match's room and get a `subscribed` event. The primary takes `POST /publish`,
 * assigns the seq and calls `io.to(match).emit('event', frame)`: local sockets get it at once
 * (Socket.IO encodes a broadcast packet once and writes it to each socket), other processes
 * through the adapter's Redis channel. A client's `chat` event is emitted to the room the same way.
 */
import http from 'node:http'
import { createAdapter } from '@socket.io/redis-adapter'
import { Redis } from 'ioredis'
import { Server } from 'socket.io'
import { baselineConfig, httpHandler, listen, onStop, SOCKETIO_PATH, Sequencer, type ChatFrameLike } from './shared.ts'

const cfg = baselineConfig()
const pub = new Redis(cfg.redisUrl, { maxRetriesPerRequest: 1 })
const sub = pub.duplicate()
let ready = false
let chatN = 0

const seqr = cfg.primary ? new Sequencer() : undefined
const lastSeq = new Map<string, number>()
// Routes first: Server.attach wraps the existing 'request' listeners and serves /socket.io/ itself.
const server = http.createServer(
  httpHandler({
    ready: () => ready,
    connections: () => io.engine.clientsCount,
    ...(seqr
      ? {
          publish: async (body) => {
            const frame = seqr.next(body)
            lastSeq.set(frame.matchId, frame.seq)
            io.to(frame.matchId).emit('event', frame)
            return frame.seq
          },
        }
      : {}),
  }),
)
const io: Server = new Server(server, {
  // served at exactly /ws (no trailing slash), the spectator path nginx/ proxies
  path: SOCKETIO_PATH,
  addTrailingSlash: false,
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: 4096,
  adapter: createAdapter(pub, sub, { key: `${cfg.channel}#sio` }),
})
io.on('connection', (socket) => {
  const m = socket.handshake.query.match
  const matchId = typeof m === 'string' ? m : undefined
  if (!matchId) {
    socket.disconnect(true)
    return
  }
  void socket.join(matchId)
  socket.emit('subscribed', { type: 'subscribed', matchId, seq: lastSeq.get(matchId) ?? 0 })
  socket.on('chat', (msg: { text?: unknown }) => {
    if (typeof msg?.text !== 'string') return
    const frame: ChatFrameLike = {
      type: 'chat',
      matchId,
      id: `${cfg.nodeId}-${++chatN}`,
      user: { id: 'bench', name: 'bench' },
      text: msg.text,
      at: new Date().toISOString(),
    }
    io.to(matchId).emit('chat', frame)
  })
})

await new Promise<void>((resolve) => {
  if (sub.status === 'ready') resolve()
  else sub.once('ready', () => resolve())
})
const port = await listen(server, cfg)
// the adapter subscribes asynchronously after construction; give it a beat before ready
await new Promise((r) => setTimeout(r, 100))
ready = true
process.stdout.write(`socketio ${cfg.nodeId} listening on ${port}${cfg.primary ? ' (primary)' : ''}\n`)
onStop(async () => {
  ready = false
  await io.close()
  pub.disconnect()
  sub.disconnect()
})

/**
 * The minimal `ws` server both ws baselines run; they differ only in how one event reaches the
 * sockets of a match (`FanOut`). No auth, no backpressure, no history: the least a server can do.
 *
 * Spectators connect to `/ws?match=<id>` and get `{"type":"subscribed","matchId","seq"}`; events
 * and chat arrive from Redis pub/sub (see shared.ts); a client's `{"type":"chat",…}` frame is
 * published as a chat frame for every process to fan out.
 */
import http from 'node:http'
import { Redis } from 'ioredis'
import { WebSocketServer, type WebSocket } from 'ws'
import { baselineConfig, httpHandler, listen, matchOf, onStop, Sequencer, type ChatFrameLike } from './shared.ts'

/** Write one frame to the sockets of a match; `raw` is the frame's JSON text as published on Redis. */
export type FanOut = (sockets: ReadonlySet<WebSocket>, raw: Buffer) => void

export async function runWsBaseline(name: string, fanOut: FanOut): Promise<void> {
  const cfg = baselineConfig()
  const pub = new Redis(cfg.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 })
  const sub = new Redis(cfg.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 })
  const evChannel = `${cfg.channel}:ev`
  const chatChannel = `${cfg.channel}:chat`
  const rooms = new Map<string, Set<WebSocket>>()
  const lastSeq = new Map<string, number>()
  let connections = 0
  let ready = false
  let chatN = 0

  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    // matchId is read from the frame; the bench uses one match, so look it up cheaply.
    const ch = channel.toString()
    const m = /"matchId":"([^"]+)"/.exec(message.toString('latin1', 0, 120))
    const matchId = m?.[1]
    if (!matchId) return
    if (ch === evChannel) {
      const s = /"seq":(\d+)/.exec(message.toString('latin1', 0, 160))
      if (s) lastSeq.set(matchId, Number(s[1]))
    }
    const room = rooms.get(matchId)
    if (room && room.size > 0) fanOut(room, message)
  })
  await sub.subscribe(evChannel, chatChannel)

  const seqr = cfg.primary ? new Sequencer() : undefined
  const server = http.createServer(
    httpHandler({
      ready: () => ready,
      connections: () => connections,
      ...(seqr
        ? {
            publish: async (body) => {
              const frame = seqr.next(body)
              await pub.publish(evChannel, JSON.stringify(frame))
              return frame.seq
            },
          }
        : {}),
    }),
  )
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 4096, clientTracking: false })
  server.on('upgrade', (req, socket, head) => {
    const matchId = matchOf(req.url)
    if (!req.url?.startsWith('/ws') || !matchId) {
      socket.destroy()
      return
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++
      let room = rooms.get(matchId)
      if (!room) {
        room = new Set()
        rooms.set(matchId, room)
      }
      room.add(ws)
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary) return
        let msg: { type?: string; text?: string; matchId?: string }
        try {
          msg = JSON.parse(data.toString()) as typeof msg
        } catch {
          return
        }
        if (msg.type === 'chat' && typeof msg.text === 'string') {
          const frame: ChatFrameLike = {
            type: 'chat',
            matchId,
            id: `${cfg.nodeId}-${++chatN}`,
            user: { id: 'bench', name: 'bench' },
            text: msg.text,
            at: new Date().toISOString(),
          }
          void pub.publish(chatChannel, JSON.stringify(frame))
        }
      })
      ws.on('close', () => {
        connections--
        room.delete(ws)
      })
      ws.on('error', () => {})
      ws.send(JSON.stringify({ type: 'subscribed', matchId, seq: lastSeq.get(matchId) ?? 0 }))
    })
  })
  const port = await listen(server, cfg)
  ready = true
  process.stdout.write(`${name} ${cfg.nodeId} listening on ${port}${cfg.primary ? ' (primary)' : ''}\n`)
  onStop(async () => {
    ready = false
    server.close()
    pub.disconnect()
    sub.disconnect()
  })
}

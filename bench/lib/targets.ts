/**
 * Starting what the fanout bench measures. A target is a set of server processes that spectators
 * connect to and a way to publish an event into it:
 *
 * - `touchline`: ingest + G gateways (`node services/<name>/src/main.ts`, started like an operator
 *   would, by the testkit) on the run's testkit NATS and Redis; events are POSTed to ingest's
 *   `/v1/matches/:id/events` with a commentator key.
 * - `touchline-nocoalesce`: exactly `touchline` with `CHAT_COALESCE_MS=0` and `WS_CORK=false` in
 *   the gateways' environment: no chat window and no per-turn cork, so every frame is its own
 *   write — the "writing each frame on its own" reference of the chat-heavy target, measured in
 *   the same invocation on the same N. A gateway that does not know a variable ignores it
 *   (@touchline/config reads only the variables it declares).
 * - `ws-send`, `ws-prebuilt`: G processes of bench/baselines/ws-*.ts on the run's Redis.
 * - `socketio`: max(2, G) processes of bench/baselines/socketio.ts on the run's Redis.
 *
 * With `viaNginx` spectators connect through one nginx in front of the target's processes.
 */
import { fileURLToPath } from 'node:url'
import { signViewerToken } from '../../packages/tokens/src/index.ts'
import { freePort, startProcess, startService, waitFor, type Proc, type ServiceProcess } from '../../packages/testkit/src/index.ts'
import { getJson, postJson } from './http.ts'
import { startBenchNginx, type BenchNginx } from './nginx.ts'
import type { BenchEventBody } from './wire.ts'

export const TARGETS = ['touchline', 'touchline-nocoalesce', 'ws-send', 'ws-prebuilt', 'socketio'] as const
export type TargetName = (typeof TARGETS)[number]
/** What `fanout` measures without `--targets`: touchline as configured and the three baselines. */
export const DEFAULT_TARGETS: readonly TargetName[] = ['touchline', 'ws-send', 'ws-prebuilt', 'socketio']

/**
 * touchline's variants: the same services with these gateway variables on top of `--gateway-env`
 * (the variant's own setting wins, so a variant always means what its name says).
 */
export const TOUCHLINE_VARIANTS = {
  touchline: {},
  'touchline-nocoalesce': { CHAT_COALESCE_MS: '0', WS_CORK: 'false' },
} as const satisfies Partial<Record<TargetName, Record<string, string>>>
export type TouchlineVariant = keyof typeof TOUCHLINE_VARIANTS

export function isTouchline(name: string): name is TouchlineVariant {
  return Object.hasOwn(TOUCHLINE_VARIANTS, name)
}

export interface TargetOptions {
  gateways: number
  viaNginx: boolean
  redisUrl: string
  natsUrl?: string
  matchId: string
  /** unique per run: Redis channel / NATS and Redis key prefixes */
  runId: string
  /** extra environment for the server processes (e.g. NODE_OPTIONS=--cpu-prof) */
  serverEnv?: Record<string, string>
  /** environment for touchline's gateways only (GATEWAY_* tuning) */
  gatewayEnv?: Record<string, string>
  /** spectator connections of the run (sizes nginx) */
  connections: number
  /** processes for the Socket.IO baseline (default max(2, gateways)) */
  socketioServers?: number
}

export interface ChatClient {
  /** a WebSocket URL (kind ws) or base URL (socketio) for a chatting spectator */
  url: string
  /** how to say one line */
  frame(text: string, n: number): unknown
}

export interface RunningTarget {
  name: TargetName
  kind: 'ws' | 'socketio'
  matchId: string
  /** the processes spectators connect to (whose RSS delta per connection is reported) */
  serverPids: number[]
  /** CPU groups for the report */
  groups: Record<string, number[]>
  spectatorUrls: string[]
  /** seq of the match before the bench's first event */
  startSeq: number
  /** Prometheus endpoints of the server processes (touchline's gateways; none for the baselines) */
  metricsUrls: string[]
  publish(body: BenchEventBody): Promise<number>
  chatters(n: number): ChatClient[]
  describe: string
  notes: string[]
  output(): string
  stop(): Promise<void>
}

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url))

export const BENCH_API_KEYS = { admin: 'bench-admin-key-0001', commentator: 'bench-commentator-key-0001' }
export const BENCH_TOKEN_SECRET = 'bench-token-secret-0123456789abcdef'

export async function startTarget(name: TargetName, opts: TargetOptions): Promise<RunningTarget> {
  if (isTouchline(name)) return startTouchline(name, opts)
  return startBaseline(name, opts)
}

async function waitReady(url: string, proc: Proc, what: string): Promise<void> {
  await waitFor(
    `${what} at ${url}/readyz`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`${what} exited: ${proc.output().slice(-1500)}`)
      const r = await getJson(`${url}/readyz`).catch(() => undefined)
      return r?.status === 200 ? true : undefined
    },
    20_000,
    50,
  )
}

async function frontNginx(opts: TargetOptions, ports: number[], ingestPort: number): Promise<BenchNginx | undefined> {
  if (!opts.viaNginx) return undefined
  return startBenchNginx({ upstreamPorts: ports, ingestPort, connections: opts.connections })
}

async function startBaseline(name: Exclude<TargetName, TouchlineVariant>, opts: TargetOptions): Promise<RunningTarget> {
  const script = here(`../baselines/${name}.ts`)
  const count = name === 'socketio' ? (opts.socketioServers ?? Math.max(2, opts.gateways)) : opts.gateways
  const kind = name === 'socketio' ? 'socketio' : 'ws'
  const procs: Array<{ proc: Proc; port: number; url: string }> = []
  const channel = `${opts.runId}-${name}`
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort()
      const proc = startProcess(process.execPath, [script], {
        env: {
          ...process.env,
          ...opts.serverEnv,
          PORT: String(port),
          HOST: '127.0.0.1',
          REDIS_URL: opts.redisUrl,
          BENCH_CHANNEL: channel,
          BENCH_PRIMARY: i === 0 ? '1' : '0',
          NODE_ID: `${name}-${i}`,
        },
      })
      const url = `http://127.0.0.1:${port}`
      procs.push({ proc, port, url })
      await waitReady(url, proc, `${name}[${i}]`)
    }
  } catch (err) {
    await Promise.all(procs.map((p) => p.proc.stop('SIGKILL')))
    throw err
  }
  const nginx = await frontNginx(
    opts,
    procs.map((p) => p.port),
    procs[0]!.port,
  ).catch(async (err: unknown) => {
    await Promise.all(procs.map((p) => p.proc.stop('SIGKILL')))
    throw err
  })
  const bases = nginx ? [nginx.url] : procs.map((p) => p.url)
  const spectatorUrls = kind === 'ws' ? bases.map((b) => `${b.replace(/^http/, 'ws')}/ws?match=${encodeURIComponent(opts.matchId)}`) : bases
  const primary = procs[0]!.url
  return {
    name,
    kind,
    matchId: opts.matchId,
    serverPids: procs.map((p) => p.proc.pid),
    groups: { gateway: procs.map((p) => p.proc.pid), ...(nginx ? { nginx: nginx.pids() } : {}) },
    spectatorUrls,
    startSeq: 0,
    metricsUrls: [],
    async publish(body) {
      const r = await postJson<{ seq?: number }>(`${primary}/publish`, { matchId: opts.matchId, ...body })
      if (r.status !== 200 || typeof r.body?.seq !== 'number') throw new Error(`publish: ${r.status} ${JSON.stringify(r.body)}`)
      return r.body.seq
    },
    chatters(n) {
      return Array.from({ length: n }, (_, i) => ({
        url: spectatorUrls[i % spectatorUrls.length] as string,
        frame: (text: string, k: number) => ({ type: 'chat', matchId: opts.matchId, text, clientMsgId: `c${i}-${k}` }),
      }))
    },
    describe: `${count} × ${name} process${count > 1 ? 'es' : ''}${nginx ? ' behind nginx' : ''}`,
    notes: nginx ? nginx.notes : [],
    output: () => procs.map((p, i) => `--- ${name}[${i}]\n${p.proc.output().slice(-2000)}`).join('\n'),
    async stop() {
      await nginx?.stop()
      await Promise.all(procs.map((p) => p.proc.stop('SIGTERM', 5000)))
    },
  }
}

async function startTouchline(name: TouchlineVariant, opts: TargetOptions): Promise<RunningTarget> {
  if (!opts.natsUrl) throw new Error('touchline needs NATS')
  const prefix = `b${opts.runId.replace(/[^a-z0-9]/gi, '').toLowerCase()}`.slice(0, 30)
  const env: Record<string, string> = {
    ...opts.serverEnv,
    NATS_URL: opts.natsUrl,
    REDIS_URL: opts.redisUrl,
    NATS_PREFIX: prefix,
    REDIS_PREFIX: prefix,
    TOUCHLINE_API_KEYS: `admin:${BENCH_API_KEYS.admin},commentator:${BENCH_API_KEYS.commentator}`,
    TOUCHLINE_TOKEN_SECRET: BENCH_TOKEN_SECRET,
    LOG_LEVEL: 'warn',
    // stopping is not measured: close the sockets quickly when a target is torn down
    DRAIN_SPREAD_MS: '100',
    DRAIN_GRACE_MS: '500',
  }
  const started: ServiceProcess[] = []
  const stopAll = async () => {
    await Promise.all(started.map((s) => s.stop().catch(() => s.kill())))
  }
  let nginx: BenchNginx | undefined
  try {
    const ingest = await startService('ingest', { env, timeoutMs: 30_000 })
    started.push(ingest)
    const gateways: ServiceProcess[] = []
    const variantEnv: Record<string, string> = TOUCHLINE_VARIANTS[name]
    for (let i = 0; i < opts.gateways; i++) {
      const gw = await startService('gateway', {
        env: { ...env, ...opts.gatewayEnv, ...variantEnv, NODE_ID: `bench-gw-${i}` },
        timeoutMs: 30_000,
      })
      started.push(gw)
      gateways.push(gw)
    }
    const admin = { authorization: `Bearer ${BENCH_API_KEYS.admin}` }
    const created = await postJson<{ seq?: number }>(
      `${ingest.url}/v1/matches`,
      { id: opts.matchId, title: 'Bench match', home: 'Home', away: 'Away', startsAt: new Date().toISOString() },
      admin,
    )
    if (created.status !== 200 && created.status !== 201) {
      throw new Error(`creating the match: ${created.status} ${JSON.stringify(created.body)}`)
    }
    nginx = await frontNginx(
      opts,
      gateways.map((g) => g.port),
      ingest.port,
    )
    const bases = nginx ? [nginx.url] : gateways.map((g) => g.url)
    const spectatorUrls = bases.map((b) => `${b.replace(/^http/, 'ws')}/ws?match=${encodeURIComponent(opts.matchId)}`)
    const commentator = { authorization: `Bearer ${BENCH_API_KEYS.commentator}` }
    const eventsUrl = `${ingest.url}/v1/matches/${encodeURIComponent(opts.matchId)}/events`
    const n = nginx
    return {
      name,
      kind: 'ws',
      matchId: opts.matchId,
      serverPids: gateways.map((g) => g.pid),
      groups: {
        gateway: gateways.map((g) => g.pid),
        ingest: [ingest.pid],
        ...(n ? { nginx: n.pids() } : {}),
      },
      spectatorUrls,
      startSeq: typeof created.body?.seq === 'number' ? created.body.seq : 0,
      metricsUrls: gateways.map((g) => `${g.url}/metrics`),
      async publish(body) {
        const r = await postJson<{ seq?: number }>(eventsUrl, body, commentator)
        if ((r.status !== 200 && r.status !== 201) || typeof r.body?.seq !== 'number') {
          throw new Error(`POST events: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
        }
        return r.body.seq
      },
      chatters(count) {
        const exp = Math.floor(Date.now() / 1000) + 3600
        return Array.from({ length: count }, (_, i) => {
          const token = signViewerToken({ sub: `bench-chatter-${i}`, name: `chatter ${i}`, exp }, BENCH_TOKEN_SECRET)
          return {
            url: `${spectatorUrls[i % spectatorUrls.length]}&token=${encodeURIComponent(token)}`,
            frame: (text: string, k: number) => ({ type: 'chat', matchId: opts.matchId, text, clientMsgId: `c${i}-${k}` }),
          }
        })
      },
      describe:
        `ingest + ${opts.gateways} gateway${opts.gateways > 1 ? 's' : ''} on NATS and Redis${n ? ' behind nginx' : ''}` +
        Object.entries(variantEnv)
          .map(([k, v]) => `, gateway ${k}=${v}`)
          .join(''),
      notes: n ? n.notes : [],
      output: () => started.map((s) => `--- ${s.name} ${s.pid}\n${s.output().slice(-3000)}`).join('\n'),
      async stop() {
        await n?.stop()
        await stopAll()
      },
    }
  } catch (err) {
    await nginx?.stop()
    await stopAll()
    throw err
  }
}

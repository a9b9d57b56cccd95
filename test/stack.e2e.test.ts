/**
 * The local runner as an operator uses it: `up` a real stack (Redis, NATS, ingest, gateways, the
 * monitor, nginx as detached processes), stream events to spectators through nginx, `scale` from
 * 2 to 4 gateways and back while the stream runs, and check that no spectator lost or repeated an
 * event; then `status` and `down`.
 */
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { apiRequest } from '../infra/local/src/commentator.ts'
import { Spectator } from '../infra/local/src/spectator.ts'
import { down, scale, status, up, type UpResult } from '../infra/local/src/stack.ts'
import { canConnect, freePort, guardProcessGroup, waitFor } from '../packages/testkit/src/index.ts'
import { alive } from './support/process.ts'

const stateDir = mkdtempSync(join(tmpdir(), 'touchline-stack-e2e-'))
const ADMIN = 'admin-stack-e2e-key'
const COMMENTATOR = 'commentator-stack-e2e-key'
const unguard: Array<() => void> = []
const onSpawn = (pid: number) => unguard.push(guardProcessGroup(pid))

afterAll(async () => {
  await down({ stateDir }).catch(() => {})
  for (const u of unguard) u()
  rmSync(stateDir, { recursive: true, force: true })
})

function post(base: string, path: string, body: unknown, key: string, idempotencyKey?: string) {
  return apiRequest(base, 'POST', path, { body, key, idempotencyKey })
}

describe('pnpm stack', () => {
  let stack: UpResult

  it('up: starts everything behind nginx, waits for health, honours TOUCHLINE_API_KEYS', async () => {
    stack = await up({
      stateDir,
      port: await freePort(),
      gateways: 2,
      onSpawn,
      processEnv: { TOUCHLINE_API_KEYS: `admin:${ADMIN},commentator:${COMMENTATOR}` },
      env: { LOG_LEVEL: 'warn', DRAIN_SPREAD_MS: '200', DRAIN_GRACE_MS: '1000' },
    })
    expect(stack.healthy).toBe(true)
    expect(stack.keysFrom).toBe('env')
    expect(stack.adminKey).toBe(ADMIN)
    const roles = stack.processes.map((p) => p.role)
    for (const r of ['redis', 'nats', 'ingest', 'gateway', 'nginx'] as const) expect(roles).toContain(r)
    expect(stack.processes.filter((p) => p.role === 'gateway').map((p) => p.nodeId)).toEqual(['gw-1', 'gw-2'])
    for (const p of stack.processes) expect(alive(p.pid), p.name).toBe(true)

    // One origin: pages, API (prefix stripped), monitor (prefix stripped).
    expect((await fetch(`${stack.publicUrl}/api/healthz`)).status).toBe(200)
    const page = await fetch(`${stack.publicUrl}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/text\/html/)
    if (roles.includes('monitor')) expect((await fetch(`${stack.publicUrl}/monitor/status`)).status).toBe(200)

    // Secrets: the token secret is stored 0600; keys given by the environment are not written.
    const secrets = join(stateDir, 'secrets.json')
    expect(statSync(secrets).mode & 0o777).toBe(0o600)
    expect(readFileSync(secrets, 'utf8')).not.toContain(ADMIN)
  })

  it('scale 2 → 4 → 2 under a live stream: no spectator loses or repeats an event', async () => {
    const base = stack.publicUrl
    const ws = base.replace('http', 'ws')
    const matchId = `stack-${Date.now()}`
    expect(
      (await post(base, '/v1/matches', { id: matchId, title: 'Scale', home: 'H', away: 'A', startsAt: new Date().toISOString() }, ADMIN))
        .status,
    ).toBe(201)

    const early = Array.from({ length: 40 }, () => new Spectator({ url: ws, matchId }))
    await Promise.all(early.map((s) => s.start()))
    expect(new Set(early.map((s) => s.node))).toEqual(new Set(['gw-1', 'gw-2']))

    let posted = 0
    let streaming = true
    const poster = (async () => {
      while (streaming) {
        // Retried with the same Idempotency-Key when a reload closes the keep-alive connection.
        const n = posted + 1
        const r = await post(
          base,
          `/v1/matches/${matchId}/events`,
          { kind: 'commentary', text: `event ${n}` },
          COMMENTATOR,
          `${matchId}-${n}`,
        )
        expect(r.status).toBe(201)
        expect(r.json?.seq).toBe(n)
        posted = n
        await new Promise((res) => setTimeout(res, 10))
      }
    })()
    await waitFor('the stream to run', () => (posted >= 20 ? true : undefined), 10_000, 10)

    const four = await scale({ stateDir, gateways: 4, onSpawn })
    expect(four.healthy).toBe(true)
    expect(four.processes.filter((p) => p.role === 'gateway').map((p) => p.nodeId)).toEqual(['gw-1', 'gw-2', 'gw-3', 'gw-4'])
    // New spectators spread over the four; the reload dropped no existing socket.
    const late = Array.from({ length: 20 }, () => new Spectator({ url: ws, matchId }))
    await Promise.all(late.map((s) => s.start()))
    expect(new Set(late.map((s) => s.node))).toEqual(new Set(['gw-1', 'gw-2', 'gw-3', 'gw-4']))
    const onNew = late.filter((s) => s.node === 'gw-3' || s.node === 'gw-4')
    await waitFor('more events', () => (posted >= 60 ? true : undefined), 10_000, 10)

    const removed = four.processes.filter((p) => p.nodeId === 'gw-3' || p.nodeId === 'gw-4')
    const two = await scale({ stateDir, gateways: 2 })
    expect(two.processes.filter((p) => p.role === 'gateway').map((p) => p.nodeId)).toEqual(['gw-1', 'gw-2'])
    for (const p of removed) expect(alive(p.pid), `${p.name} drained and exited`).toBe(false)
    await waitFor('the drained spectators to resume', () => (onNew.every((s) => s.subscriptions >= 2) ? true : undefined), 10_000, 20)
    await waitFor('more events after scaling down', () => (posted >= 100 ? true : undefined), 10_000, 10)

    streaming = false
    await poster
    const all = [...early, ...late]
    await waitFor('every spectator to reach the last event', () => (all.every((s) => s.last === posted) ? true : undefined), 15_000, 20)
    for (const s of all) {
      expect(s.record.anomalies, `spectator ${s.record.nodes.join('→')}`).toEqual([])
      expect(s.record.failedAttempts).toEqual([])
    }
    // Exactly once, not only "nothing lost". A duplicate here comes from the gateway (a live event
    // at or below the seq its snapshot/replay already covered), not from nginx or the runner.
    const dups = all.flatMap((s) => s.record.duplicates)
    expect.soft(dups, 'gateway delivered events twice').toEqual([])
    // Early spectators were on gw-1/gw-2 all along: both reloads kept their sockets open.
    for (const s of early) {
      expect(s.record.closes).toEqual([])
      expect([...new Set(s.record.seqs)]).toEqual(Array.from({ length: posted }, (_, i) => i + 1))
    }
    // Those on the removed gateways were told 1012 and resumed on gw-1/gw-2 without a gap.
    for (const s of onNew) {
      expect(s.record.closes).toEqual([1012])
      expect(['gw-1', 'gw-2']).toContain(s.node)
      const first = s.record.seqs[0] as number
      expect([...new Set(s.record.seqs)]).toEqual(Array.from({ length: posted - first + 1 }, (_, i) => first + i))
    }
    await Promise.all(all.map((s) => s.stop()))
  })

  it('status --json lists every process with pid, port, health and node id', async () => {
    const r = spawnSync(process.execPath, ['infra/local/stack.ts', 'status', '--json', '--state-dir', stateDir], { encoding: 'utf8' })
    expect(r.status, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout) as Awaited<ReturnType<typeof status>>
    expect(s.healthy).toBe(true)
    expect(s.publicUrl).toBe(stack.publicUrl)
    expect(s.gateways).toBe(2)
    for (const p of s.processes) {
      expect(p.pid).toBeGreaterThan(0)
      expect(p.health).toBe('ok')
      if (p.role !== 'nats') expect(p.port).toBeGreaterThan(0)
    }
    expect(s.processes.filter((p) => p.role === 'gateway').map((p) => p.nodeId)).toEqual(['gw-1', 'gw-2'])
  })

  it('down stops every process, nginx workers included', async () => {
    const before = await status({ stateDir })
    const nginxPid = before.processes.find((p) => p.role === 'nginx')!.pid
    const workers = readFileSync(`/proc/${nginxPid}/task/${nginxPid}/children`, 'utf8').trim().split(/\s+/).map(Number)
    await down({ stateDir })
    for (const p of before.processes) expect(alive(p.pid), p.name).toBe(false)
    for (const w of workers) expect(alive(w), `nginx worker ${w}`).toBe(false)
    expect(await canConnect(Number(new URL(stack.publicUrl).port))).toBe(false)
    expect((await status({ stateDir })).running).toBe(false)
  })
})

describe('pnpm stack: interrupted and damaged stacks', () => {
  const dirs: string[] = []
  const newDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'touchline-stack-e2e-int-'))
    dirs.push(d)
    return d
  }
  afterAll(async () => {
    for (const d of dirs) await down({ stateDir: d }).catch(() => {})
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  /** Run `pnpm stack up` and send it `signal` once it has started the first gateway; the pids it logged. */
  async function interruptedUp(
    dir: string,
    signal: NodeJS.Signals,
  ): Promise<{ code: number | null; sig: NodeJS.Signals | null; pids: number[]; err: string }> {
    const port = await freePort()
    const child = spawn(
      process.execPath,
      ['infra/local/stack.ts', 'up', '--state-dir', dir, '--port', String(port), '--no-web', '--gateways', '3'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
      for (const m of String(d).matchAll(/started \S+ \(pid (\d+)/g)) unguard.push(guardProcessGroup(Number(m[1])))
      if (err.includes('started gw-1 ')) child.kill(signal)
    })
    const [code, sig] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null]
    return { code, sig, pids: [...err.matchAll(/started \S+ \(pid (\d+)/g)].map((m) => Number(m[1])), err }
  }

  it('Ctrl-C during up stops everything it started and exits 130', async () => {
    const dir = newDir()
    const r = await interruptedUp(dir, 'SIGINT')
    expect(r.code, r.err).toBe(130)
    expect(r.err).toMatch(/interrupted by SIGINT; everything started was stopped/)
    expect(r.pids.length).toBeGreaterThan(0)
    for (const pid of r.pids) expect(alive(pid), `pid ${pid}`).toBe(false)
    expect(existsSync(join(dir, 'state.json'))).toBe(false)
    expect(existsSync(join(dir, 'stack.lock'))).toBe(false)
  })

  it('a runner killed during up leaves a state.json from which down stops everything', async () => {
    const dir = newDir()
    const r = await interruptedUp(dir, 'SIGKILL')
    expect(r.sig).toBe('SIGKILL')
    expect(r.pids.length).toBeGreaterThan(0)
    expect(await down({ stateDir: dir })).toBe(true)
    for (const pid of r.pids) expect(alive(pid), `pid ${pid}`).toBe(false)
  })

  it('scale replaces a gateway that died instead of counting it', async () => {
    const dir = newDir()
    await up({ stateDir: dir, port: await freePort(), gateways: 2, web: false, monitor: false, onSpawn })
    const dead = (await status({ stateDir: dir })).processes.find((p) => p.name === 'gw-2')!
    process.kill(dead.pid, 'SIGKILL')
    await waitFor('gw-2 to die', () => !alive(dead.pid) || undefined, 5000)
    const before = await status({ stateDir: dir })
    expect(before.healthy).toBe(false)
    expect(before.processes.find((p) => p.name === 'gw-2')).toMatchObject({ running: false, health: 'down' })
    const after = await scale({ stateDir: dir, gateways: 2, onSpawn })
    expect(after.healthy).toBe(true)
    expect(after.processes.filter((p) => p.role === 'gateway').map((p) => p.name)).toEqual(['gw-1', 'gw-3'])
    await down({ stateDir: dir })
  })
})

/**
 * Smoke test of the fanout bench: the real tool (`node bench/run.ts fanout`) against touchline, its
 * no-coalescing variant and one baseline with a tiny N and a little chat. It checks that every
 * figure is reported and that nothing was lost — never how fast anything was (timings on a shared
 * CI box mean nothing).
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import type { TargetResult } from './fanout.ts'

const root = fileURLToPath(new URL('../', import.meta.url))
const out = mkdtempSync(join(tmpdir(), 'touchline-bench-smoke-'))

afterAll(() => rmSync(out, { recursive: true, force: true }))

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bench/run.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString()
    })
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString()
    })
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('bench fanout (smoke)', () => {
  it('reports every figure for touchline, touchline-nocoalesce and a baseline, with no gap', async () => {
    const args = ['fanout', '--connections', '50', '--duration', '2', '--warmup', '0.5', '--rate', '20', '--drain', '5', '--settle', '0.4']
    // chat limits raised as the suite's chat-heavy run does: a refusal would show that --gateway-env did not reach the gateways
    const chat = ['--chat', '4', '--gateway-env', 'CHAT_CONN_PER_MIN=600,CHAT_CONN_BURST=60,CHAT_USER_PER_MIN=600,CHAT_USER_BURST=60']
    const targets = ['--targets', 'touchline,touchline-nocoalesce,ws-prebuilt']
    const { code, stdout, stderr } = await runBench([...args, ...chat, ...targets, '--out', out, '--quiet'])
    expect(code, stderr.slice(-3000)).toBe(0)

    const files = readdirSync(out)
    const json = files.find((f) => f.endsWith('-fanout.json'))
    expect(json).toBeDefined()
    expect(files).toContain(json!.replace(/\.json$/, '.md'))
    const record = JSON.parse(readFileSync(join(out, json!), 'utf8')) as {
      meta: { system: { node: string; cpuModel: string; os: string; cores: number } }
      params: { connections: number }
      data: { results: TargetResult[] }
    }
    expect(record.meta.system.node).toMatch(/^v\d+/)
    expect(record.meta.system.cores).toBeGreaterThan(0)
    expect(record.data.results.map((r) => r.target)).toEqual(['touchline', 'touchline-nocoalesce', 'ws-prebuilt'])
    expect(record.data.results[1]?.describe).toContain('CHAT_COALESCE_MS=0')

    for (const r of record.data.results) {
      expect(r.error, `${r.target}: ${r.error}`).toBeUndefined()
      expect(r.connections.open).toBe(50)
      expect(r.connections.failed).toBe(0)
      expect(r.connections.establishSec).toBeGreaterThan(0)
      expect(r.events.accepted).toBe(r.events.posted)
      expect(r.events.accepted).toBeGreaterThan(0)
      expect(r.delivered.perSec).toBeGreaterThan(0)
      expect(r.delivered.inWindow).toBeGreaterThan(0)
      for (const k of ['p50', 'p90', 'p99', 'p999', 'max', 'mean'] as const) expect(typeof r.latency[k]).toBe('number')
      expect(r.latency.count).toBeGreaterThan(0)
      expect(typeof r.cpu.gateway).toBe('number')
      expect(typeof r.cpu.loadgen).toBe('number')
      expect(typeof r.memory.rssIdleMiB).toBe('number')
      expect(typeof r.memory.perConnKiB).toBe('number')
      expect(r.histogram.length).toBeGreaterThan(0)
      // nothing lost, nothing twice
      expect(r.integrity.gaps).toBe(0)
      expect(r.integrity.missingAtEnd).toBe(0)
      expect(r.integrity.duplicates).toBe(0)
      expect(r.connections.closed).toBe(0)
      // chat reached the spectators, inside the window too
      expect(r.chat.sent).toBeGreaterThan(0)
      expect(r.chat.received).toBeGreaterThanOrEqual(r.chat.sent * 50)
      expect(r.chat.inWindow).toBeGreaterThan(0)
      expect(r.chat.latency.count).toBeGreaterThan(0)
    }
    for (const r of record.data.results.slice(0, 2)) {
      expect(typeof r.cpu.ingest).toBe('number')
      // the gateways' own counters, over the window and the whole run
      const c = r.gatewayCounters
      expect(c?.window.touchline_gateway_socket_writes_total).toBeGreaterThan(0)
      expect(c?.window.touchline_gateway_frames_sent_total).toBeGreaterThan(0)
      expect(c?.run.touchline_gateway_chat_accepted_total).toBe(r.chat.sent)
      expect(c?.run.touchline_gateway_chat_refused_total ?? 0).toBe(0)
    }
    expect(record.data.results[2]?.gatewayCounters).toBeUndefined()

    for (const label of [
      'connections open / requested',
      'time to establish all (s)',
      'delivered msgs/s',
      'latency p50 (ms)',
      'latency p99 (ms)',
      'latency p99.9 (ms)',
      'latency max (ms)',
      'server CPU % (sum)',
      'load generators CPU %',
      'memory per idle connection (KiB)',
      'gaps (missing seqs)',
      'touchline ÷ ws-prebuilt',
      'touchline ÷ touchline-nocoalesce',
      'chat delivered msgs/s (received in window)',
      'gateway socket writes /s',
      'gateway frames per socket write',
    ]) {
      expect(stdout).toContain(label)
    }
  }, 90_000)
})

describe('bench broker (smoke)', () => {
  it('appends straight to NATS in both modes: every scheduled append acknowledged, figures reported', async () => {
    const dir = mkdtempSync(join(out, 'broker-'))
    const { code, stdout, stderr } = await runBench([
      'broker',
      '--rate',
      '200',
      '--duration',
      '1',
      '--warmup',
      '0.5',
      '--matches',
      '3',
      '--out',
      dir,
    ])
    expect(code, stderr.slice(-2000)).toBe(0)
    const file = readdirSync(dir).find((f) => f.endsWith('-broker.json'))
    expect(file).toBeDefined()
    const record = JSON.parse(readFileSync(join(dir, file as string), 'utf8')) as {
      data: Array<{ mode: string; scheduled: number; acked: number; errors: number; worstByHalfSecond: number[] }>
    }
    expect(record.data.map((r) => r.mode)).toEqual(['jetstream', 'bus'])
    for (const r of record.data) {
      expect(r.scheduled).toBe(200)
      expect(r.acked).toBe(r.scheduled)
      expect(r.errors).toBe(0)
      expect(r.worstByHalfSecond.length).toBeGreaterThan(0)
    }
    for (const label of ['acked/s', 'p99', 'client CPU %', 'NATS CPU %', 'client GC pauses']) expect(stdout).toContain(label)
    // a bad flag is refused before anything starts
    const bad = await runBench(['broker', '--modes', 'kafka', '--out', dir])
    expect(bad.code).not.toBe(0)
    expect(bad.stderr).toContain('unknown mode kafka')
  }, 60_000)
})

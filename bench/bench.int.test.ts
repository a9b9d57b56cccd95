/**
 * Smoke test of the fanout bench: the real tool (`node bench/run.ts fanout`) against touchline and
 * one baseline with a tiny N. It checks that every figure is reported and that nothing was lost —
 * never how fast anything was (timings on a shared CI box mean nothing).
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
  it('reports every figure for touchline and a baseline, with no gap', async () => {
    const args = ['fanout', '--connections', '50', '--duration', '2', '--warmup', '0.5', '--rate', '20', '--drain', '5', '--settle', '0.4']
    const { code, stdout, stderr } = await runBench([...args, '--targets', 'touchline,ws-prebuilt', '--out', out, '--quiet'])
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
    expect(record.data.results.map((r) => r.target)).toEqual(['touchline', 'ws-prebuilt'])

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
    }
    expect(typeof record.data.results[0]?.cpu.ingest).toBe('number')

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
    ]) {
      expect(stdout).toContain(label)
    }
  }, 90_000)
})

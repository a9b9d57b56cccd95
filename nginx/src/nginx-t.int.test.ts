/**
 * Every strategy × option combination the renderer accepts must pass `nginx -t` on the installed
 * nginx (1.22 here), including the error_page fallback it builds for backup with ip_hash/hash.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { findNginx, nginxVersion, testConfig } from './control.ts'
import { renderNginxConfig } from './render.ts'
import type { NginxDescription, Strategy, UpstreamDescription, UpstreamServer } from './types.ts'

const bin = findNginx()
const dir = mkdtempSync(join(tmpdir(), 'touchline-nginx-combos-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

type Balancing = { strategy: Strategy; hashKey?: string; consistent?: boolean }
const balancings: Balancing[] = [
  { strategy: 'round_robin' },
  { strategy: 'least_conn' },
  { strategy: 'ip_hash' },
  { strategy: 'hash', hashKey: '$arg_match' },
  { strategy: 'hash', hashKey: '$arg_match', consistent: true },
  { strategy: 'hash', hashKey: ['$', '{remote_addr}:$arg_match'].join(''), consistent: true },
]
const flags = ['weights', 'passive', 'backup', 'down'] as const
type Flag = (typeof flags)[number]

function servers(on: Set<Flag>, base: number): UpstreamServer[] {
  const list: UpstreamServer[] = [
    { address: `127.0.0.1:${base + 1}` },
    { address: `127.0.0.1:${base + 2}` },
    { address: `localhost:${base + 3}` },
  ]
  list.forEach((s, i) => {
    if (on.has('weights')) s.weight = [3, 1, 1][i]
    if (on.has('passive')) Object.assign(s, { maxFails: 2, failTimeout: 5 })
  })
  if (on.has('down')) (list[1] as UpstreamServer).down = true
  if (on.has('backup'))
    list.push({ address: `127.0.0.1:${base + 9}`, backup: true }, { address: `unix:${dir}/backup.sock`, backup: true, weight: 2 })
  return list
}

const cases: Array<{ name: string; d: NginxDescription }> = []
for (const b of balancings) {
  for (let mask = 0; mask < 1 << flags.length; mask++) {
    const on = new Set(flags.filter((_, i) => mask & (1 << i)))
    const gateways: UpstreamDescription = { ...b, servers: servers(on, 9000) }
    // The ingest and monitor upstreams vary too: the same balancing on the API, with keepalive.
    const ingest: UpstreamDescription = { ...b, keepalive: 8, servers: servers(on, 9100) }
    const name = `${b.strategy}${b.hashKey ? ` ${b.hashKey}` : ''}${b.consistent ? ' consistent' : ''} [${[...on].join(', ') || 'plain'}]`
    cases.push({
      name,
      d: {
        listen: `127.0.0.1:${18000 + cases.length}`,
        stateDir: dir,
        user: process.getuid?.() === 0 ? 'root' : undefined,
        workerProcesses: 2,
        gateways,
        ingest,
        monitor: mask % 2 === 0 ? { servers: [{ address: '127.0.0.1:9200' }] } : undefined,
        webRoot: mask % 3 === 0 ? dir : undefined,
        websocket: { heartbeatMs: 25_000 },
        trustedProxies: mask % 5 === 0 ? ['10.0.0.0/8'] : undefined,
        workerShutdownTimeout: mask % 7 === 0 ? 30 : undefined,
      },
    })
  }
}

describe(`nginx -t on every rendered combination (nginx ${bin ? nginxVersion(bin) : 'missing'})`, () => {
  it(`covers ${cases.length} combinations`, () => {
    // No silent skip: without nginx this test fails and says what to install.
    expect(bin, 'nginx is not installed (Debian: apt-get install nginx-light); .ci/run installs it').toBeTruthy()
    expect(cases.length).toBe(balancings.length * 16)
  })

  it.each(cases)('$name', ({ d }) => {
    const r = renderNginxConfig(d)
    const mixesBackup = d.gateways.servers.some((s) => s.backup) && (d.gateways.strategy === 'ip_hash' || d.gateways.strategy === 'hash')
    expect(r.text.includes('error_page 502 504 = @touchline_gateways_backup;')).toBe(mixesBackup)
    testConfig(r.text, { bin, prefix: dir })
  })

  it('would catch nginx refusing "backup" with ip_hash (the reason for the fallback)', () => {
    const r = renderNginxConfig(cases.find((c) => c.d.gateways.strategy === 'ip_hash' && c.d.gateways.servers.some((s) => s.backup))!.d)
    const broken = r.text.replace(/(upstream touchline_gateways \{[\s\S]*?)(\n {2}\})/, '$1\n    server 127.0.0.1:9999 backup;$2')
    expect(() => testConfig(broken, { bin, prefix: dir })).toThrow(/does not support parameter "backup"|backup/)
  })
})

/** `node nginx/render.ts` with bad input: a clear message and a non-zero exit, never a stack trace. */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'

const cli = fileURLToPath(new URL('../render.ts', import.meta.url))
const example = fileURLToPath(new URL('../stack.example.json', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'touchline-render-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function render(...args: string[]) {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

function withDescription(d: unknown): string {
  const f = join(dir, `d${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(f, JSON.stringify(d))
  return f
}

describe('nginx/render.ts CLI', () => {
  it('says that --config is missing', () => {
    const r = render()
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^render: --config <file> is required\n/)
  })

  it('refuses --check with --http-only instead of skipping the check', () => {
    const r = render('--config', example, '--http-only', '--check')
    expect(r.code).toBe(1)
    expect(r.out).toBe('')
    expect(r.err).toMatch(/--check cannot validate --http-only output/)
  })

  it('servers that are not an array: says so (not "no servers"), exit 2', () => {
    const r = render(
      '--config',
      withDescription({ listen: 8080, gateways: { servers: '127.0.0.1:1' }, ingest: { servers: [{ address: '127.0.0.1:2' }] } }),
    )
    expect(r.code).toBe(2)
    expect(r.err).toMatch(/gateways.servers: must be an array of servers, got "127.0.0.1:1" \[invalid_value\]/)
    expect(r.err).not.toMatch(/\n\s+at /)
  })

  it.each([
    ['unknown field', { bogus: 1 }, /bogus: is not a known field/],
    ['empty servers', { gateways: { servers: [] } }, /gateways.servers: must list at least one server/],
    ['duplicate', { gateways: { servers: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:1' }] } }, /listed twice/],
    ['backup only', { gateways: { servers: [{ address: '127.0.0.1:1', backup: true }] } }, /every server is a backup/],
    ['bad port', { gateways: { servers: [{ address: '127.0.0.1:99999' }] } }, /got "127.0.0.1:99999" \[invalid_address\]/],
    ['hash without key', { gateways: { strategy: 'hash', servers: [{ address: '127.0.0.1:1' }] } }, /needs a key/],
    ['wrong type', { listen: 'x' }, /listen: must be a port or host:port/],
  ])('%s: exit 2 with the problem listed', (_, over, message) => {
    const r = render(
      '--config',
      withDescription({
        listen: 8080,
        gateways: { servers: [{ address: '127.0.0.1:1' }] },
        ingest: { servers: [{ address: '127.0.0.1:2' }] },
        ...over,
      }),
    )
    expect(r.code).toBe(2)
    expect(r.err).toMatch(message)
    expect(r.err).not.toMatch(/\n\s+at /)
  })

  it('unreadable or invalid JSON: one line, exit 1', () => {
    const bad = join(dir, 'bad.json')
    writeFileSync(bad, '{bad')
    for (const f of [bad, join(dir, 'missing.json')]) {
      const r = render('--config', f)
      expect(r.code).toBe(1)
      expect(r.err).toMatch(/^render: cannot read /)
      expect(r.err.trim().split('\n')).toHaveLength(1)
    }
  })
})

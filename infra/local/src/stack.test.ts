import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { MissingBinariesError, resolveStateDir, scale, StackError, status } from './stack.ts'

const dir = mkdtempSync(join(tmpdir(), 'touchline-stack-unit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('stack runner (no processes)', () => {
  it('names missing binaries with their apt-get packages', () => {
    const e = new MissingBinariesError([
      { binary: 'nats-server', aptPackage: 'nats-server' },
      { binary: 'nginx', aptPackage: 'nginx' },
    ])
    expect(e).toBeInstanceOf(StackError)
    expect(e.message).toContain('missing nats-server, nginx')
    expect(e.message).toContain('apt-get install -y nats-server nginx')
  })

  it('resolves the state directory against the current directory, default .stack', () => {
    expect(resolveStateDir(undefined)).toBe(join(process.cwd(), '.stack'))
    expect(resolveStateDir('/srv/x')).toBe('/srv/x')
  })

  it('reports a stack that is not there, and refuses to scale it', async () => {
    expect(await status({ stateDir: join(dir, 'none') })).toMatchObject({ running: false, healthy: false, gateways: 0, processes: [] })
    await expect(scale({ stateDir: join(dir, 'none'), gateways: 3 })).rejects.toThrow(/no stack in .*none; start one with `pnpm stack up`/)
    await expect(scale({ stateDir: dir, gateways: 0 })).rejects.toThrow(/--gateways must be 1-64/)
  })
})

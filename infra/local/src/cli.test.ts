/**
 * `pnpm stack` as an operator types it, for input that must be refused before anything starts:
 * a one-line message, exit status 2 for bad usage, never a stack trace, nothing left running.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { down, repoRoot } from './stack.ts'

const dir = mkdtempSync(join(tmpdir(), 'touchline-stack-cli-'))
afterAll(async () => {
  await down({ stateDir: join(dir, 'state') }).catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

function stack(...args: string[]) {
  const r = spawnSync(process.execPath, [join(repoRoot, 'infra/local/stack.ts'), ...args], { encoding: 'utf8', timeout: 30_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

describe('pnpm stack: bad input', () => {
  const sd = join(dir, 'state')
  it.each([
    [['up', '--gateways', '0'], /--gateways must be a whole number from 1 to 64, got "0"/],
    [['up', '--gateways', 'abc'], /--gateways must be a whole number from 1 to 64, got "abc"/],
    [['up', '--gateways', '1000'], /--gateways must be a whole number from 1 to 64, got "1000"/],
    [['up', '--gateways=-1'], /--gateways must be a whole number from 1 to 64, got "-1"/],
    [['scale', '--gateways', '0'], /--gateways must be a whole number from 1 to 64/],
    [['up', '--port', '99999'], /--port must be a whole number from 1 to 65535, got "99999"/],
    [['up', '--port', '0'], /--port must be a whole number from 1 to 65535, got "0"/],
    [['up', 'now'], /unexpected argument "now"/],
    [['scale', '--gateways', '3', '--strategy', 'least_conn'], /--strategy is not an option of scale/],
    [['down', '--gateways', '2'], /--gateways is not an option of down/],
    [['status', '--purge'], /--purge is not an option of status/],
    [['up', '--hash-key', '$arg_match'], /--hash-key and --no-consistent need --strategy hash/],
    [['up', '--strategy', 'ip_hash', '--no-consistent'], /--hash-key and --no-consistent need --strategy hash/],
    [['up', '--strategy', 'sticky'], /--strategy must be one of/],
    [['bogus'], /unknown command "bogus"/],
  ])('%j → exit 2, one clear line, nothing created', (args, message) => {
    // Should the runner ever accept these, it must not start a stack on the default port or build pages.
    const safety =
      args[0] === 'up' ? [...(args.some((a) => a.startsWith('--port')) ? [] : ['--port', '18999']), '--no-web', '--no-monitor'] : []
    const r = stack(...args, ...safety, '--state-dir', sd)
    expect(r.code).toBe(2)
    expect(r.err).toMatch(message)
    expect(r.err).not.toMatch(/\n\s+at /)
    expect(existsSync(sd)).toBe(false)
  })

  it('down with nothing up says so (exit 0)', () => {
    const r = stack('down', '--state-dir', join(dir, 'never'))
    expect(r.code).toBe(0)
    expect(r.out).toBe('nothing to stop\n')
  })

  it('a state directory that is a file: one line, exit 1, for up and down', () => {
    const file = join(dir, 'a-file')
    writeFileSync(file, 'x')
    for (const args of [['up', '--port', '18999', '--no-web'], ['down']]) {
      const r = stack(...args, '--state-dir', file)
      expect(r.code).toBe(1)
      expect(r.err).toMatch(/a-file (exists and )?is not a directory/)
      expect(r.err).not.toMatch(/\n\s+at /)
    }
  })

  it('a hash key nginx would refuse is refused before anything starts', () => {
    const r = stack('up', '--strategy', 'hash', '--hash-key', 'match', '--port', '18999', '--no-web', '--state-dir', sd)
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/nothing was started/)
    expect(r.err).toMatch(/gateways.hashKey: "match" has no variable/)
    expect(r.err).not.toMatch(/started /)
    expect(existsSync(join(sd, 'state.json'))).toBe(false)
  })
})

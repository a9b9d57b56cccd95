/**
 * SIGHUP in the embedded mode (a real `pnpm start` process): the API keys of
 * TOUCHLINE_API_KEYS_FILE and the banned-words list are read again, and the log says which; a
 * broken file is a warning that keeps the current keys. The environment is not re-read (it cannot
 * change in a running process), so nothing claims to have reloaded limits or the log level.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startService, waitFor } from '@touchline/testkit'
import { ensureWebBuilt } from '@touchline/web'
import { expect, it } from 'vitest'

interface LogLine {
  level: number
  msg: string
  [k: string]: unknown
}

it('rotates API keys from TOUCHLINE_API_KEYS_FILE on SIGHUP and logs what it reloaded', async () => {
  await ensureWebBuilt()
  const file = join(mkdtempSync(join(tmpdir(), 'touchline-keys-')), 'api-keys')
  writeFileSync(file, 'admin:old-admin-key-1\n', { mode: 0o600 })
  await using s = await startService('embedded', {
    env: { TOUCHLINE_API_KEYS: undefined, TOUCHLINE_API_KEYS_FILE: file, LOG_LEVEL: 'info' },
  })
  const create = (key: string, id: string) =>
    fetch(`${s.url}/api/v1/matches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, title: 'Rotation', home: 'A', away: 'B', startsAt: '2026-11-25T20:00:00Z' }),
    }).then((r) => r.status)
  const logs = (): LogLine[] =>
    s
      .output()
      .split('\n')
      .flatMap((l) => {
        try {
          const j = JSON.parse(l) as LogLine
          return typeof j.msg === 'string' ? [j] : []
        } catch {
          return []
        }
      })
  const logged = (what: string, pred: (l: LogLine) => boolean) => waitFor(what, () => logs().find(pred), 5000)

  expect(await create('old-admin-key-1', 'm-before')).toBe(201)
  expect(await create('new-admin-key-2', 'm-refused')).toBe(401)
  const bannedLoadsAtStart = logs().filter((l) => l.msg === 'banned words loaded').length

  writeFileSync(file, '# rotated\nadmin:new-admin-key-2\n')
  s.proc.child.kill('SIGHUP')
  const info = await logged('the keys reload', (l) => l.msg === 'SIGHUP: API keys reloaded from TOUCHLINE_API_KEYS_FILE')
  expect(info).toMatchObject({ level: 30, file, keys: 1 })
  expect(await create('new-admin-key-2', 'm-after')).toBe(201)
  expect(await create('old-admin-key-1', 'm-old-again')).toBe(401)
  // The banned-words list is read again too (the gateway logs it with its count).
  await waitFor(
    'the banned words reload',
    () => logs().filter((l) => l.msg === 'banned words loaded').length > bannedLoadsAtStart || undefined,
    5000,
  )
  // Nothing says limits or the log level were reloaded: they come from the environment.
  expect(logs().filter((l) => /SIGHUP|reloaded/.test(l.msg) && /limit|log level/i.test(l.msg))).toEqual([])

  // A broken file: a warning, and the current keys stay.
  writeFileSync(file, 'root:nope\n')
  s.proc.child.kill('SIGHUP')
  const warn = await logged('the refused reload', (l) => l.msg === 'SIGHUP: API keys not reloaded, keeping the current ones')
  expect(warn.level).toBe(40)
  expect(String(warn.err)).toMatch(/^TOUCHLINE_API_KEYS_FILE entry 1 must be admin/)
  expect(await create('new-admin-key-2', 'm-still')).toBe(201)
})

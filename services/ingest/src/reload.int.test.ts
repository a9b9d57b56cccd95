/**
 * Key rotation without a restart: ingest reads TOUCHLINE_API_KEYS_FILE at start and again on
 * SIGHUP (a real process; the embedded mode memory bus keeps it self-contained).
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startService, waitFor } from '@touchline/testkit'
import { expect, it } from 'vitest'

it('rotates API keys from TOUCHLINE_API_KEYS_FILE on SIGHUP, keeping connections and data', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'touchline-keys-')), 'api-keys')
  writeFileSync(file, 'admin:old-admin-key-1\n', { mode: 0o600 })
  await using ingest = await startService('ingest', { env: { TOUCHLINE_API_KEYS_FILE: file, LOG_LEVEL: 'info' } })
  const create = (key: string, id: string) =>
    fetch(`${ingest.url}/v1/matches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id, title: 'Rotation', home: 'A', away: 'B', startsAt: '2026-11-25T20:00:00Z' }),
    }).then((r) => r.status)

  expect(await create('old-admin-key-1', 'm-before')).toBe(201)
  expect(await create('new-admin-key-2', 'm-refused')).toBe(401)

  writeFileSync(file, '# rotated\nadmin:new-admin-key-2\n')
  ingest.proc.child.kill('SIGHUP')
  await waitFor('the new key to work', async () => ((await create('new-admin-key-2', 'm-after')) === 201 ? true : undefined), 5000)
  expect(await create('old-admin-key-1', 'm-old-again')).toBe(401)
  // Same process, same data: the match created before the reload is still there.
  const list = await fetch(`${ingest.url}/v1/matches`).then((r) => r.json() as Promise<{ matches: Array<{ id: string }> }>)
  expect(list.matches.map((m) => m.id).sort()).toEqual(['m-after', 'm-before'])

  // A broken file on SIGHUP keeps the current keys (logged), never a crash.
  writeFileSync(file, 'root:nope\n')
  ingest.proc.child.kill('SIGHUP')
  await waitFor('the reload error to be logged', () => (ingest.output().includes('not reloaded') ? true : undefined), 5000)
  expect(await create('new-admin-key-2', 'm-still')).toBe(201)

  // A file caught empty (a rotation half-written) keeps the current keys too: nobody is locked out.
  writeFileSync(file, '# rotating…\n')
  ingest.proc.child.kill('SIGHUP')
  await waitFor('the empty file to be logged', () => (ingest.output().includes('holds no key') ? true : undefined), 5000)
  expect(await create('new-admin-key-2', 'm-still-2')).toBe(201)
})

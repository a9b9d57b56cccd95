import { createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import type { Alert } from '../types.ts'
import { emailChannel } from './email.ts'

const alert: Alert = {
  id: 'gw:down:1',
  type: 'down',
  target: { name: 'gw', kind: 'gateway', target: 'http://127.0.0.1:1', discovered: false },
  state: 'down',
  previous: 'up',
  since: new Date().toISOString(),
  at: new Date().toISOString(),
  message: 'gw is DOWN',
  monitor: { host: 'h', version: '0' },
}

const servers: Server[] = []
afterEach(() => {
  for (const s of servers.splice(0)) s.close()
})

/** A TCP server that counts connections and closes each at once (an SMTP server that is gone). */
async function refusingServer(): Promise<{ port: number; connections: Socket[] }> {
  const connections: Socket[] = []
  const server = createServer((s) => {
    connections.push(s)
    s.destroy()
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { port: (server.address() as AddressInfo).port, connections }
}

function channelTo(port: number) {
  return emailChannel({
    smtpUrl: `smtp://127.0.0.1:${port}`,
    to: ['ops@example.org'],
    from: 'monitor@example.org',
    timeoutMs: 500,
    checkMs: 60_000,
    retries: 0,
  })
}

describe('e-mail channel', () => {
  it('hands nothing to SMTP once the attempt is aborted, and an SMTP failure after an abort is never unhandled', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown) => unhandled.push(err)
    process.on('unhandledRejection', onUnhandled)
    try {
      const smtp = await refusingServer()
      const email = channelTo(smtp.port)
      // Already aborted (the monitor stopping): no connection at all.
      await expect(email.send(alert, AbortSignal.abort())).rejects.toThrow()
      await new Promise((r) => setTimeout(r, 100))
      expect(smtp.connections).toHaveLength(0)

      // Aborted while SMTP is failing: the send settles with the abort, the SMTP error after it is dropped.
      const ac = new AbortController()
      const sending = email.send(alert, ac.signal)
      ac.abort()
      await expect(sending).rejects.toThrow()
      await new Promise((r) => setTimeout(r, 300))
      await email.close?.()
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })
})

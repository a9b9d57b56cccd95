/**
 * How fast this machine is at the two kinds of work the benches measure, recorded with every
 * result so that figures from different VMs of "the same" kind can be compared: the project's VMs
 * differ by up to ~2× in CPU per delivered message (docs/performance.md, "Machines"), which is
 * more than most before/after changes.
 *
 * - `jsUs`: CPU µs of one JSON round trip of a ~500-byte event (stringify + parse + a byte search):
 *   user-space JavaScript, what ingest and the load generators spend most of their time on.
 * - `writeUs`: CPU µs of one 500-byte `write` on a loopback TCP connection, its reading included
 *   (both ends in this process): the system-call and kernel-network cost that dominates fan-out.
 *
 * Each is the best of three rounds (the least disturbed by other work), CPU time from
 * `process.cpuUsage` so that a busy machine slows the rounds without inflating the figure much.
 */
import { once } from 'node:events'
import { createServer, connect, type Socket } from 'node:net'

export interface Calibration {
  jsUs: number
  writeUs: number
}

const EVENT = {
  type: 'event',
  matchId: 'calibration',
  seq: 12345,
  kind: 'commentary',
  at: '2026-01-01T00:00:00.000Z',
  data: { text: 'x'.repeat(380), minute: 42, bench_t: 123456789 },
}

function cpuUs(): number {
  const u = process.cpuUsage()
  return u.user + u.system
}

function jsRound(n: number): number {
  const t0 = cpuUs()
  let sink = 0
  for (let i = 0; i < n; i++) {
    EVENT.seq = i
    const s = JSON.stringify(EVENT)
    sink += (JSON.parse(s) as { seq: number }).seq + s.indexOf('"bench_t":')
  }
  if (sink === -1) throw new Error('unreachable')
  return (cpuUs() - t0) / n
}

async function writeRound(n: number): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  const accepted = once(server, 'connection') as Promise<[Socket]>
  const client = connect(port, '127.0.0.1')
  await once(client, 'connect')
  const [peer] = await accepted
  client.setNoDelay(true)
  const chunk = Buffer.alloc(500, 0x61)
  let received = 0
  const done = new Promise<void>((resolve) => {
    peer.on('data', (b: Buffer) => {
      received += b.byteLength
      if (received >= n * chunk.byteLength) resolve()
    })
  })
  const t0 = cpuUs()
  // In batches, yielding between them, so that the reader runs as a real one would and the
  // writer's kernel buffer never fills (every write is its own syscall, none queued in Node).
  for (let sent = 0; sent < n; ) {
    for (let j = 0; j < 100 && sent < n; j++, sent++) client.write(chunk)
    await new Promise((r) => setImmediate(r))
  }
  await done
  const us = (cpuUs() - t0) / n
  client.destroy()
  peer.destroy()
  server.close()
  return us
}

const round2 = (x: number) => Math.round(x * 100) / 100

/** About half a second of work. */
export async function calibrate(): Promise<Calibration> {
  let js = Number.POSITIVE_INFINITY
  let write = Number.POSITIVE_INFINITY
  jsRound(2000) // warm up the JIT
  await writeRound(500)
  for (let i = 0; i < 3; i++) {
    js = Math.min(js, jsRound(20_000))
    write = Math.min(write, await writeRound(5_000))
  }
  return { jsUs: round2(js), writeUs: round2(write) }
}

/** One line for a report header. */
export function describeCalibration(c: Calibration | undefined): string {
  if (!c) return 'Calibration: not recorded.'
  return `Calibration (bench/lib/calibrate.ts, CPU µs): JSON round trip of a 500-byte event ${c.jsUs}, 500-byte loopback write with its read ${c.writeUs}.`
}

/**
 * The load process of `pnpm bench broker` (forked by bench/broker.ts with the Node flags under
 * test): appends events open loop at a fixed rate, straight to NATS, no HTTP in between, and
 * measures each append from its SCHEDULED time (no coordinated omission) into an HDR histogram.
 *
 *   jetstream  a bare nats.js JetStream publish per event (Nats-Msg-Id set, no per-match
 *              ordering): what the broker and the client library alone give on this machine
 *   bus        `NatsBus.appendEvent` with a UUIDv7 idempotency key, as ingest's route calls it
 *              (per-match seq, board, key record, live publish): ingest without HTTP
 *
 * Protocol with the driver (IPC): driver → { t: 'run', cfg } ; child → { t: 'window', phase:
 * 'start' | 'end' } when the measuring window opens and closes (the driver meters CPU between
 * them) ; child → { t: 'result', … } ; then it exits.
 */
import { randomUUID } from 'node:crypto'
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { connectNatsBus } from '../packages/bus/src/index.ts'
import { newIdempotencyKey } from '../packages/protocol/src/idempotency.ts'
import { encodeHistogram, newHistogram } from './lib/histogram.ts'

export type BrokerMode = 'jetstream' | 'bus'

export interface BrokerClientConfig {
  servers: string
  mode: BrokerMode
  rate: number
  warmupSec: number
  durationSec: number
  matches: number
  /** the event's text (the same ~230 bytes as bench/ingest.ts posts) */
  text: string
}

export interface BrokerClientResult {
  t: 'result'
  /** appends scheduled in the window, and how many of those were acknowledged */
  scheduled: number
  acked: number
  errors: number
  firstError: string | undefined
  latency: string
  /** worst latency (ms) of the appends due in each 500 ms of the window */
  worstByHalfSecond: number[]
  /** this process's event-loop delay in the window, ms */
  loopDelayP99Ms: number
  loopDelayMaxMs: number
  /** GC pauses that started in the window */
  gc: { n: number; totalMs: number; maxMs: number; over5ms: number }
}

const GC_KIND: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
}

type Append = (n: number) => Promise<unknown>

async function appender(cfg: BrokerClientConfig): Promise<{ append: Append; close: () => Promise<void> }> {
  const ids = Array.from({ length: cfg.matches }, (_, i) => `brk-${i}`)
  if (cfg.mode === 'bus') {
    const bus = await connectNatsBus({ servers: cfg.servers, prefix: 'brk', name: 'bench-broker' })
    const now = new Date().toISOString()
    for (const id of ids) await bus.createMatch({ id, title: id, home: 'Home', away: 'Away', startsAt: now, createdAt: now })
    return {
      append: (n) =>
        bus.appendEvent(
          ids[n % ids.length] as string,
          { kind: 'commentary', data: { text: `${cfg.text} (${n})` } },
          { idempotencyKey: newIdempotencyKey() },
        ),
      close: () => bus.close(),
    }
  }
  const nc = await connect({ servers: cfg.servers, name: 'bench-broker' })
  // The same limits as the bus's events stream (packages/bus/src/nats.ts #ensure), file storage.
  await (await jetstreamManager(nc)).streams.add({
    name: 'BRK_EVENTS',
    subjects: ['brk.ev.>'],
    duplicate_window: 120e9,
    allow_direct: true,
    max_msg_size: 64 * 1024,
  })
  const js = jetstream(nc)
  const enc = new TextEncoder()
  return {
    append: (n) => {
      const body = enc.encode(JSON.stringify({ kind: 'commentary', data: { text: `${cfg.text} (${n})` } }))
      return js.publish(`brk.ev.${ids[n % ids.length]}`, body, { msgID: randomUUID() })
    },
    close: () => nc.close(),
  }
}

async function run(cfg: BrokerClientConfig): Promise<BrokerClientResult> {
  const { append, close } = await appender(cfg)
  const hist = newHistogram()
  const worst: number[] = []
  const eld = monitorEventLoopDelay({ resolution: 1 })
  const gc = { n: 0, totalMs: 0, maxMs: 0, over5ms: 0 }
  let windowOpen = false
  const gcObserver = new PerformanceObserver((list) => {
    if (!windowOpen) return
    for (const e of list.getEntries()) {
      const kind = GC_KIND[(e as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other'
      if (kind === 'weakcb') continue
      gc.n++
      gc.totalMs += e.duration
      gc.maxMs = Math.max(gc.maxMs, e.duration)
      if (e.duration > 5) gc.over5ms++
    }
  })
  gcObserver.observe({ entryTypes: ['gc'] })

  const total = Math.round(cfg.rate * (cfg.warmupSec + cfg.durationSec))
  const firstMeasured = Math.round(cfg.rate * cfg.warmupSec)
  let scheduled = 0
  let acked = 0
  let errors = 0
  let firstError: string | undefined
  let settled = 0
  const t0 = performance.now() + 20
  await new Promise<void>((resolve) => {
    let next = 0
    const settle = () => {
      if (++settled === total) resolve()
    }
    const tick = () => {
      const now = performance.now()
      if (!windowOpen && next >= firstMeasured) {
        windowOpen = true
        eld.enable()
        process.send?.({ t: 'window', phase: 'start' })
      }
      while (next < total && t0 + (next * 1000) / cfg.rate <= now) {
        const n = next++
        const due = t0 + (n * 1000) / cfg.rate
        const measured = n >= firstMeasured
        if (measured) scheduled++
        append(n).then(
          () => {
            if (measured) {
              acked++
              const ms = performance.now() - due
              hist.recordValue(Math.max(1, Math.round(ms * 1000)))
              const b = Math.floor((due - t0 - cfg.warmupSec * 1000) / 500)
              worst[b] = Math.max(worst[b] ?? 0, ms)
            }
            settle()
          },
          (err: unknown) => {
            if (measured) {
              errors++
              firstError ??= String((err as Error)?.message ?? err)
            }
            settle()
          },
        )
      }
      if (next < total) setTimeout(tick, 1)
      else {
        eld.disable()
        process.send?.({ t: 'window', phase: 'end' })
      }
    }
    setTimeout(tick, 20)
  })
  windowOpen = false
  gcObserver.disconnect()
  await close()
  return {
    t: 'result',
    scheduled,
    acked,
    errors,
    firstError,
    latency: encodeHistogram(hist),
    worstByHalfSecond: Array.from(worst, (w) => Math.round(w ?? 0)),
    loopDelayP99Ms: eld.percentile(99) / 1e6,
    loopDelayMaxMs: eld.max / 1e6,
    gc,
  }
}

process.once('message', (m: { t: 'run'; cfg: BrokerClientConfig }) => {
  run(m.cfg).then(
    (r) => process.send?.(r, () => process.exit(0)),
    (err: unknown) => {
      process.send?.({ t: 'failed', message: String((err as Error)?.stack ?? err) }, () => process.exit(1))
    },
  )
})

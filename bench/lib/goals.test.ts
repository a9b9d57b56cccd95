/**
 * The chart's target checks and run choice, on hand-made result records: which runs a target row
 * accepts, what it divides by what, and which run of a configuration is shown. No bench is run.
 */
import { describe, expect, it } from 'vitest'
import type { TargetResult } from '../fanout.ts'
import { renderFigures } from '../chart.ts'
import { checkGoals, chosenRuns, configKey, type FanoutRecord, latestPoints } from './goals.ts'
import { counterGrowth, parseCounters } from './metrics.ts'

const z = { count: 1, p50: 1, p90: 1, p99: 1, p999: 1, max: 1, mean: 1 }

function result(target: string, over: Partial<TargetResult> & { p99?: number; p50?: number; chatPerSec?: number } = {}): TargetResult {
  const { p99, p50, chatPerSec, ...rest } = over
  return {
    target: target as TargetResult['target'],
    describe: target,
    serverProcesses: 1,
    connections: { requested: 100, open: 100, failed: 0, closed: 0, establishSec: 1, perSec: 100 },
    events: { posted: 10, accepted: 10, postErrors: 0, offeredPerSec: 10, lastSeq: 10 },
    delivered: { perSec: 1000, inWindow: 1000, expectedInWindow: 1000, ratio: 1, bytesPerMessage: 500 },
    latency: { ...z, p50: p50 ?? 1, p99: p99 ?? 10 },
    chat: { sent: chatPerSec ? 1000 : 0, received: 0, inWindow: 0, perSec: chatPerSec ?? 0, latency: z },
    cpu: { gateway: 50 },
    machineBusyPct: 100,
    othersPct: 0,
    memory: { rssBeforeMiB: 100, rssIdleMiB: 101, rssEndMiB: 101, perConnKiB: 5, marginalPerConnKiB: 5 },
    integrity: { gaps: 0, duplicates: 0, missingAtEnd: 0, missingClosed: 0, closeReasons: {} },
    otherFrames: {},
    timeline: [],
    errors: [],
    histogram: '',
    notes: [],
    ...rest,
  }
}

let n = 0
function record(params: Partial<FanoutRecord['params']>, results: TargetResult[]): FanoutRecord {
  n++
  return {
    scenario: 'fanout',
    params: { connections: 10000, gateways: 1, rate: 10, duration: 10, viaNginx: false, saturate: false, chat: 0, ...params },
    tables: [],
    data: { results },
    file: `run-${n}.json`,
    meta: {
      command: '',
      startedAt: new Date(Date.UTC(2026, 0, 1) + n * 1000).toISOString(), // in creation order, however many
      finishedAt: '',
      commit: undefined,
      dirty: undefined,
      system: { host: 'h', os: '', kernel: '', cpuModel: '', cores: 2, memGiB: 1, node: 'v24', fdLimit: '', loadavg: [] },
      busyAtStart: [],
    },
  }
}

const goal = (records: FanoutRecord[], starts: string) => {
  const g = checkGoals(latestPoints(records)).filter((x) => x.goal.startsWith(starts))
  expect(g, starts).toHaveLength(1)
  return g[0]!
}

describe('two gateways behind nginx', () => {
  const sat = (gateways: number, tl: number, ws: number) =>
    record({ saturate: true, viaNginx: true, gateways, window: 4 }, [
      result('touchline', { delivered: { ...result('x').delivered, perSec: tl } }),
      result('ws-send', { delivered: { ...result('x').delivered, perSec: ws } }),
    ])

  it('accepts only a 2-gateway run at 10,000', () => {
    expect(goal([sat(1, 95, 100)], 'two gateways behind nginx').status).toBe('not measured')
    const g = goal([sat(1, 50, 100), sat(2, 95, 100)], 'two gateways behind nginx')
    expect(g.status).toBe('met')
    expect(g.evidence).toContain('(0.95×)')
  })

  it('is missed under 90 % of ws-send', () => {
    expect(goal([sat(2, 89, 100)], 'two gateways behind nginx').status).toBe('missed')
  })
})

describe('two gateways at 10 events/s against Socket.IO', () => {
  const steady = (tl: Partial<TargetResult> & { p99?: number }, sioP99: number) =>
    record({ gateways: 2 }, [result('touchline', tl), result('socketio', { p99: sioP99 })])

  it('is met at a third of its p99 with nothing dropped', () => {
    expect(goal([steady({ p99: 100 }, 300)], 'two gateways, 10,000 spectators × 10 ev/s').status).toBe('met')
  })

  it('is missed above a third, or when anything was dropped', () => {
    expect(goal([steady({ p99: 101 }, 300)], 'two gateways, 10,000 spectators × 10 ev/s').status).toBe('missed')
    const gap = { ...result('x').integrity, gaps: 3 }
    expect(goal([steady({ p99: 10, integrity: gap }, 300)], 'two gateways, 10,000 spectators × 10 ev/s').status).toBe('missed')
  })

  it('ignores one-gateway runs', () => {
    const one = record({ gateways: 1 }, [result('touchline', { p99: 1 }), result('socketio', { p99: 300 })])
    expect(goal([one], 'two gateways, 10,000 spectators × 10 ev/s').status).toBe('not measured')
  })
})

describe('steady 5,000 × 10 ev/s, judged over repeated runs', () => {
  const name = 'steady 5,000 × 10 ev/s'
  const run = (tl: number, send: number, sio: number, over: Partial<TargetResult> = {}) =>
    record({ connections: 5000 }, [
      result('touchline', { p99: tl, ...over }),
      result('ws-send', { p99: send }),
      result('socketio', { p99: sio }),
    ])
  const judge = (records: FanoutRecord[]) => checkGoals(latestPoints(records), records).filter((x) => x.goal.startsWith(name))[0]!

  it('one run: that run decides', () => {
    expect(judge([run(40, 50, 100)]).status).toBe('met')
    expect(judge([run(50, 50, 100)]).status).toBe('missed') // not under half
  })

  it('several runs: the median ratio decides, both ways, and every run is listed', () => {
    // newest run misses (0.60× Socket.IO), the median (0.45×) meets
    const a = judge([run(45, 50, 100), run(40, 50, 90), run(60, 60, 100)])
    expect(a.status).toBe('met')
    expect(a.evidence).toContain('median of the newest 3 quiet runs')
    expect(a.evidence).toContain('(1.00×, 0.60×)')
    // newest run meets, the median does not
    expect(judge([run(60, 60, 100), run(55, 50, 100), run(40, 50, 100)]).status).toBe('missed')
    // the ws-send half as well: median 1.25× ws-send misses however fast against Socket.IO
    expect(judge([run(50, 40, 1000), run(50, 40, 1000), run(40, 40, 1000)]).status).toBe('missed')
  })

  it('nothing dropped must hold in every run, not in the median', () => {
    const gap = { ...result('x').integrity, gaps: 1 }
    expect(judge([run(10, 50, 100, { integrity: gap }), run(10, 50, 100), run(10, 50, 100)]).status).toBe('missed')
  })

  it('skips noisy runs and runs lacking a target, and reads only the newest five', () => {
    const noisy = run(90, 50, 100, { othersPct: 80 })
    const partial = record({ connections: 5000 }, [result('touchline', { p99: 90 }), result('ws-send', { p99: 50 })])
    const old = [run(90, 50, 100), run(90, 50, 100), run(90, 50, 100)]
    const recent = [run(40, 50, 100), run(40, 50, 100), run(40, 50, 100), run(40, 50, 100), run(40, 50, 100)]
    const g = judge([...old, noisy, partial, ...recent])
    expect(g.status).toBe('met')
    expect(g.evidence).toContain('newest 5 quiet runs')
    expect(g.evidence).not.toContain(noisy.file)
  })
})

describe('chat-heavy', () => {
  const counters = (refused: number) => ({
    window: { touchline_gateway_socket_writes_total: 100, touchline_gateway_frames_sent_total: 250 },
    run: { touchline_gateway_chat_refused_total: refused },
  })
  const chatRun = (o: { tl: number; nc: number; tlP99?: number; ncP99?: number; refused?: number }) =>
    record({ connections: 5000, chat: 100 }, [
      result('touchline', { chatPerSec: o.tl, p99: o.tlP99 ?? 50, gatewayCounters: counters(o.refused ?? 0) }),
      result('touchline-nocoalesce', { chatPerSec: o.nc, p99: o.ncP99 ?? 50, gatewayCounters: counters(0) }),
      result('ws-send', { chatPerSec: o.nc }),
    ])

  it('compares chat msgs/s of the two variants', () => {
    expect(goal([chatRun({ tl: 200, nc: 100 })], 'chat-heavy (5,000 spectators, 10 ev/s + 100 chat/s, 1 gateway): delivered').status).toBe(
      'met',
    )
    const missed = goal([chatRun({ tl: 199, nc: 100 })], 'chat-heavy (5,000 spectators, 10 ev/s + 100 chat/s, 1 gateway): delivered')
    expect(missed.status).toBe('missed')
    expect(missed.evidence).toContain('2.50 frames per write')
  })

  it('does not count a run whose chatters were rate-limited', () => {
    const g = goal(
      [chatRun({ tl: 400, nc: 100, refused: 50 })],
      'chat-heavy (5,000 spectators, 10 ev/s + 100 chat/s, 1 gateway): delivered',
    )
    expect(g.status).toBe('not measured')
    expect(g.evidence).toContain('refused 5.00 %')
  })

  it('counts only rate-limit refusals as throttling when the run kept refusals per code', () => {
    const delivered = 'chat-heavy (5,000 spectators, 10 ev/s + 100 chat/s, 1 gateway): delivered'
    const withCodes = (codes: Record<string, number>) => {
      const r = chatRun({ tl: 400, nc: 100 })
      const nc = r.data.results[1] as TargetResult
      const total = Object.values(codes).reduce((a, b) => a + b, 0)
      nc.gatewayCounters = {
        window: nc.gatewayCounters?.window ?? {},
        run: {
          touchline_gateway_chat_refused_total: total,
          ...Object.fromEntries(Object.entries(codes).map(([c, v]) => [`touchline_gateway_chat_refused_total{code="${c}"}`, v])),
        },
      }
      return goal([r], delivered)
    }
    // a variant too busy to store chat in time refused it: its own result, the run still compares
    const busy = withCodes({ unavailable: 136 })
    expect(busy.status).toBe('met')
    expect(busy.evidence).toContain('chat refused 0 vs unavailable 136')
    // the chatters were throttled: nothing to compare
    expect(withCodes({ unavailable: 100, rate_limited: 50 }).status).toBe('not measured')
  })

  it('holds events to 1.2 × the event p99 of the variant that holds nothing back', () => {
    const held = 'chat-heavy (5,000 spectators, 10 ev/s + 100 chat/s, 1 gateway): match events'
    expect(goal([chatRun({ tl: 1, nc: 1, tlP99: 60, ncP99: 50 })], held).status).toBe('met')
    expect(goal([chatRun({ tl: 1, nc: 1, tlP99: 61, ncP99: 50 })], held).status).toBe('missed')
  })

  it('is not measured without the variant, and ignores the chat-free steady runs', () => {
    const without = record({ connections: 5000, chat: 100 }, [result('touchline', { chatPerSec: 500 })])
    const noChat = record({ connections: 5000 }, [result('touchline'), result('touchline-nocoalesce')])
    const g = checkGoals(latestPoints([without, noChat])).filter((x) => x.goal.startsWith('chat-heavy'))
    expect(g.map((x) => x.status)).toEqual(['not measured', 'not measured'])
  })

  it('shows a run with both variants over a quieter or newer one without', () => {
    const both = chatRun({ tl: 200, nc: 100 })
    for (const r of both.data.results) r.othersPct = 90 // noisy
    const quietWithout = record({ connections: 5000, chat: 100 }, [
      result('touchline', { chatPerSec: 500 }),
      result('ws-send'),
      result('socketio'),
    ])
    const chosen = chosenRuns([both, quietWithout])
    expect(chosen.get(configKey(both))?.file).toBe(both.file)
    // without chat, the variant does not matter: the quiet run wins
    const a = record({ connections: 5000 }, [result('touchline'), result('ws-send'), result('touchline-nocoalesce', { othersPct: 90 })])
    const b = record({ connections: 5000 }, [result('touchline'), result('ws-send')])
    expect(chosenRuns([a, b]).get(configKey(a))?.file).toBe(b.file)
  })

  it('never shows a touchline-only experiment over a run with something to compare, however quiet or new', () => {
    const full = record({ saturate: true }, [result('touchline', { othersPct: 90 }), result('ws-send'), result('ws-prebuilt')])
    const alone = record({ saturate: true }, [result('touchline')])
    expect(chosenRuns([full, alone]).get(configKey(full))?.file).toBe(full.file)
    // alone, it is still shown (memory, connections)
    expect(chosenRuns([alone]).get(configKey(alone))?.file).toBe(alone.file)
  })

  it('puts chat runs in their own figures table, one row per target', () => {
    const r = chatRun({ tl: 200, nc: 100 })
    const md = renderFigures([r], latestPoints([r]))
    const table = md.slice(md.indexOf('#### With chat'), md.indexOf('#### Connections and memory'))
    expect(table).toContain('| touchline-nocoalesce | 100 |')
    expect(table).toContain('| touchline | 200 |')
    expect(md).not.toContain('#### Steady rate')
  })
})

describe('gateway counters from /metrics', () => {
  it('sums each wanted counter over its label sets (chat refusals also per code) and skips the rest', () => {
    const text = [
      '# HELP touchline_gateway_chat_refused_total chat messages refused',
      '# TYPE touchline_gateway_chat_refused_total counter',
      'touchline_gateway_chat_refused_total{code="rate_limited"} 3',
      'touchline_gateway_chat_refused_total{code="too_long"} 2',
      'touchline_gateway_socket_writes_total 1234',
      'touchline_gateway_frames_sent_total 2e3',
      'process_cpu_seconds_total 5',
    ].join('\n')
    expect(parseCounters(text)).toEqual({
      touchline_gateway_chat_refused_total: 5,
      'touchline_gateway_chat_refused_total{code="rate_limited"}': 3,
      'touchline_gateway_chat_refused_total{code="too_long"}': 2,
      touchline_gateway_socket_writes_total: 1234,
      touchline_gateway_frames_sent_total: 2000,
    })
  })

  it('growth only for counters both readings have', () => {
    expect(counterGrowth({ a: 1, b: 5 }, { a: 4, c: 9 })).toEqual({ a: 3 })
  })
})

import { EventEmitter } from 'node:events'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { handleSignals, type SignalOptions } from './shutdown.ts'
import { captureLog } from './testing.ts'

class FakeProcess extends EventEmitter {
  exitCode: number | string | null | undefined
  exits: number[] = []
  exit(code: number): void {
    this.exits.push(code)
  }
}

function setup(options: Partial<SignalOptions> = {}) {
  const proc = new FakeProcess()
  const { log, lines } = captureLog()
  const drain = vi.fn(() => Promise.resolve())
  handleSignals({ log, graceMs: 5000, drain, process: proc, ...options })
  const msgs = () => lines.map((l) => l.msg)
  return { proc, lines, msgs, drain }
}

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

describe('handleSignals', () => {
  it('drains once on SIGTERM or SIGINT, then exits 0 shortly after', async () => {
    const { proc, lines, msgs, drain } = setup({ drainingInfo: () => ({ connections: 3 }) })
    proc.emit('SIGTERM', 'SIGTERM')
    proc.emit('SIGINT', 'SIGINT')
    proc.emit('SIGTERM', 'SIGTERM')
    expect(drain).toHaveBeenCalledTimes(1)
    expect(lines[0]).toMatchObject({ msg: 'draining', signal: 'SIGTERM', connections: 3 })
    await vi.advanceTimersByTimeAsync(499)
    expect(msgs()).toEqual(['draining', 'stopped'])
    expect(proc.exits).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(proc.exits).toEqual([0])
  })

  it('waits exitAfterMs after a clean drain', async () => {
    const { proc } = setup({ exitAfterMs: 1000 })
    proc.emit('SIGINT', 'SIGINT')
    await vi.advanceTimersByTimeAsync(999)
    expect(proc.exits).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(proc.exits).toEqual([0])
  })

  it('exits 1 when the drain fails', async () => {
    const { proc, lines } = setup({ drain: () => Promise.reject(new Error('boom')) })
    proc.emit('SIGTERM', 'SIGTERM')
    await vi.advanceTimersByTimeAsync(0)
    expect(lines[1]).toMatchObject({ msg: 'error while closing', err: { message: 'boom' } })
    expect(proc.exitCode).toBe(1)
    await vi.advanceTimersByTimeAsync(500)
    expect(proc.exits).toEqual([1])
  })

  it('exits 1 with an error line when the drain outlasts graceMs', async () => {
    const { proc, lines } = setup({ graceMs: 3000, drain: () => new Promise(() => {}) })
    proc.emit('SIGTERM', 'SIGTERM')
    await vi.advanceTimersByTimeAsync(2999)
    expect(proc.exits).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(proc.exits).toEqual([1])
    expect(lines.at(-1)).toMatchObject({ level: 50, msg: 'drain took too long: exiting', graceMs: 3000 })
  })

  it('SIGHUP reloads; a reload that throws keeps the configuration, one that rejects is logged, neither stops the process', async () => {
    let outcome: 'ok' | 'throw' | 'reject' = 'ok'
    const reload = vi.fn(() => {
      if (outcome === 'throw') throw new Error('PORT must be a number')
      return outcome === 'reject' ? Promise.reject(new Error('banned words unreadable')) : Promise.resolve()
    })
    const { proc, lines, drain } = setup({ reload })
    proc.emit('SIGHUP', 'SIGHUP')
    outcome = 'throw'
    proc.emit('SIGHUP', 'SIGHUP')
    outcome = 'reject'
    proc.emit('SIGHUP', 'SIGHUP')
    await vi.advanceTimersByTimeAsync(0)
    expect(reload).toHaveBeenCalledTimes(3)
    expect(lines).toEqual([
      expect.objectContaining({
        level: 50,
        msg: 'SIGHUP: configuration not reloaded, keeping the current one',
        err: 'PORT must be a number',
      }),
      expect.objectContaining({
        level: 50,
        msg: 'SIGHUP: reload failed',
        err: expect.objectContaining({ message: 'banned words unreadable' }),
      }),
    ])
    expect(drain).not.toHaveBeenCalled()
    expect(proc.exits).toEqual([])
  })

  it('without reload leaves SIGHUP alone', () => {
    const { proc } = setup()
    expect(proc.listenerCount('SIGHUP')).toBe(0)
    expect(proc.listenerCount('SIGTERM')).toBe(1)
  })
})

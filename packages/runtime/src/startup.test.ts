import { ConfigError, int, loadConfig } from '@touchline/config'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { configOrExit } from './startup.ts'

describe('configOrExit', () => {
  afterEach(() => {
    vi.restoreAllMocks()
  })

  function capture() {
    const lines: string[] = []
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk))
      return true
    })
    return lines
  }

  it('prints one line per warning and goes on', () => {
    const lines = capture()
    const spec = { WS_PORT: int({ default: 1, min: 0, max: 65535 }) }
    const cfg = configOrExit('gateway', () => loadConfig(spec, { WS_PROT: '2', WS_PORT: '3' }))
    expect(cfg.WS_PORT).toBe(3)
    expect(lines).toEqual([
      'gateway: configuration warning: WS_PROT is not a variable of this service and is ignored (did you mean WS_PORT?)\n',
    ])
  })

  it('exits 78 with one line naming the variable', () => {
    const lines = capture()
    const exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Error(`exit ${code}`)
    })
    expect(() =>
      configOrExit('ingest', () => {
        throw new ConfigError([{ variable: 'PORT', problem: 'must be a whole number, got "x"' }])
      }),
    ).toThrow('exit 78')
    expect(exit).toHaveBeenCalledWith(78)
    expect(lines).toEqual(['ingest: configuration error: PORT must be a whole number, got "x"\n'])
  })
})

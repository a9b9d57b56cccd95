import { describe, expect, it } from 'vitest'
import { monitorSpec } from '../../monitor/src/config.ts'
import { MONITOR_DEFAULT_PORT, viteConfig } from './build-config.ts'

describe('the vite dev server proxy', () => {
  const proxy = (env: NodeJS.ProcessEnv) => viteConfig(undefined, env).server?.proxy as Record<string, { target: string }>

  it("sends /monitor to a monitor on the monitor's own default PORT unless TOUCHLINE_DEV_MONITOR says otherwise", () => {
    expect(String(MONITOR_DEFAULT_PORT)).toBe(monitorSpec.PORT.defaultText)
    expect(proxy({})['/monitor']?.target).toBe(`http://127.0.0.1:${monitorSpec.PORT.defaultText}`)
    expect(proxy({ TOUCHLINE_DEV_MONITOR: 'http://10.0.0.9:9000' })['/monitor']?.target).toBe('http://10.0.0.9:9000')
  })
})

import { describe, expect, it } from 'vitest'
import { calibrate, describeCalibration } from './calibrate.ts'

describe('calibrate', () => {
  it('measures positive, finite CPU µs for both kinds of work and describes them in one line', async () => {
    const c = await calibrate()
    for (const v of [c.jsUs, c.writeUs]) {
      expect(Number.isFinite(v)).toBe(true)
      expect(v).toBeGreaterThan(0)
    }
    expect(describeCalibration(c)).toContain(`${c.jsUs}`)
    expect(describeCalibration(undefined)).toBe('Calibration: not recorded.')
  })
})

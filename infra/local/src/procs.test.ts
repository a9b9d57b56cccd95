import { spawn } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { owns, stopProcess } from './procs.ts'

describe('owns', () => {
  it('matches the marker as a whole word, not as a prefix of another state directory', async () => {
    const child = spawn('sleep', ['30'], { env: { PATH: process.env.PATH, TOUCHLINE_STACK_DIR: '/x/.stack2' }, stdio: 'ignore' })
    const pid = child.pid as number
    try {
      await new Promise((r) => setTimeout(r, 100))
      expect(owns(pid, 'TOUCHLINE_STACK_DIR=/x/.stack2')).toBe(true)
      expect(owns(pid, 'TOUCHLINE_STACK_DIR=/x/.stack')).toBe(false)
    } finally {
      await stopProcess(pid, 2000)
    }
  })
})

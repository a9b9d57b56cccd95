/** A pino logger that keeps its lines, for the tests in this package. */
import { Writable } from 'node:stream'
import pino, { type Logger } from 'pino'

export interface Line {
  level: number
  msg: string
  [field: string]: unknown
}

export function captureLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Line)
      done()
    },
  })
  return { log: pino({ level: 'info' }, sink), lines }
}

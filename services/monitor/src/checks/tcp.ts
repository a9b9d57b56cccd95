/** TCP: the port accepts a connection (what the original monitor checked, every 2 s). */
import { connect } from 'node:net'
import type { Check, Observation } from '../types.ts'
import { errorText, performance, since } from './util.ts'

export function parseHostPort(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(':')
  return { host: target.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(target.slice(i + 1)) }
}

export function tcpCheck(target: string): Check {
  const { host, port } = parseHostPort(target)
  return {
    run(signal) {
      const t0 = performance.now()
      return new Promise<Observation>((resolve) => {
        const socket = connect({ host, port })
        const finish = (obs: Observation) => {
          signal.removeEventListener('abort', onAbort)
          socket.destroy()
          resolve(obs)
        }
        const onAbort = () => finish({ result: 'fail', error: `timed out connecting to ${target}`, latencyMs: since(t0) })
        signal.addEventListener('abort', onAbort, { once: true })
        socket.once('connect', () => finish({ result: 'ok', latencyMs: since(t0) }))
        socket.once('error', (err) => finish({ result: 'fail', error: errorText(err), latencyMs: since(t0) }))
      })
    },
  }
}

/**
 * Signals for a service's main, the same in every service:
 *
 * - SIGTERM / SIGINT (the first one; repeats are ignored): log "draining", run `drain`, then exit 0
 *   once the event loop is empty, or `exitAfterMs` later if a stray handle keeps it alive. A drain
 *   that fails is logged and exits 1. A drain still running after `graceMs` is logged and exits 1.
 * - SIGHUP: run `reload`. If it throws, the configuration is "not reloaded, keeping the current
 *   one"; if the promise it returns rejects, "reload failed". Either way the process keeps running.
 */
import type { Logger } from 'pino'

/** The part of `process` used here; tests pass an EventEmitter with an `exit` spy. */
export interface SignalProcess {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
  exit(code: number): void
  exitCode?: number | string | null | undefined
}

export interface SignalOptions {
  log: Logger
  /** SHUTDOWN_GRACE_MS: how long `drain` may take before the process exits 1 anyway. */
  graceMs: number
  /** Stop taking work, let what is in flight finish, close what main opened. */
  drain: () => Promise<void>
  /** SIGHUP: read the configuration again and apply it; throw to keep the current one. */
  reload?: () => void | Promise<void>
  /** Extra fields for the "draining" line, read when the signal comes (e.g. open connections). */
  drainingInfo?: () => Record<string, unknown>
  /** After a drain, exit at the latest this long later even if a handle keeps the loop alive. Default 500. */
  exitAfterMs?: number
  process?: SignalProcess
}

export function handleSignals(options: SignalOptions): void {
  const { log, graceMs, drain, reload, drainingInfo, exitAfterMs = 500 } = options
  const proc: SignalProcess = options.process ?? process
  let stopping = false

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return
    stopping = true
    log.info({ signal, ...drainingInfo?.() }, 'draining')
    setTimeout(() => {
      log.error({ graceMs }, 'drain took too long: exiting')
      proc.exit(1)
    }, graceMs).unref()
    drain().then(
      () => {
        log.info('stopped')
        setTimeout(() => proc.exit(0), exitAfterMs).unref()
      },
      (err: unknown) => {
        log.error({ err }, 'error while closing')
        proc.exitCode = 1
        setTimeout(() => proc.exit(1), exitAfterMs).unref()
      },
    )
  }
  proc.on('SIGTERM', stop)
  proc.on('SIGINT', stop)

  if (reload) {
    proc.on('SIGHUP', () => {
      let done: void | Promise<void>
      try {
        done = reload()
      } catch (err) {
        log.error({ err: (err as Error).message }, 'SIGHUP: configuration not reloaded, keeping the current one')
        return
      }
      done?.catch((err: unknown) => log.error({ err }, 'SIGHUP: reload failed'))
    })
  }
}

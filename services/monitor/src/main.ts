/**
 * `node services/monitor/src/main.ts`: the monitor in the foreground, for a supervisor (systemd,
 * a container runtime, nohup). Logs pino JSON on stdout.
 *
 * Bad configuration → one line on stderr naming the variable or target, exit 78 (EX_CONFIG).
 * Redis (state, presence) or SMTP being unreachable is not fatal: the monitor runs, reports it in
 * /readyz and /status, and catches up when they answer.
 * SIGTERM / SIGINT → stop scheduling checks, deliver pending alerts for at most MONITOR_FLUSH_MS
 * (/readyz answers 503 draining meanwhile), close connections, exit 0. A stop still not done after
 * SHUTDOWN_GRACE_MS + MONITOR_FLUSH_MS (something hung) exits 1, as the other services do: the
 * supervisor and the operator see that it was not clean.
 * SIGHUP → read the configuration again (targets and timings; see Monitor.reload).
 */
import { failStartup } from '@touchline/config'
import { connectRedisPresence, type PresenceStore } from '@touchline/presence'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { buildMonitorApp } from './app.ts'
import { type MonitorConfig, loadMonitorConfig } from './config.ts'
import { connectRedisState, MemoryStateStore, type StateStore } from './state.ts'

let config: MonitorConfig
try {
  config = loadMonitorConfig(process.env)
} catch (err) {
  failStartup('monitor', err)
}

const logger = pino({ level: config.logLevel, base: { service: 'monitor', pid: process.pid } })

// Signal handlers before anything that waits (Redis and presence may take seconds to answer, or
// not answer): SIGHUP's default action would end the process. A reload asked for while starting
// is applied once the monitor runs; a stop while starting ends the process at once (nothing has
// been checked or alerted yet).
let running: FastifyInstance | undefined
let reloadQueued = false
let stopping = false
process.on('SIGHUP', () => {
  if (stopping) return
  if (running) reload(running)
  else {
    reloadQueued = true
    logger.info('SIGHUP while starting: the configuration is read again once the monitor runs')
  }
})
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

const state: StateStore = config.stateRedisUrl
  ? await connectRedisState({ url: config.stateRedisUrl, prefix: config.statePrefix, connectTimeoutMs: 3000 })
  : new MemoryStateStore()
if (state.kind === 'redis') logger.info({ prefix: config.statePrefix }, 'alert state kept in Redis')
else logger.warn('alert state kept in memory (set MONITOR_REDIS_URL or REDIS_URL so a restart does not repeat alerts)')

let presence: PresenceStore | undefined
if (config.discovery) {
  presence = await connectRedisPresence({ url: config.discovery.redisUrl, prefix: config.discovery.presencePrefix, connectTimeoutMs: 3000 })
  if (presence.status().type !== 'connected')
    logger.warn({ status: presence.status() }, 'presence not reachable yet; gateways will be discovered once it answers')
}

const app = buildMonitorApp({ config, logger, state, ...(presence ? { presence } : {}) })

try {
  await app.listen({ port: config.port, host: config.host })
} catch (err) {
  process.stderr.write(`monitor: cannot listen on ${config.host}:${config.port}: ${(err as Error).message}\n`)
  process.exit(1)
}
running = app
if (reloadQueued) reload(app)

async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  if (!running) {
    logger.info({ signal }, 'stopped while starting')
    process.exit(0)
  }
  logger.info({ signal }, 'stopping: no new checks, delivering pending alerts')
  const hard = setTimeout(() => {
    logger.error({ graceMs: config.shutdownGraceMs, flushMs: config.flushMs }, 'shutdown took too long; exiting with status 1')
    process.exit(1)
  }, config.shutdownGraceMs + config.flushMs)
  hard.unref()
  try {
    await running.close()
  } catch (err) {
    logger.error({ err }, 'error while closing')
  }
  await Promise.allSettled([state.close(), presence?.close()])
  logger.info('stopped')
  process.exitCode = 0
  // The stop is done: a stray handle (a library's socket) must not turn it into the forced exit.
  setTimeout(() => process.exit(0), 500).unref()
}

// SIGHUP: read the configuration again (the MONITOR_CONFIG file may have changed): targets and
// timings apply at once; a bad file is logged and the current configuration kept.
function reload(target: FastifyInstance): void {
  let next: MonitorConfig
  try {
    next = loadMonitorConfig(process.env)
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'SIGHUP: configuration not reloaded, keeping the current one')
    return
  }
  logger.level = next.logLevel
  const changes = target.monitor.reload(next)
  logger.info(changes, 'SIGHUP: configuration reloaded')
  if (changes.needRestart.length > 0)
    logger.warn({ settings: changes.needRestart }, 'SIGHUP: these settings changed but apply only after a restart')
}

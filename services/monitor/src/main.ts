/**
 * `node services/monitor/src/main.ts`: the monitor in the foreground, for a supervisor (systemd,
 * a container runtime, nohup). Logs pino JSON on stdout.
 *
 * Bad configuration → one line on stderr naming the variable or target, exit 78 (EX_CONFIG).
 * Redis (state, presence) or SMTP being unreachable is not fatal: the monitor runs, reports it in
 * /readyz and /status, and catches up when they answer.
 * SIGTERM / SIGINT → stop scheduling checks, deliver pending alerts for at most MONITOR_FLUSH_MS,
 * close connections, exit 0 (forced after SHUTDOWN_GRACE_MS).
 * SIGHUP → read the configuration again (targets and timings; see Monitor.reload).
 */
import { failStartup } from '@touchline/config'
import { connectRedisPresence, type PresenceStore } from '@touchline/presence'
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

let stopping = false
async function shutdown(signal: string): Promise<void> {
  if (stopping) return
  stopping = true
  logger.info({ signal }, 'stopping: no new checks, delivering pending alerts')
  const hard = setTimeout(() => {
    logger.error({ graceMs: config.shutdownGraceMs }, 'shutdown took too long; exiting')
    process.exit(1)
  }, config.shutdownGraceMs + config.flushMs)
  hard.unref()
  try {
    await app.close()
  } catch (err) {
    logger.error({ err }, 'error while closing')
  }
  await Promise.allSettled([state.close(), presence?.close()])
  logger.info('stopped')
  process.exitCode = 0
}

// SIGHUP: read the configuration again (the MONITOR_CONFIG file may have changed): targets and
// timings apply at once; a bad file is logged and the current configuration kept.
process.on('SIGHUP', () => {
  let next: MonitorConfig
  try {
    next = loadMonitorConfig(process.env)
  } catch (err) {
    logger.error({ err: (err as Error).message }, 'SIGHUP: configuration not reloaded, keeping the current one')
    return
  }
  logger.level = next.logLevel
  const changes = app.monitor.reload(next)
  logger.info(changes, 'SIGHUP: configuration reloaded')
  if (changes.needRestart.length > 0)
    logger.warn({ settings: changes.needRestart }, 'SIGHUP: these settings changed but apply only after a restart')
})
process.on('SIGTERM', () => void shutdown('SIGTERM'))
process.on('SIGINT', () => void shutdown('SIGINT'))

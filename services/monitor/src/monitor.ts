/**
 * The monitor engine: targets on the scheduler, each check's result through the state machine
 * (tracker.ts), state kept in the StateStore, alerts on every change through the Dispatcher,
 * gateways discovered from presence.
 *
 * Alert channels watch themselves: each channel but the log is a target `alerts:<channel>` of
 * kind `channel`. A failed delivery attempt (or, for e-mail, a failed SMTP verify on its own
 * schedule) makes it degraded, a delivery makes it up again; alerts about a channel go through the
 * other channels only.
 *
 * Discovery: every interval the live nodes are read from presence. A node with a URL becomes a
 * `gateway` target named `gateway@host:port` (unless a configured target already watches that
 * URL). When a node is no longer listed:
 *  - its checks had been failing while it was still listed (it stopped answering but its heartbeat
 *    had not expired yet): it crashed. It stays watched (`lostSince`), goes down by the usual
 *    threshold and alerts; it is forgotten after `lostRetainMs`, or recovers if it comes back.
 *  - otherwise (last check ok, or draining, or failures only after it left): it left cleanly, as
 *    a scaled-down gateway does. It is dropped silently.
 */
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Channel, Delivery } from './alerts/dispatcher.ts'
import { Dispatcher } from './alerts/dispatcher.ts'
import { CanaryProbe } from './checks/canary.ts'
import { checkFor as defaultCheckFor } from './checks/index.ts'
import { errorText, redactCredentials, withAbort } from './checks/util.ts'
import { displayTarget, gatewayBase, type MonitorConfig, targetName } from './config.ts'
import type { MonitorMetrics } from './metrics.ts'
import { Scheduler } from './scheduler.ts'
import type { PersistedTarget, StateStore } from './state.ts'
import { alertFor, observe, type TrackState } from './tracker.ts'
import type { Alert, AlertType, Check, Observation, StatusReply, TargetSpec, TargetState } from './types.ts'

/** What discovery needs from presence (PresenceStore.liveNodes). */
export interface PresenceSource {
  liveNodes(): Promise<Array<{ nodeId: string; url?: string }>>
}

export interface MonitorDeps {
  config: MonitorConfig
  logger: Logger
  state: StateStore
  channels: Channel[]
  metrics: MonitorMetrics
  version: string
  presence?: PresenceSource
  /** Checks the e-mail channel (SMTP verify); makes `alerts:email` a scheduled target. */
  emailVerify?: () => Promise<void>
  /** For tests: build a target's check. */
  checkFor?: (spec: TargetSpec) => Check
  /** Wall clock (ms since epoch). */
  now?: () => number
}

interface Runtime {
  spec: TargetSpec
  check?: Check
  track: TrackState
  lastError?: string
  latencyMs?: number
  lastCheck?: number
  p99Ms?: number
  lastObs?: Observation
  /** First failed (not draining) check of the current run of failures. */
  failingSince?: number
  /** First check of the current run of draining answers. */
  drainingSince?: number
  alertedType?: AlertType
  alertedAt?: number
  /** Discovered: last discovery poll that listed the node. */
  listedAt?: number
  lostSince?: number
  removed: boolean
}

const STATE_LOAD_TIMEOUT_MS = 3000
/** A check starting this much later than planned is logged (at most once a second). */
const LATE_MS = 100

export class Monitor {
  readonly startedAt: number
  readonly #d: MonitorDeps
  readonly #log: Logger
  readonly #now: () => number
  readonly #scheduler: Scheduler
  readonly #dispatcher: Dispatcher
  readonly #targets = new Map<string, Runtime>()
  readonly #host = hostname()
  #persisted = new Map<string, PersistedTarget>()
  #started = false
  #stopping = false
  #discoveryError: string | undefined
  #discoveredOnce = false
  readonly #canary: CanaryProbe | undefined
  /** The configuration in effect (targets and timings change on reload). */
  #config: MonitorConfig
  #lateLoggedAt = 0
  #drained: Promise<void> | undefined

  constructor(deps: MonitorDeps) {
    this.#d = deps
    this.#log = deps.logger
    this.#now = deps.now ?? Date.now
    this.#config = deps.config
    this.startedAt = this.#now()
    this.#scheduler = new Scheduler({
      onTick: (t) => {
        deps.metrics.drift.observe(Math.max(0, t.driftMs) / 1000)
        if (t.driftMs > LATE_MS && Date.now() - this.#lateLoggedAt > 1000) {
          this.#lateLoggedAt = Date.now()
          this.#log.warn({ target: t.id, driftMs: Math.round(t.driftMs) }, 'check started late (event loop or CPU starved)')
        }
        if (t.skipped && t.id !== 'discovery') {
          deps.metrics.skipped.inc({ target: t.id })
          this.#log.warn({ target: t.id }, 'check still running at its next tick; tick skipped')
        }
      },
    })
    this.#canary = deps.config.canary ? new CanaryProbe(deps.config.canary, this.#now) : undefined
    this.#dispatcher = new Dispatcher({
      channels: deps.channels,
      queueMax: deps.config.alertQueueMax,
      onDelivery: (d) => this.#onDelivery(d),
    })
  }

  get running(): boolean {
    return this.#started && !this.#stopping
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    const config = this.#config
    try {
      this.#persisted = await withAbort(this.#d.state.load(), AbortSignal.timeout(STATE_LOAD_TIMEOUT_MS))
    } catch (err) {
      this.#log.error(
        { err: errorText(err), store: this.#d.state.kind },
        'could not load the alert state; starting with every target unknown',
      )
    }

    if (this.#canary) this.#add(this.#canarySpec(this.#canary), 0, this.#canary.check())
    config.targets.forEach((spec, i) => {
      this.#add(spec, spread(i, config.targets.length, spec.intervalMs))
    })

    for (const channel of this.#d.channels) {
      if (channel.name === 'log') continue
      const isEmail = channel.name === 'email' && this.#d.emailVerify && config.email
      const spec: TargetSpec = {
        name: `alerts:${channel.name}`,
        kind: 'channel',
        target: displayTarget('http', channel.target ?? channel.name),
        intervalMs: isEmail ? config.email!.checkMs : config.intervalMs,
        timeoutMs: isEmail ? Math.min(config.email!.checkMs, config.email!.timeoutMs * 3) : config.timeoutMs,
        failThreshold: 1,
        recoverThreshold: 1,
        latencyP99Ms: config.latencyP99Ms,
        latencyWindowMs: config.latencyWindowMs,
        discovered: false,
      }
      this.#add(spec, 0, isEmail ? verifyCheck(this.#d.emailVerify!) : null)
    }

    if (this.#d.presence && config.discovery) {
      // Gateways that had crashed before the restart stay watched until they come back or expire.
      for (const [name, p] of this.#persisted) {
        if (p.discovered && (p.lostSince !== undefined || p.state === 'down') && !this.#targets.has(name)) {
          const spec = this.#discoveredSpec(p.target, p.node)
          if (spec.name !== name) continue
          const rt = this.#add(spec, 0)
          rt.lostSince = p.lostSince ?? this.#now()
        }
      }
      this.#scheduleDiscovery()
    }
    await warmUp()
    this.#scheduler.start()
    this.#log.info(
      {
        targets: [...this.#targets.keys()],
        intervalMs: config.intervalMs,
        channels: this.#dispatcher.channelNames,
        store: this.#d.state.kind,
      },
      'monitor started',
    )
  }

  /** Stop planning checks; the checks in flight finish (each within its timeout). */
  async stopScheduling(): Promise<void> {
    this.#stopping = true
    await this.#scheduler.stop()
  }

  /**
   * Stop scheduling and deliver pending alerts for at most `flushMs` (the rest is abandoned).
   * Runs once; app.ts runs it while the HTTP listener still answers (/readyz: 503 draining).
   */
  drain(): Promise<void> {
    this.#drained ??= (async () => {
      await this.stopScheduling()
      const pending = this.#dispatcher.stats().pending
      if (pending > 0) this.#log.info({ pending, boundMs: this.#config.flushMs }, 'delivering pending alerts before exit')
      const left = await this.#dispatcher.flush(this.#config.flushMs)
      if (left > 0) this.#log.warn({ abandoned: left }, 'alerts still undelivered at exit were abandoned')
    })()
    return this.#drained
  }

  /** Drain, then close the checks' connections. */
  async close(): Promise<void> {
    await this.drain()
    await Promise.allSettled([...this.#targets.values()].map((rt) => rt.check?.close?.()))
  }

  status(): StatusReply {
    const iso = (t: number | undefined) => (t === undefined ? null : new Date(t).toISOString())
    const stats = this.#dispatcher.stats()
    return {
      monitor: { startedAt: new Date(this.startedAt).toISOString(), intervalMs: this.#config.intervalMs, version: this.#d.version },
      targets: [...this.#targets.values()].map((rt) => ({
        name: rt.spec.name,
        kind: rt.spec.kind,
        target: displayTarget(rt.spec.kind, rt.spec.target),
        state: rt.track.state,
        since: rt.track.state === 'unknown' && !rt.lastCheck ? null : iso(rt.track.since),
        lastError: rt.lastError ?? null,
        latencyMs: rt.latencyMs ?? null,
        lastCheck: iso(rt.lastCheck),
        discovered: rt.spec.discovered,
        ...(rt.spec.node ? { node: rt.spec.node } : {}),
        ...(rt.spec.kind === 'gateway' ? { p99Ms: rt.p99Ms ?? null } : {}),
        ...(rt.lostSince !== undefined ? { lostSince: iso(rt.lostSince) } : {}),
      })),
      alerts: { sent: stats.sent, failed: stats.failed, pending: stats.pending, channels: stats.channels },
    }
  }

  /** What /readyz reports about the monitor itself. */
  health(): { running: boolean; problems: Record<string, string> } {
    const problems: Record<string, string> = {}
    for (const rt of this.#targets.values()) {
      if (rt.spec.kind === 'channel' && rt.track.state !== 'up' && rt.track.state !== 'unknown')
        problems[rt.spec.name] = rt.lastError ?? rt.track.state
    }
    const st = this.#d.state.health()
    if (!st.ok) problems.state = st.error ?? 'unavailable'
    if (this.#discoveryError) problems.discovery = this.#discoveryError
    return { running: this.running, problems }
  }

  // ---- targets ----

  #add(spec: TargetSpec, offsetMs: number, check?: Check | null): Runtime {
    const p = this.#persisted.get(spec.name)
    // Compared without credentials: they are not kept in the store (older entries may have them).
    const fits = p && p.kind === spec.kind && displayTarget(p.kind, p.target) === displayTarget(spec.kind, spec.target)
    const rt: Runtime = {
      spec,
      check: check === null ? undefined : (check ?? this.#checkFor(spec)),
      track: fits ? { state: p.state, since: p.since, streak: 0 } : { state: 'unknown', since: this.#now(), streak: 0 },
      lastError: fits ? p.lastError : undefined,
      alertedType: fits ? p.alertedType : undefined,
      alertedAt: fits ? p.alertedAt : undefined,
      removed: false,
    }
    this.#targets.set(spec.name, rt)
    this.#d.metrics.setState(spec.name, spec.kind, rt.track.state)
    if (rt.check) this.#scheduler.add({ id: spec.name, intervalMs: spec.intervalMs, run: () => this.#run(rt) }, offsetMs)
    return rt
  }

  /**
   * New timings for a target whose kind and address stay: in place, so its state, streak, alert
   * history and (discovered) presence bookkeeping carry on. The check is made anew (it may hold
   * the old timings); a run of the old one still in flight is ignored (#run).
   */
  #respec(rt: Runtime, spec: TargetSpec, offsetMs: number): void {
    const old = rt.check
    rt.spec = spec
    // The canary's and the channels' checks do not depend on the spec.
    if (old && spec.kind !== 'canary' && spec.kind !== 'channel') {
      rt.check = this.#checkFor(spec)
      void old.close?.()
    }
    this.#scheduler.remove(spec.name)
    if (rt.check) this.#scheduler.add({ id: spec.name, intervalMs: spec.intervalMs, run: () => this.#run(rt) }, offsetMs)
  }

  #scheduleDiscovery(): void {
    this.#scheduler.remove('discovery')
    this.#scheduler.add({ id: 'discovery', intervalMs: this.#config.intervalMs, run: () => this.#discover() })
  }

  #canarySpec(canary: CanaryProbe): TargetSpec {
    const c = canary.config
    const config = this.#config
    return {
      name: 'canary',
      kind: 'canary',
      target: `${c.url.replace(/\/+$/, '')}/v1/matches/${c.matchId}/events`,
      intervalMs: c.intervalMs,
      timeoutMs: Math.min(c.intervalMs, Math.max(config.timeoutMs, 3000)),
      failThreshold: config.failThreshold,
      recoverThreshold: config.recoverThreshold,
      latencyP99Ms: config.latencyP99Ms,
      latencyWindowMs: config.latencyWindowMs,
      discovered: false,
    }
  }

  #checkFor(spec: TargetSpec): Check {
    if (this.#d.checkFor) return this.#d.checkFor(spec)
    return defaultCheckFor(spec, this.#canary ? { canary: this.#canary } : {})
  }

  #remove(rt: Runtime, why: string, keepState = false): void {
    rt.removed = true
    this.#targets.delete(rt.spec.name)
    this.#scheduler.remove(rt.spec.name)
    void rt.check?.close?.()
    this.#d.metrics.removeTarget(rt.spec.name, rt.spec.kind)
    if (!keepState) {
      this.#persisted.delete(rt.spec.name)
      this.#d.state.delete(rt.spec.name).catch(() => {})
    }
    this.#log.info({ target: rt.spec.name, why }, 'target removed')
  }

  /**
   * Apply a new configuration (SIGHUP): configured targets are added, removed or replaced (a
   * target whose kind and address did not change keeps its state, so no alert repeats); global
   * timings apply from now on, also to the discovered gateways, the canary and the discovery
   * poll. Channels, canary, discovery and the state store settings need a restart.
   */
  reload(next: MonitorConfig): { added: string[]; removed: string[]; changed: string[]; needRestart: string[] } {
    const out = { added: [] as string[], removed: [] as string[], changed: [] as string[], needRestart: [] as string[] }
    const prev = this.#config
    for (const key of ['webhook', 'email', 'canary', 'discovery', 'stateRedisUrl', 'statePrefix', 'port', 'host'] as const) {
      if (JSON.stringify(prev[key]) !== JSON.stringify(next[key])) out.needRestart.push(key)
    }
    this.#config = { ...next, webhook: prev.webhook, email: prev.email, canary: prev.canary, discovery: prev.discovery }
    const wanted = new Map(next.targets.map((t) => [t.name, t]))
    for (const rt of [...this.#targets.values()]) {
      if (rt.spec.discovered || rt.spec.kind === 'channel' || rt.spec.kind === 'canary') continue
      if (!wanted.has(rt.spec.name)) {
        this.#remove(rt, 'removed from the configuration')
        out.removed.push(rt.spec.name)
      }
    }
    next.targets.forEach((spec, i) => {
      const rt = this.#targets.get(spec.name)
      if (rt && (rt.spec.discovered || rt.spec.kind === 'channel' || rt.spec.kind === 'canary')) return
      if (!rt) {
        this.#add(spec, spread(i, next.targets.length, spec.intervalMs))
        out.added.push(spec.name)
        return
      }
      if (JSON.stringify(rt.spec) === JSON.stringify(spec)) return
      if (rt.spec.kind === spec.kind && rt.spec.target === spec.target) this.#respec(rt, spec, 0)
      else {
        this.#remove(rt, 'changed in the configuration')
        this.#add(spec, 0)
      }
      out.changed.push(spec.name)
    })
    // What the global timings derive: discovered gateways (spread like a first round), the canary,
    // the discovery poll.
    const derived = [...this.#targets.values()].filter((rt) => rt.spec.discovered)
    derived.forEach((rt, i) => {
      const spec = this.#discoveredSpec(rt.spec.target, rt.spec.node)
      if (JSON.stringify(rt.spec) === JSON.stringify(spec)) return
      this.#respec(rt, spec, spread(i, derived.length, spec.intervalMs))
      out.changed.push(spec.name)
    })
    const canary = this.#targets.get('canary')
    if (canary && this.#canary) {
      const spec = this.#canarySpec(this.#canary)
      if (JSON.stringify(canary.spec) !== JSON.stringify(spec)) {
        this.#respec(canary, spec, 0)
        out.changed.push(spec.name)
      }
    }
    if (this.#scheduler.has('discovery') && prev.intervalMs !== next.intervalMs) this.#scheduleDiscovery()
    return out
  }

  async #run(rt: Runtime): Promise<void> {
    const check = rt.check
    if (!check) return
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(), rt.spec.timeoutMs)
    // A check must settle soon after its timeout; if one does not, give up on it here.
    const hard = AbortSignal.timeout(rt.spec.timeoutMs + 500)
    let obs: Observation
    try {
      obs = await withAbort(check.run(ac.signal), hard)
    } catch (err) {
      obs = { result: 'fail', error: errorText(err), latencyMs: rt.spec.timeoutMs }
    } finally {
      clearTimeout(timer)
    }
    // Removed, stopping, or given a new check by a reload meanwhile: this result is of the past.
    if (rt.removed || this.#stopping || rt.check !== check) return
    this.#observe(rt, obs)
  }

  #observe(rt: Runtime, seen: Observation): void {
    const now = this.#now()
    const { spec } = rt
    // Errors are shown in /status (public), alerts and logs; some quote a URL (a health body may).
    let obs = seen.error ? { ...seen, error: redactCredentials(seen.error) } : seen
    // Draining is a clean stop in progress, no verdict (tracker.ts) — for as long as a drain may
    // take (SHUTDOWN_GRACE_MS bounds the services' drains). Still draining after that, the target
    // is stuck, and its checks count as failures.
    if (obs.draining) {
      rt.drainingSince ??= now
      if (now - rt.drainingSince > this.#config.shutdownGraceMs) obs = { ...obs, draining: false }
    } else rt.drainingSince = undefined
    rt.lastCheck = now
    rt.latencyMs = obs.latencyMs
    rt.lastObs = obs
    rt.lastError = obs.result === 'ok' ? undefined : obs.error
    if (spec.kind === 'gateway') {
      // The p99 of the current window, or none: no traffic in it, or the gateway did not answer.
      rt.p99Ms = obs.p99Ms
      if (obs.p99Ms === undefined) this.#d.metrics.fanoutP99.remove({ target: spec.name })
      else this.#d.metrics.fanoutP99.set({ target: spec.name }, obs.p99Ms / 1000)
    }
    if (obs.result === 'fail' && !obs.draining) rt.failingSince ??= now
    else rt.failingSince = undefined
    if (spec.kind !== 'channel')
      this.#d.metrics.checkDuration.observe({ target: spec.name, kind: spec.kind, result: obs.result }, obs.latencyMs / 1000)

    const { next, change } = observe(rt.track, obs, spec, now)
    rt.track = next
    if (change) {
      this.#d.metrics.setState(spec.name, spec.kind, next.state)
      this.#log.info({ target: spec.name, from: change.from, to: change.to, error: obs.error }, 'target changed state')
      const type = alertFor(change)
      if (type) this.#alert(rt, type, change.from, obs)
      else this.#persist(rt)
      return
    }
    const reminder = this.#config.reminderMs
    if (next.state === 'down' && reminder > 0 && rt.alertedAt !== undefined && now - rt.alertedAt >= reminder) {
      this.#alert(rt, 'reminder', 'down', obs)
    }
  }

  #alert(rt: Runtime, type: AlertType, previous: TargetState, obs: Observation | undefined): void {
    const now = this.#now()
    const { spec, track } = rt
    const shown = displayTarget(spec.kind, spec.target)
    const alert: Alert = {
      id: type === 'reminder' ? `${spec.name}:reminder:${now}` : `${spec.name}:${type}:${track.since}`,
      type,
      target: { name: spec.name, kind: spec.kind, target: shown, discovered: spec.discovered, ...(spec.node ? { node: spec.node } : {}) },
      state: track.state,
      previous,
      since: new Date(track.since).toISOString(),
      at: new Date(now).toISOString(),
      ...(obs?.error ? { error: obs.error } : {}),
      ...(obs ? { latencyMs: obs.latencyMs } : {}),
      ...(obs?.p99Ms !== undefined ? { p99Ms: obs.p99Ms } : {}),
      message: messageFor(type, spec.name, shown, obs?.error, track.since, now, previous),
      monitor: { host: this.#host, version: this.#d.version },
    }
    rt.alertedType = type
    rt.alertedAt = now
    // The state is written before the alert leaves: a restart never repeats this change.
    this.#persist(rt)
    const exclude = spec.kind === 'channel' ? [spec.name.slice('alerts:'.length)] : []
    this.#dispatcher.dispatch(alert, exclude)
  }

  #persist(rt: Runtime): void {
    const { spec, track } = rt
    const value: PersistedTarget = {
      state: track.state,
      since: track.since,
      ...(rt.lastError ? { lastError: rt.lastError } : {}),
      ...(rt.alertedType ? { alertedType: rt.alertedType, alertedAt: rt.alertedAt } : {}),
      kind: spec.kind,
      // Never credentials in the store.
      target: displayTarget(spec.kind, spec.target),
      discovered: spec.discovered,
      ...(spec.node ? { node: spec.node } : {}),
      ...(rt.lostSince !== undefined ? { lostSince: rt.lostSince } : {}),
    }
    this.#d.state.save(spec.name, value).catch((err: unknown) => {
      this.#log.warn(
        { target: spec.name, err: errorText(err) },
        'could not save the alert state (kept; written again when the store answers)',
      )
    })
  }

  // ---- alert channels ----

  #onDelivery(d: Delivery): void {
    const m = this.#d.metrics
    if (d.ok) m.alertsSent.inc({ channel: d.channel, type: d.alert.type })
    else if (d.dropped) {
      // Not a failed attempt (the channel may be fine): counted apart, and as given up on.
      m.alertsDropped.inc({ channel: d.channel, reason: d.dropped })
      m.alertsFailed.inc({ channel: d.channel })
      const shutdown = d.dropped === 'shutdown'
      this.#log[shutdown ? 'warn' : 'error'](
        { channel: d.channel, alert: d.alert.id, attempts: d.attempts, reason: d.dropped },
        shutdown ? 'alert abandoned at shutdown (not delivered)' : 'alert dropped: the channel queue is full (MONITOR_ALERT_QUEUE_MAX)',
      )
    } else {
      m.alertAttemptsFailed.inc({ channel: d.channel })
      if (!d.retrying) m.alertsFailed.inc({ channel: d.channel })
      const level = d.retrying ? 'warn' : 'error'
      this.#log[level](
        {
          channel: d.channel,
          alert: d.alert.id,
          attempts: d.attempts,
          err: d.error,
          retrying: Boolean(d.retrying),
        },
        d.retrying ? 'alert delivery failed; will retry' : 'alert delivery failed; giving up',
      )
    }
    if (d.channel === 'log' || d.dropped || this.#stopping) return
    const rt = this.#targets.get(`alerts:${d.channel}`)
    if (!rt) return
    if (d.ok) this.#observe(rt, { result: 'ok', latencyMs: 0 })
    else
      this.#observe(rt, {
        result: 'degraded',
        error: `${d.alert.type} alert for ${d.alert.target.name} not delivered: ${d.error}`,
        latencyMs: 0,
      })
  }

  // ---- discovery ----

  #discoveredSpec(url: string, node: string | undefined): TargetSpec {
    const base = gatewayBase(url)
    const u = new URL(base)
    const config = this.#config
    return {
      name: targetName(`gateway@${u.host}${u.pathname === '/' ? '' : u.pathname}`),
      kind: 'gateway',
      target: base,
      intervalMs: config.intervalMs,
      timeoutMs: config.timeoutMs,
      failThreshold: config.failThreshold,
      recoverThreshold: config.recoverThreshold,
      latencyP99Ms: config.latencyP99Ms,
      latencyWindowMs: config.latencyWindowMs,
      discovered: true,
      ...(node ? { node } : {}),
    }
  }

  async #discover(): Promise<void> {
    const presence = this.#d.presence
    const discovery = this.#config.discovery
    if (!presence || !discovery || this.#stopping) return
    // The time of the snapshot, taken before asking: a check failing after it is a failure
    // seen after (or while) the node left.
    const polledAt = this.#now()
    let nodes: Array<{ nodeId: string; url?: string }>
    try {
      nodes = await withAbort(presence.liveNodes(), AbortSignal.timeout(this.#config.timeoutMs))
    } catch (err) {
      // Never drop targets because presence could not be read.
      const error = errorText(err)
      if (error !== this.#discoveryError)
        this.#log.warn({ err: error }, 'could not read live nodes from presence; keeping the known gateways')
      this.#discoveryError = error
      return
    }
    if (this.#stopping) return
    this.#discoveryError = undefined
    const now = polledAt
    // Configured gateways, by base URL without credentials (presence URLs have none).
    const watched = new Set<string>()
    for (const rt of this.#targets.values()) {
      if (rt.spec.discovered) continue
      if (rt.spec.kind === 'gateway' || rt.spec.kind === 'http') {
        try {
          watched.add(displayTarget('gateway', gatewayBase(rt.spec.target)))
        } catch {}
      }
    }
    const listed = new Set<string>()
    for (const n of nodes) {
      if (!n.url) continue
      let spec: TargetSpec
      try {
        spec = this.#discoveredSpec(n.url, n.nodeId)
      } catch {
        this.#log.warn({ node: n.nodeId, url: redactCredentials(n.url) }, 'live node has a malformed url; not watched')
        continue
      }
      if (watched.has(displayTarget('gateway', spec.target))) continue
      listed.add(spec.name)
      const rt = this.#targets.get(spec.name)
      if (!rt) {
        const added = this.#add(spec, 0)
        added.listedAt = now
        this.#log.info({ target: spec.name, node: n.nodeId }, 'gateway discovered from presence')
      } else if (rt.spec.discovered) {
        rt.listedAt = now
        if (rt.spec.node !== n.nodeId) rt.spec.node = n.nodeId
        if (rt.lostSince !== undefined) {
          rt.lostSince = undefined
          this.#log.info({ target: spec.name, node: n.nodeId }, 'lost gateway is back in presence')
          this.#persist(rt)
        }
      }
    }
    for (const rt of [...this.#targets.values()]) {
      if (!rt.spec.discovered || listed.has(rt.spec.name)) continue
      if (rt.lostSince !== undefined) {
        if (now - rt.lostSince > discovery.lostRetainMs)
          this.#remove(rt, `vanished from presence without leaving more than ${discovery.lostRetainMs} ms ago`)
        continue
      }
      const crashed = rt.failingSince !== undefined && rt.listedAt !== undefined && rt.failingSince <= rt.listedAt
      if (crashed) {
        rt.lostSince = now
        this.#log.warn(
          { target: rt.spec.name, node: rt.spec.node, err: rt.lastError },
          'gateway vanished from presence without leaving (crash?); still watched',
        )
        this.#persist(rt)
      } else {
        this.#remove(rt, 'left presence cleanly')
      }
    }
    if (!this.#discoveredOnce) {
      this.#discoveredOnce = true
      // Forget persisted gateways that left while the monitor was away.
      for (const [name, p] of this.#persisted) {
        if (p.discovered && !this.#targets.has(name)) this.#d.state.delete(name).catch(() => {})
      }
    }
  }
}

/**
 * Load the lazily loaded parts of the HTTP client before the first round, so that round is not
 * late by the time it takes (fetch loads undici on first use).
 */
async function warmUp(): Promise<void> {
  try {
    await (await fetch('data:text/plain,warm')).text()
  } catch {}
}

/** Spread the first checks of `n` targets over the first interval, so rounds never come as one burst. */
function spread(i: number, n: number, intervalMs: number): number {
  return n <= 1 ? 0 : Math.floor((i / n) * intervalMs)
}

function verifyCheck(verify: () => Promise<void>): Check {
  return {
    async run(signal) {
      const t0 = performance.now()
      try {
        await withAbort(verify(), signal)
        return { result: 'ok', latencyMs: Math.round(performance.now() - t0) }
      } catch (err) {
        return { result: 'degraded', error: errorText(err), latencyMs: Math.round(performance.now() - t0) }
      }
    },
  }
}

function messageFor(
  type: AlertType,
  name: string,
  shown: string,
  error: string | undefined,
  since: number,
  now: number,
  previous: TargetState,
): string {
  const why = error ? `: ${error}` : ''
  switch (type) {
    case 'down':
      return `${name} (${shown}) is DOWN${why}`
    case 'degraded':
      return `${name} (${shown}) is DEGRADED${why}`
    case 'recovered':
      return `${name} (${shown}) RECOVERED (was ${previous})`
    case 'reminder':
      return `${name} (${shown}) is STILL DOWN since ${new Date(since).toISOString()} (${Math.round((now - since) / 1000)} s)${why}`
  }
}

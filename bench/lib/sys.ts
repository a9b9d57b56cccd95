/**
 * What the machine is and what each process costs, read from /proc (Linux only; elsewhere the
 * figures come back undefined and the tables show "n/a").
 */
import type { Calibration } from './calibrate.ts'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'

let clkTck: number | undefined
function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clkTck = 100
    }
  }
  return clkTck
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ')
    // rest[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(rest[11]) + Number(rest[12])) / ticksPerSecond()
  } catch {
    return undefined
  }
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** Direct children of a process (e.g. nginx workers under the master). */
export function childPids(pid: number): number[] {
  const out: number[] = []
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const txt = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim()
      if (txt) for (const p of txt.split(/\s+/)) out.push(Number(p))
    }
  } catch {}
  return out
}

interface MachineTicks {
  busy: number
  total: number
  user: number
  system: number
  softirq: number
  steal: number
}

/** Jiffies of the whole machine (all cores), from /proc/stat. */
function machineTicks(): MachineTicks | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? ''
    const v = line.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    const at = (i: number) => v[i] ?? 0
    const total = at(0) + at(1) + at(2) + at(3) + at(4) + at(5) + at(6) + at(7)
    const idle = at(3) + at(4)
    return { busy: total - idle, total, user: at(0) + at(1), system: at(2), softirq: at(5) + at(6), steal: at(7) }
  } catch {
    return undefined
  }
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
  } catch {
    return []
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
  } catch {
    return ''
  }
}

export interface MachineCpu {
  /** percent of ONE core (a 2-core machine shows up to 200) */
  busyPct: number
  userPct: number
  systemPct: number
  softirqPct: number
  stealPct: number
}

export interface CpuReading {
  groups: Record<string, number | undefined>
  machineBusyPct: number | undefined
  machine: MachineCpu | undefined
  /** CPU of every process outside the groups (other work on the machine), percent of one core */
  othersPct: number
  /** the busiest of them */
  others: Array<{ pid: number; cmd: string; pct: number }>
  seconds: number
}

/**
 * CPU used by named groups of processes between `start()` and `stop()`, as percent of one
 * core, plus the whole machine's busy percent and every other process's CPU over the same
 * window (so noise from other work shows).
 */
export class CpuMeter {
  private readonly groups: Map<string, number[]>
  private startCpu = new Map<number, number | undefined>()
  private startOthers = new Map<number, number | undefined>()
  private startAt = 0
  private startMachine: MachineTicks | undefined

  constructor(groups: Record<string, number[]>) {
    this.groups = new Map(Object.entries(groups))
  }

  private mine(): Set<number> {
    const s = new Set<number>([process.pid])
    for (const pids of this.groups.values()) for (const p of pids) s.add(p)
    return s
  }

  start(): void {
    this.startAt = performance.now()
    this.startMachine = machineTicks()
    for (const pids of this.groups.values()) for (const pid of pids) this.startCpu.set(pid, cpuSeconds(pid))
    const mine = this.mine()
    for (const pid of allPids()) if (!mine.has(pid)) this.startOthers.set(pid, cpuSeconds(pid))
  }

  stop(): CpuReading {
    const seconds = (performance.now() - this.startAt) / 1000
    const groups: Record<string, number | undefined> = {}
    for (const [name, pids] of this.groups) {
      let sum = 0
      let any = false
      for (const pid of pids) {
        const a = this.startCpu.get(pid)
        const b = cpuSeconds(pid)
        if (a !== undefined && b !== undefined) {
          sum += b - a
          any = true
        }
      }
      groups[name] = any && seconds > 0 ? (100 * sum) / seconds : undefined
    }
    const others: Array<{ pid: number; cmd: string; pct: number }> = []
    let othersPct = 0
    // processes born during the window count with all their CPU time
    const mine = this.mine()
    for (const pid of allPids()) if (!mine.has(pid) && !this.startOthers.has(pid)) this.startOthers.set(pid, 0)
    for (const [pid, a] of this.startOthers) {
      const b = cpuSeconds(pid)
      if (a === undefined || b === undefined || seconds <= 0) continue
      const pct = (100 * (b - a)) / seconds
      othersPct += pct
      if (pct >= 3) others.push({ pid, cmd: cmdline(pid).slice(0, 120), pct: Math.round(pct) })
    }
    const m = machineTicks()
    const s = this.startMachine
    let machine: MachineCpu | undefined
    if (m && s && m.total > s.total) {
      const f = (100 * os.cpus().length) / (m.total - s.total)
      machine = {
        busyPct: f * (m.busy - s.busy),
        userPct: f * (m.user - s.user),
        systemPct: f * (m.system - s.system),
        softirqPct: f * (m.softirq - s.softirq),
        stealPct: f * (m.steal - s.steal),
      }
    }
    return {
      groups,
      machineBusyPct: machine?.busyPct,
      machine,
      othersPct,
      others: others.sort((a, b) => b.pct - a.pct).slice(0, 8),
      seconds,
    }
  }
}

export interface SystemInfo {
  host: string
  os: string
  kernel: string
  cpuModel: string
  cores: number
  memGiB: number
  node: string
  fdLimit: string
  loadavg: number[]
  /** How fast this machine was at the start of the run (calibrate.ts); absent in older results. */
  calibration?: Calibration
}

export function systemInfo(): SystemInfo {
  let fdLimit = 'n/a'
  try {
    const m = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
    if (m) fdLimit = `${m[1]}/${m[2]}`
  } catch {}
  let osName = `${os.type()} ${os.release()}`
  try {
    const m = /PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))
    if (m?.[1]) osName = m[1]
  } catch {}
  const cpus = os.cpus()
  return {
    host: os.hostname(),
    os: osName,
    kernel: os.release(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    fdLimit,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  }
}

/** Other busy processes right now (a noise note for the report): top by CPU over ~0.5 s. */
export async function busyOthers(exclude: ReadonlySet<number>, sampleMs = 500): Promise<Array<{ pid: number; cmd: string; pct: number }>> {
  const pids = readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
  const before = new Map(pids.map((p) => [p, cpuSeconds(p)]))
  await new Promise((r) => setTimeout(r, sampleMs))
  const out: Array<{ pid: number; cmd: string; pct: number }> = []
  for (const p of pids) {
    if (exclude.has(p) || p === process.pid) continue
    const a = before.get(p)
    const b = cpuSeconds(p)
    if (a === undefined || b === undefined) continue
    const pct = (100 * (b - a)) / (sampleMs / 1000)
    if (pct >= 5) {
      let cmd = ''
      try {
        cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim().slice(0, 100)
      } catch {}
      out.push({ pid: p, cmd, pct: Math.round(pct) })
    }
  }
  return out.sort((a, b) => b.pct - a.pct).slice(0, 8)
}

/** Pids whose command line matches (e.g. the testkit's redis-server on a given port). */
export function findPids(match: (cmdline: string) => boolean): number[] {
  const out: number[] = []
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ')
      if (match(cmd)) out.push(Number(d))
    } catch {}
  }
  return out
}

/**
 * Wait until the machine is otherwise idle: busy under `maxBusyPct` (percent of one core) over
 * two consecutive 2-second samples, or `timeoutSec` passed. Returns the last busy figure.
 */
export async function waitQuiet(maxBusyPct: number, timeoutSec: number, onWait?: (busyPct: number) => void): Promise<number> {
  const deadline = Date.now() + timeoutSec * 1000
  let ok = 0
  let busy = 0
  while (true) {
    const a = machineTicks()
    await new Promise((r) => setTimeout(r, 2000))
    const b = machineTicks()
    busy = a && b && b.total > a.total ? (100 * os.cpus().length * (b.busy - a.busy)) / (b.total - a.total) : 0
    ok = busy < maxBusyPct ? ok + 1 : 0
    if (ok >= 2 || Date.now() > deadline) return busy
    onWait?.(busy)
  }
}

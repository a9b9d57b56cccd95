/**
 * A target's state machine, without clocks or I/O. A target leaves its state only after enough
 * consecutive checks disagree with it: `failThreshold` when the newest says down,
 * `recoverThreshold` when it says up or degraded. So one lost packet never alerts, and a
 * flapping target (fail, ok, fail, ok) stays where it was.
 *
 * From `unknown` (never decided, e.g. a new target) a good check is taken at once and silently;
 * down and degraded still need their thresholds.
 *
 * A draining answer (a clean stop in progress: 503 `draining`) is no verdict: it neither counts
 * towards down nor breaks a streak. A stop becomes `down` only once the target stops answering
 * (and a discovered gateway that leaves presence is dropped before that). monitor.ts turns a
 * drain that lasts too long into failures.
 */
import type { AlertType, Observation, ObservationResult, TargetState } from './types.ts'

export type Decided = Exclude<TargetState, 'unknown'>

export interface TrackState {
  state: TargetState
  /** ms since epoch the target entered `state`. */
  since: number
  /** Consecutive checks whose result disagrees with `state`. */
  streak: number
}

export interface Thresholds {
  failThreshold: number
  recoverThreshold: number
}

export interface Change {
  from: TargetState
  to: Decided
}

export function classOf(result: ObservationResult): Decided {
  return result === 'ok' ? 'up' : result === 'degraded' ? 'degraded' : 'down'
}

export function observe(
  t: TrackState,
  obs: Pick<Observation, 'result' | 'draining'>,
  th: Thresholds,
  now: number,
): { next: TrackState; change?: Change } {
  if (obs.draining) return { next: t }
  const cls = classOf(obs.result)
  if (cls === t.state) return { next: { ...t, streak: 0 } }
  const streak = t.streak + 1
  const need = t.state === 'unknown' && cls === 'up' ? 1 : cls === 'down' ? th.failThreshold : th.recoverThreshold
  if (streak < need) return { next: { ...t, streak } }
  return { next: { state: cls, since: now, streak: 0 }, change: { from: t.state, to: cls } }
}

/** The alert a change calls for; undefined for a silent one (unknown → up). */
export function alertFor(change: Change): AlertType | undefined {
  if (change.to === 'down') return 'down'
  if (change.to === 'degraded') return 'degraded'
  return change.from === 'unknown' ? undefined : 'recovered'
}

/**
 * Whether a process the test started is still there, read from /proc (Linux) on its own rather
 * than through the code under test (infra/local and nginx/src have their own `isRunning`).
 */
import { readFileSync } from 'node:fs'

/** True while `pid` exists and is not a zombie (state Z in /proc/<pid>/stat). */
export function alive(pid: number): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return s.charAt(s.lastIndexOf(')') + 2) !== 'Z'
  } catch {
    return false
  }
}

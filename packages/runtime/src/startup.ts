/** Start-up steps every service's main takes the same way. */
import { configWarnings, failStartup } from '@touchline/config'

/**
 * The service's configuration, or one line on stderr naming the variable and exit 78. Warnings
 * (a variable that looks like one of the service's but is not, one set but empty) go to stderr,
 * one line each, and start-up goes on.
 */
export function configOrExit<T>(service: string, load: () => T): T {
  let cfg: T
  try {
    cfg = load()
  } catch (err) {
    failStartup(service, err)
  }
  if (typeof cfg === 'object' && cfg !== null) {
    for (const w of configWarnings(cfg)) process.stderr.write(`${service}: configuration warning: ${w}\n`)
  }
  return cfg
}

/** Start-up steps every service's main takes the same way. */
import { failStartup } from '@touchline/config'

/** The service's configuration, or one line on stderr naming the variable and exit 78. */
export function configOrExit<T>(service: string, load: () => T): T {
  try {
    return load()
  } catch (err) {
    failStartup(service, err)
  }
}

/** The Prometheus registry a service's main hands to its app: process and Node metrics included. */
import { collectDefaultMetrics, Registry } from 'prom-client'

export function createRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  return registry
}

/** Builds the check for a target from its kind. */
import type { Check, TargetSpec } from '../types.ts'
import { httpCheck } from './http.ts'
import { gatewayCheck } from './latency.ts'
import { natsCheck } from './nats.ts'
import { nginxCheck } from './nginx.ts'
import { redisCheck } from './redis.ts'
import { tcpCheck } from './tcp.ts'

export function checkFor(spec: TargetSpec): Check {
  switch (spec.kind) {
    case 'tcp':
      return tcpCheck(spec.target)
    case 'http':
      return httpCheck(spec.target)
    case 'nginx':
      return nginxCheck(spec.target)
    case 'gateway':
      return gatewayCheck(spec)
    case 'nats':
      return natsCheck(spec.target, spec.timeoutMs)
    case 'redis':
      return redisCheck(spec.target, spec.timeoutMs)
    case 'channel':
      throw new Error(`target ${spec.name}: a channel has no check of its own`)
  }
}

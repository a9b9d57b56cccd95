/** Builds the check for a target from its kind. */
import type { Check, TargetSpec } from '../types.ts'
import type { CanaryProbe } from './canary.ts'
import { httpCheck } from './http.ts'
import { gatewayCheck } from './latency.ts'
import { natsCheck } from './nats.ts'
import { nginxCheck } from './nginx.ts'
import { redisCheck } from './redis.ts'
import { tcpCheck } from './tcp.ts'

export function checkFor(spec: TargetSpec, context: { canary?: CanaryProbe } = {}): Check {
  switch (spec.kind) {
    case 'tcp':
      return tcpCheck(spec.target)
    case 'http':
      return httpCheck(spec.target)
    case 'nginx':
      return nginxCheck(spec.target)
    case 'gateway':
      return gatewayCheck(spec, context.canary ? { canary: context.canary } : {})
    case 'nats':
      return natsCheck(spec.target)
    case 'redis':
      return redisCheck(spec.target, spec.timeoutMs)
    case 'channel':
    case 'canary':
      throw new Error(`target ${spec.name}: a ${spec.kind} target has no check of its own`)
  }
}

export { startNats, type NatsServer, type NatsOptions } from './nats.ts'
export { startRedis, type RedisServer } from './redis.ts'
export {
  startProcess,
  freePort,
  waitFor,
  canConnect,
  tempDir,
  findBinary,
  requireBinary,
  MissingBinaryError,
  type Proc,
} from './process.ts'
export { runtime } from './runtime.ts'
export { startService, serviceNodeFlags, repoRoot, type ServiceName, type ServiceProcess, type StartServiceOptions } from './service.ts'
export {
  startNginx,
  confine,
  guardProcessGroup,
  NginxConfigRejected,
  type NginxServer,
  type NginxContext,
  type NginxConfigSource,
  type NginxOptions,
} from './nginx.ts'

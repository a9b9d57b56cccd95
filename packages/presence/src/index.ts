export * from './types.ts'
export { PresenceClosedError, PresenceUnavailableError } from './errors.ts'
export { MemoryPresence, type MemoryPresenceOptions } from './memory.ts'
export {
  RedisPresence,
  connectRedisPresence,
  failFastOptions,
  type ConnectRedisPresenceOptions,
  type RedisPresenceOptions,
} from './redis.ts'

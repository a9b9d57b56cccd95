export * from './types.ts'
export { MemoryRateLimiter, type MemoryRateLimiterOptions } from './memory.ts'
export { RedisRateLimiter, connectRedisRateLimiter, type ConnectRedisRateLimiterOptions, type RedisRateLimiterOptions } from './redis.ts'

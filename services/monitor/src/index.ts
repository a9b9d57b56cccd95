export { buildMonitorApp, type MonitorAppDeps } from './app.ts'
export { loadMonitorConfig, monitorSpec, type MonitorConfig } from './config.ts'
export { MemoryStateStore, RedisStateStore, connectRedisState, type StateStore, type PersistedTarget } from './state.ts'
export type { Alert, StatusReply, TargetSpec, TargetState } from './types.ts'

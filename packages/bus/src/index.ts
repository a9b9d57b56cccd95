export type * from './types.ts'
export { BusUnavailableError, UnknownMatchError, MatchExistsError, IdempotencyConflictError } from './errors.ts'
export { MemoryBus, type MemoryBusOptions } from './memory.ts'
export { matchView } from './view.ts'

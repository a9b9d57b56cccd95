export * from './fields.ts'
export * from './load.ts'
export * from './common.ts'

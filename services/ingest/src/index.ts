/** What other packages (the embedded mode, tests) use from ingest. */
export { buildIngestApp, ingestPlugin, type BuildOptions, type IngestDeps } from './app.ts'
export { keyRing, reloadApiKeysFile, type KeyRing, type Role } from './auth.ts'
export { ingestSpec, loadIngestConfig, trustProxyOf, type IngestConfig } from './config.ts'
export { ERRORS, mapError } from './errors.ts'

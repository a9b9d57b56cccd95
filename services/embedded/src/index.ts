/** The embedded mode as a library (tests compose it in-process). `pnpm start` runs main.ts. */
export { buildEmbeddedApp, type EmbeddedApp, type EmbeddedDeps } from './app.ts'
export { embeddedSpec, loadEmbeddedConfig, type EmbeddedConfig } from './config.ts'
export { seedDemo, DEMO_MATCH_ID } from './demo.ts'

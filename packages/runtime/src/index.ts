export { type BackendConfig, type BackendOptions, type Backends, connectBackends } from './backends.ts'
export { createRegistry } from './metrics.ts'
export { tokenSecretOf } from './secret.ts'
export { handleSignals, type SignalOptions, type SignalProcess } from './shutdown.ts'

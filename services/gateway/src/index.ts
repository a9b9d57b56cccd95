/** The gateway as a library (for services/embedded and tests). */
export { buildGatewayApp, gatewayPlugin, type BuildGatewayOptions, type GatewayPluginOptions } from './app.ts'
export { Gateway, BANNED_WORDS_SETTING, type GatewayDeps } from './gateway.ts'
export {
  defaultGatewaySettings,
  defaultNodeId,
  gatewaySpec,
  gatewayConfigProblems,
  loadGatewayConfig,
  settingsFromConfig,
  type GatewayConfig,
  type GatewaySettings,
} from './config.ts'

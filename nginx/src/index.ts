export { renderNginxConfig, renderHttpBlocks, UPSTREAM_NAMES, GENERATION_PATH, STATUS_PATH, type Rendered } from './render.ts'
export { validateDescription, compareVersions, DEFAULT_NGINX_VERSION, RESOLVE_MIN_VERSION, type NormalDescription } from './validate.ts'
export {
  NginxConfigError,
  NginxTestError,
  NginxMissingError,
  NGINX_PROBLEM_CODES,
  type NginxProblem,
  type NginxProblemCode,
} from './errors.ts'
export { STRATEGIES, type Strategy, type NginxDescription, type UpstreamDescription, type UpstreamServer } from './types.ts'

/**
 * Our nginx configuration (nginx/render.ts) placed in a testkit nginx: listening on the testkit's
 * port on 127.0.0.1, pid and temporary files in its prefix, and `user root` when the tests run
 * as root. What the test describes is the upstreams, the pages and the tuning.
 */
import { type NginxDescription, renderNginxConfig } from '../../nginx/src/index.ts'
import type { NginxContext } from '../../packages/testkit/src/index.ts'

export type TestNginxDescription = Omit<NginxDescription, 'listen' | 'stateDir' | 'user'>

/** A configuration source for the testkit's `startNginx` and `reload`. */
export function renderForTestkit(description: TestNginxDescription): (ctx: NginxContext) => string {
  return (ctx) => renderNginxConfig({ listen: `127.0.0.1:${ctx.port}`, stateDir: ctx.prefix, user: ctx.user, ...description }).text
}

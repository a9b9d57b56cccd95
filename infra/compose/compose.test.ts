/**
 * The compose stack's nginx.conf is rendered from compose/nginx.json by the same renderer the
 * runner uses; this keeps the committed file equal to what the renderer makes of it.
 * Regenerate: node nginx/render.ts --config infra/compose/nginx.json --out infra/compose/nginx.conf
 */
import { readFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { renderNginxConfig } from '../../nginx/src/render.ts'
import { serviceNodeFlags } from '../../packages/testkit/src/service.ts'

it('infra/compose/nginx.conf is the rendering of infra/compose/nginx.json', () => {
  const description = JSON.parse(readFileSync(new URL('./nginx.json', import.meta.url), 'utf8'))
  const committed = readFileSync(new URL('./nginx.conf', import.meta.url), 'utf8')
  expect(committed).toBe(renderNginxConfig(description).text)
})

it('compose.yaml mounts that file and the built pages', () => {
  const compose = readFileSync(new URL('../compose.yaml', import.meta.url), 'utf8')
  expect(compose).toContain('./compose/nginx.conf:/etc/nginx/nginx.conf:ro')
  expect(compose).toContain('../services/web/dist:/srv/touchline:ro')
})

it('every start command runs a service with its package.json touchline.nodeFlags', () => {
  const compose = readFileSync(new URL('../compose.yaml', import.meta.url), 'utf8')
  const dockerfile = readFileSync(new URL('../docker/Dockerfile', import.meta.url), 'utf8')
  const rootPkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  const argv = (name: 'ingest' | 'gateway' | 'monitor' | 'embedded') => ['node', ...serviceNodeFlags(name), `services/${name}/src/main.ts`]
  expect(serviceNodeFlags('gateway')).toContain('--max-semi-space-size=16')
  for (const name of ['ingest', 'gateway', 'monitor'] as const)
    expect(compose).toContain(`command: ${JSON.stringify(argv(name)).replaceAll(',', ', ')}`)
  expect(dockerfile).toContain(`CMD ${JSON.stringify(argv('embedded')).replaceAll(',', ', ')}`)
  expect(rootPkg.scripts.start).toBe(argv('embedded').join(' '))
})

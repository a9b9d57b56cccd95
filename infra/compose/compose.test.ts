/**
 * The compose stack's nginx.conf is rendered from compose/nginx.json by the same renderer the
 * runner uses; this keeps the committed file equal to what the renderer makes of it.
 * Regenerate: node nginx/render.ts --config infra/compose/nginx.json --out infra/compose/nginx.conf
 */
import { readFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { renderNginxConfig } from '../../nginx/src/render.ts'

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

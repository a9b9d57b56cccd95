import { readFileSync } from 'node:fs'
import { expect, it } from 'vitest'
import { README, render } from './config-docs.ts'

it('README configuration tables match the config specs (run: node scripts/config-docs.ts --write)', () => {
  const readme = readFileSync(README, 'utf8')
  expect(render(readme)).toBe(readme)
})

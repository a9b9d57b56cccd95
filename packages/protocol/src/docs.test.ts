/**
 * docs/protocol.md is part of the contract: every code the code knows must be documented there,
 * and the docs must list nothing that does not exist (as fastify's errors test does).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { API_ERRORS, CLOSE, CLOSE_CODES, WS_ERROR_CODES } from './codes.ts'

const doc = readFileSync(new URL('../../../docs/protocol.md', import.meta.url), 'utf8')

/** First-column values of the table that follows a heading. */
function tableAfter(heading: string): string[][] {
  const start = doc.indexOf(`\n### ${heading}\n`)
  if (start < 0) throw new Error(`docs/protocol.md has no "### ${heading}" section`)
  const rows: string[][] = []
  let inTable = false
  for (const line of doc.slice(start).split('\n').slice(2)) {
    if (line.startsWith('|')) {
      inTable = true
      rows.push(
        line
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim().replace(/`/g, '')),
      )
    } else if (inTable) break
  }
  return rows.slice(2) // header and separator
}

describe('docs/protocol.md', () => {
  it('lists exactly the WebSocket error codes', () => {
    const documented = tableAfter('WebSocket error codes').map((r) => r[0])
    expect(documented.sort()).toEqual([...WS_ERROR_CODES].sort())
  })

  it('lists exactly the HTTP error codes with their status', () => {
    const documented = Object.fromEntries(tableAfter('HTTP error codes').map((r) => [r[0], Number(r[1])]))
    expect(documented).toEqual(API_ERRORS)
  })

  it('lists exactly the close codes', () => {
    const documented = tableAfter('Close codes').map((r) => Number(r[0]))
    expect(documented.sort()).toEqual([...CLOSE_CODES].sort())
    for (const c of Object.values(CLOSE)) expect(CLOSE_CODES).toContain(c.code)
  })

  it('keeps close reasons within a close frame (123 bytes)', () => {
    for (const c of Object.values(CLOSE)) expect(Buffer.byteLength(c.reason)).toBeLessThan(123)
  })
})

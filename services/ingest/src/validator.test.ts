import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { EventsQuery, IdempotencyHeaders, LIMITS, MatchParams, PostEventBody } from '@touchline/protocol'
import { Type } from 'typebox'
import { describe, expect, it } from 'vitest'
import { ingestValidatorCompiler, onlyStrings } from './validator.ts'

type Args = Parameters<typeof TypeBoxValidatorCompiler>[0]
const args = (schema: unknown, httpPart: string) => ({ schema, httpPart, method: 'POST', url: '/x' }) as unknown as Args
type Result = { value?: unknown; error?: unknown }

describe('ingestValidatorCompiler', () => {
  it('takes only all-string object schemas as needing no conversion', () => {
    expect(onlyStrings(MatchParams)).toBe(true)
    expect(onlyStrings(IdempotencyHeaders)).toBe(true)
    expect(onlyStrings(EventsQuery)).toBe(false)
    expect(onlyStrings(Type.Object({ a: Type.String(), n: Type.Number() }))).toBe(false)
    expect(onlyStrings(Type.Object({ a: Type.Union([Type.String(), Type.Number()]) }))).toBe(false)
    expect(onlyStrings(Type.String())).toBe(false)
  })

  it('answers params and headers exactly as the TypeBox compiler does', () => {
    const cases: Array<[unknown, string, unknown[]]> = [
      [MatchParams, 'params', [{ matchId: 'm1' }, { matchId: '' }, { matchId: 'bad id!' }, {}]],
      [
        IdempotencyHeaders,
        'headers',
        [
          { 'idempotency-key': 'k1', host: 'x' },
          { host: 'x' },
          { 'idempotency-key': '' },
          { 'idempotency-key': 'x'.repeat(LIMITS.idempotencyKeyMaxLength + 1) },
        ],
      ],
    ]
    for (const [schema, part, values] of cases) {
      const ours = ingestValidatorCompiler(args(schema, part)) as (v: unknown) => Result
      const theirs = TypeBoxValidatorCompiler(args(schema, part)) as (v: unknown) => Result
      for (const v of values) {
        const a = ours(structuredClone(v))
        const b = theirs(structuredClone(v))
        expect(a.error === undefined, JSON.stringify(v)).toBe(b.error === undefined)
        if (a.error === undefined) expect(a.value).toEqual(b.value)
        else expect([...(a.error as Iterable<unknown>)]).toEqual([...(b.error as Iterable<unknown>)])
      }
    }
  })

  it('still converts querystrings and leaves bodies to the TypeBox compiler', () => {
    const q = ingestValidatorCompiler(args(EventsQuery, 'querystring')) as (v: unknown) => Result
    expect(q({ since: '5', limit: '10' })).toEqual({ value: { since: 5, limit: 10 } })
    const body = ingestValidatorCompiler(args(PostEventBody, 'body')) as (v: unknown) => Result
    expect(body({ kind: 'goal', minute: '5' }).error).toBeDefined()
  })
})

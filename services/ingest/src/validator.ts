/**
 * The route validator: @fastify/type-provider-typebox's TypeBoxValidatorCompiler, except that
 * params and headers whose schema only has string properties are checked as they are.
 *
 * TypeBoxValidatorCompiler runs `Value.Convert(schema, value)` on every non-body part of every
 * request before checking it (so that `?limit=5` can meet `Type.Integer()`). For params and
 * headers that only declare strings there is nothing to convert: Node gives both as strings
 * (route params always; a repeated non-standard header is joined with ", "), and Convert turns
 * a string into the same string. On the event post (params + Idempotency-Key header) the two
 * Converts were ~3 % of ingest CPU at 5,000 posts/s. A querystring of integers and strings is
 * converted strictly (below). Everything else (bodies, any other schema) goes to the original
 * compiler.
 */
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import { Compile } from 'typebox/compile'

type CompilerArgs = Parameters<typeof TypeBoxValidatorCompiler>[0]

/** An object schema whose declared properties are all plain strings (and nothing that converts). */
export function onlyStrings(schema: unknown): boolean {
  if (!schema || typeof schema !== 'object') return false
  const s = schema as { type?: unknown; properties?: Record<string, unknown>; patternProperties?: unknown; additionalProperties?: unknown }
  if (s.type !== 'object' || !s.properties || s.patternProperties !== undefined) return false
  if (s.additionalProperties !== undefined && typeof s.additionalProperties !== 'boolean') return false
  return Object.values(s.properties).every((p) => {
    if (!p || typeof p !== 'object') return false
    const q = p as Record<string, unknown>
    // anyOf/allOf/$ref etc. would need Convert's own logic: leave those to it
    return q.type === 'string' && !('anyOf' in q) && !('allOf' in q) && !('oneOf' in q) && !('$ref' in q)
  })
}

/** The integer properties of an object schema whose properties are all integers or strings; undefined otherwise. */
export function integerQuery(schema: unknown): string[] | undefined {
  if (!schema || typeof schema !== 'object') return undefined
  const s = schema as { type?: unknown; properties?: Record<string, unknown>; patternProperties?: unknown }
  if (s.type !== 'object' || !s.properties || s.patternProperties !== undefined) return undefined
  const ints: string[] = []
  for (const [name, p] of Object.entries(s.properties)) {
    const type = (p as { type?: unknown } | null)?.type
    if (type === 'integer') ints.push(name)
    else if (type !== 'string') return undefined
  }
  return ints
}

/** A whole number as a person writes it in a URL: decimal digits, no sign, no leading zero. */
const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/

export const ingestValidatorCompiler = (args: CompilerArgs) => {
  const { schema, httpPart } = args
  if ((httpPart === 'params' || httpPart === 'headers') && onlyStrings(schema)) {
    const check = Compile(schema as Parameters<typeof Compile>[0])
    return (value: unknown) => (check.Check(value) ? { value } : { error: check.Errors(value) })
  }
  const ints = httpPart === 'querystring' ? integerQuery(schema) : undefined
  if (ints) {
    // Value.Convert reads `?limit=true` as 1, `1.5` as 1, `0x3` as 3 and `since=` as 0: an
    // integer parameter is converted only from plain decimal digits, and anything else stays a
    // string, which the check refuses (400). A repeated parameter (an array) is refused too.
    const check = Compile(schema as Parameters<typeof Compile>[0])
    return (query: Record<string, unknown>) => {
      const value: Record<string, unknown> = { ...query }
      for (const name of ints) {
        const v = value[name]
        if (typeof v === 'string' && DECIMAL.test(v)) value[name] = Number(v)
      }
      return check.Check(value) ? { value } : { error: check.Errors(value) }
    }
  }
  return TypeBoxValidatorCompiler(args)
}

/**
 * The route validator: @fastify/type-provider-typebox's TypeBoxValidatorCompiler, except that
 * params and headers whose schema only has string properties are checked as they are.
 *
 * TypeBoxValidatorCompiler runs `Value.Convert(schema, value)` on every non-body part of every
 * request before checking it (so that `?limit=5` can meet `Type.Integer()`). For params and
 * headers that only declare strings there is nothing to convert: Node gives both as strings
 * (route params always; a repeated non-standard header is joined with ", "), and Convert turns
 * a string into the same string. On the event post (params + Idempotency-Key header) the two
 * Converts were ~3 % of ingest CPU at 5,000 posts/s. Everything else (bodies, querystrings,
 * any non-string property) goes to the original compiler, so answers and errors are unchanged.
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

export const ingestValidatorCompiler = (args: CompilerArgs) => {
  const { schema, httpPart } = args
  if ((httpPart === 'params' || httpPart === 'headers') && onlyStrings(schema)) {
    const check = Compile(schema as Parameters<typeof Compile>[0])
    return (value: unknown) => (check.Check(value) ? { value } : { error: check.Errors(value) })
  }
  return TypeBoxValidatorCompiler(args)
}

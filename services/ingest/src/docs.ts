/**
 * The OpenAPI description (@fastify/swagger) and its page (@fastify/swagger-ui) at /docs, working
 * both standalone (`/docs`) and mounted under a prefix (`/api/docs` in the embedded mode), and
 * behind nginx, which strips `/api`:
 *
 * - paths in the description are relative to the ingest mount (`/v1/matches`), and `servers`
 *   says where that mount is: the `X-Forwarded-Prefix` header when a proxy sends one, else the
 *   fastify prefix the plugin is registered under;
 * - `/docs` (no trailing slash) redirects to the relative `docs/`, so the page's asset links
 *   (relative when the URL ends in `/`) resolve under whatever external prefix the browser used.
 */
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'

const PREFIX_HEADER = /^\/[A-Za-z0-9/_-]{0,100}$/

export async function registerDocs(app: FastifyInstance, version: string): Promise<void> {
  const mount = app.prefix
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'touchline ingest API',
        version,
        description:
          'Commentators create matches and post events; every accepted event is durable before the answer, gets the next seq of its match, and is published for fan-out. Errors are `{ code, message, details? }` (see docs/protocol.md).',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'an API key from TOUCHLINE_API_KEYS' } },
      },
    },
    transform: ({ schema, url }) => ({ schema, url: mount && url.startsWith(mount) ? url.slice(mount.length) || '/' : url }),
  })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { docExpansion: 'list', deepLinking: false },
    uiHooks: {
      onRequest: async (request, reply) => {
        const path = request.url.split('?', 1)[0] as string
        if (path.endsWith('/docs')) return reply.redirect('docs/')
      },
    },
    transformSpecification: (spec, request) => {
      const forwarded = request.headers['x-forwarded-prefix']
      const base = typeof forwarded === 'string' && PREFIX_HEADER.test(forwarded) ? forwarded.replace(/\/$/, '') : mount
      return { ...spec, servers: [{ url: base || '/' }] }
    },
  })
}

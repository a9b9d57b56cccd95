import { describe, expect, it } from 'vitest'
import { NginxConfigError, type NginxProblemCode } from './errors.ts'
import { renderHttpBlocks, renderNginxConfig } from './render.ts'
import type { NginxDescription, UpstreamServer } from './types.ts'

const base = (over: Partial<NginxDescription> = {}): NginxDescription => ({
  listen: 8080,
  stateDir: '/tmp/tl-state',
  gateways: { servers: [{ address: '127.0.0.1:9001' }, { address: '127.0.0.1:9002' }] },
  ingest: { servers: [{ address: '127.0.0.1:9100' }] },
  ...over,
})

function refused(d: unknown): NginxProblemCode[] {
  try {
    renderNginxConfig(d)
  } catch (err) {
    expect(err).toBeInstanceOf(NginxConfigError)
    return (err as NginxConfigError).problems.map((p) => p.code)
  }
  throw new Error('expected the description to be refused')
}

function upstream(text: string, name: string): string {
  const m = new RegExp(`upstream ${name} \\{[\\s\\S]*?\\n  \\}`).exec(text)
  if (!m) throw new Error(`no upstream ${name} in:\n${text}`)
  return m[0]
}

describe('renderNginxConfig', () => {
  it('renders each strategy', () => {
    expect(upstream(renderNginxConfig(base()).text, 'touchline_gateways')).not.toMatch(/least_conn|ip_hash|hash/)
    const lc = renderNginxConfig(base({ gateways: { strategy: 'least_conn', servers: ['127.0.0.1:1' as unknown as UpstreamServer] } }))
    expect(upstream(lc.text, 'touchline_gateways')).toContain('least_conn;')
    const ip = renderNginxConfig(base({ gateways: { strategy: 'ip_hash', servers: [{ address: '127.0.0.1:1' }] } }))
    expect(upstream(ip.text, 'touchline_gateways')).toContain('ip_hash;')
    const h = renderNginxConfig(
      base({ gateways: { strategy: 'hash', hashKey: '$arg_match', consistent: true, servers: [{ address: '127.0.0.1:1' }] } }),
    )
    expect(upstream(h.text, 'touchline_gateways')).toContain('hash $arg_match consistent;')
    const h2 = renderNginxConfig(
      base({ gateways: { strategy: 'hash', hashKey: `$\{arg_match}-x`, servers: [{ address: '127.0.0.1:1' }] } }),
    )
    expect(upstream(h2.text, 'touchline_gateways')).toMatch(/hash \$\{arg_match\}-x;/)
  })

  it('renders server parameters and a shared zone', () => {
    const r = renderNginxConfig(
      base({
        gateways: {
          servers: [
            { address: '127.0.0.1:9001', weight: 3, maxFails: 2, failTimeout: 5 },
            { address: '127.0.0.1:9002', failTimeout: 0.5, down: true },
            { address: 'gw3.internal:9003', failTimeout: '30s' },
            { address: 'unix:/run/gw4.sock', backup: true },
          ],
        },
      }),
    )
    const u = upstream(r.text, 'touchline_gateways')
    expect(u).toContain('zone touchline_gateways 256k;')
    expect(u).toContain('server 127.0.0.1:9001 weight=3 max_fails=2 fail_timeout=5s;')
    expect(u).toContain('server 127.0.0.1:9002 max_fails=0 fail_timeout=500ms down;')
    expect(u).toContain('server gw3.internal:9003 max_fails=0 fail_timeout=30s;')
    // Gateways default to max_fails=0 (WebSockets: see WS_DEFAULT_MAX_FAILS); a description's value wins.
    expect(u).toContain('server unix:/run/gw4.sock max_fails=0 backup;')
    // HTTP upstreams keep nginx's own default.
    expect(upstream(r.text, 'touchline_ingest')).not.toContain('max_fails')
    expect(r.notes).toEqual([])
    expect(r.text).not.toContain('@touchline_gateways_backup')
  })

  it('builds the error_page fallback for backup with ip_hash, and says so', () => {
    const r = renderNginxConfig(
      base({
        gateways: {
          strategy: 'ip_hash',
          servers: [{ address: '127.0.0.1:9001' }, { address: '127.0.0.1:9002', weight: 2 }, { address: '127.0.0.1:9009', backup: true }],
        },
      }),
    )
    const primary = upstream(r.text, 'touchline_gateways')
    expect(primary).toContain('ip_hash;')
    expect(primary).not.toContain('9009')
    expect(primary).not.toContain('backup')
    const fb = upstream(r.text, 'touchline_gateways_backup')
    expect(fb).toContain('server 127.0.0.1:9009 max_fails=0;')
    expect(r.text).toContain('error_page 502 504 = @touchline_gateways_backup;')
    expect(r.text).toMatch(/location @touchline_gateways_backup \{\s+proxy_pass http:\/\/touchline_gateways_backup;/)
    expect(r.text).toContain('# Open-source nginx refuses the "backup" parameter together with ip_hash.')
    expect(r.notes).toHaveLength(1)
    expect(r.notes[0]).toMatch(/error_page 502 504/)
  })

  it('keeps the hash key in the fallback upstream, and strips the prefix in an API fallback', () => {
    const r = renderNginxConfig(
      base({
        gateways: {
          strategy: 'hash',
          hashKey: '$arg_match',
          consistent: true,
          servers: [{ address: '127.0.0.1:9001' }, { address: '127.0.0.1:9009', backup: true }],
        },
        ingest: { strategy: 'ip_hash', servers: [{ address: '127.0.0.1:9100' }, { address: '127.0.0.1:9109', backup: true }] },
      }),
    )
    expect(upstream(r.text, 'touchline_gateways_backup')).toContain('hash $arg_match consistent;')
    expect(r.text).toMatch(
      /location @touchline_ingest_backup \{\s+rewrite \^\/api\(\/\.\*\)\$ \$1 break;\s+proxy_pass http:\/\/touchline_ingest_backup;/,
    )
    expect(r.notes).toHaveLength(2)
  })

  it('proxies /ws with upgrade headers and timeouts longer than the heartbeat', () => {
    const r = renderNginxConfig(base({ websocket: { heartbeatMs: 25_000, readTimeoutSeconds: 60 } }))
    const ws = /location = \/ws \{[^}]*\}/.exec(r.text)?.[0] ?? ''
    expect(ws).toContain('proxy_pass http://touchline_gateways;')
    expect(ws).toContain('proxy_http_version 1.1;')
    expect(ws).toContain('proxy_set_header Upgrade $http_upgrade;')
    expect(ws).toContain('proxy_set_header Connection $connection_upgrade;')
    expect(ws).toContain('proxy_read_timeout 60s;')
    expect(ws).toContain('proxy_set_header X-Forwarded-For $remote_addr;')
    expect(ws).toContain('proxy_set_header X-Real-IP $remote_addr;')
    expect(ws).toContain('proxy_next_upstream error timeout http_502 http_503 http_504;')
    expect(r.text).toMatch(/map \$http_upgrade \$connection_upgrade \{\s+default upgrade;\s+'' close;\s+\}/)
  })

  it('strips /api and /monitor, and serves pages from the web root', () => {
    const r = renderNginxConfig(base({ monitor: { servers: [{ address: '127.0.0.1:9200' }] }, webRoot: '/srv/web/dist' }))
    expect(r.text).toMatch(/location \/api\/ \{\s+proxy_pass http:\/\/touchline_ingest\/;/)
    expect(r.text).toMatch(/location \/monitor\/ \{\s+proxy_pass http:\/\/touchline_monitor\/;/)
    expect(r.text).toContain('root /srv/web/dist;')
    expect(r.text).toContain('try_files $uri $uri.html $uri/ =404;')
    const noWeb = renderNginxConfig(base())
    expect(noWeb.text).not.toMatch(/^\s*root /m)
    expect(noWeb.text).not.toContain('touchline_monitor')
  })

  it('keeps every file nginx writes inside the state and log directories', () => {
    const r = renderNginxConfig(base({ logDir: '/tmp/tl-logs', user: 'root' }))
    const paths = [...r.text.matchAll(/^\s*(pid|lock_file|error_log|access_log|\w+_temp_path)\s+(\S+)/gm)].map((m) => m[2] as string)
    expect(paths.length).toBe(9)
    for (const p of paths) expect(p.startsWith('/tmp/tl-state/') || p.startsWith('/tmp/tl-logs/')).toBe(true)
    expect(r.text).not.toMatch(/\/var\/|\/run\/|\/etc\//)
    expect(r.text).toMatch(/^user root;$/m)
  })

  it('names its generation and changes it with the content', () => {
    const a = renderNginxConfig(base())
    const b = renderNginxConfig(base({ gateways: { servers: [{ address: '127.0.0.1:9001' }] } }))
    expect(a.generation).toMatch(/^[0-9a-f]{12}$/)
    expect(a.generation).not.toBe(b.generation)
    expect(a.text).toContain(`"generation":"${a.generation}"`)
    expect(renderNginxConfig(base()).text).toBe(a.text)
  })

  it('renders only the http blocks for an existing nginx', () => {
    const t = renderHttpBlocks(base())
    expect(t).toContain('upstream touchline_gateways {')
    expect(t).not.toMatch(/^\s*(events|http|pid|worker_processes)\b/m)
  })

  it('renders resolve on nginx 1.27.3+ only, with a resolver', () => {
    const gateways = { servers: [{ address: 'gw.internal:9001', resolve: true }] }
    expect(refused(base({ gateways }))).toEqual(['resolve_unsupported'])
    expect(refused(base({ gateways, nginxVersion: '1.27.3' }))).toEqual(['resolver_required'])
    const r = renderNginxConfig(base({ gateways, nginxVersion: '1.27.3', resolver: ['127.0.0.53'] }))
    expect(r.text).toContain('server gw.internal:9001 max_fails=0 resolve;')
    expect(r.text).toContain('resolver 127.0.0.53;')
  })
})

describe('refusals', () => {
  const gw = (servers: unknown[], extra: Record<string, unknown> = {}) => base({ gateways: { servers, ...extra } as never })

  it('refuses what cannot work, with a code and a path for each problem', () => {
    expect(refused(gw([]))).toEqual(['no_servers'])
    expect(refused(gw([{ address: '127.0.0.1:1', backup: true }]))).toEqual(['no_primary'])
    expect(refused(gw([{ address: '127.0.0.1:1', down: true }]))).toEqual(['no_usable_server'])
    expect(refused(gw([{ address: '127.0.0.1:1' }, { address: '127.0.0.1:1' }]))).toEqual(['duplicate_address'])
    expect(refused(gw([{ address: 'localhost' }]))).toEqual(['invalid_address'])
    expect(refused(gw([{ address: '127.0.0.1:70000' }]))).toEqual(['invalid_address'])
    expect(refused(gw([{ address: '300.1.1.1:80' }]))).toEqual(['invalid_address'])
    expect(refused(gw([{ address: '127.0.0.1:1; include /etc/passwd' }]))).toEqual(['invalid_address'])
    expect(refused(gw([{ address: '127.0.0.1:1', weight: 0 }]))).toEqual(['invalid_value'])
    expect(refused(gw([{ address: '127.0.0.1:1', weight: 1.5 }]))).toEqual(['invalid_value'])
    expect(refused(gw([{ address: '127.0.0.1:1', maxFails: -1 }]))).toEqual(['invalid_value'])
    expect(refused(gw([{ address: '127.0.0.1:1', failTimeout: 0 }]))).toEqual(['invalid_value'])
    expect(refused(gw([{ address: '127.0.0.1:1', failTimeout: '10 s' }]))).toEqual(['invalid_value'])
    expect(refused(gw([{ address: '127.0.0.1:1', maxfails: 2 }]))).toEqual(['unknown_field'])
    expect(refused(gw([{ address: '127.0.0.1:1' }], { strategy: 'random' }))).toEqual(['unknown_strategy'])
    expect(refused(gw([{ address: '127.0.0.1:1' }], { strategy: 'hash' }))).toEqual(['hash_key_required'])
    expect(refused(gw([{ address: '127.0.0.1:1' }], { strategy: 'hash', hashKey: 'match' }))).toEqual(['hash_key_invalid'])
    expect(refused(gw([{ address: '127.0.0.1:1' }], { strategy: 'hash', hashKey: '$arg_match; deny all' }))).toEqual(['hash_key_invalid'])
    expect(refused(gw([{ address: '127.0.0.1:1' }], { hashKey: '$arg_match' }))).toEqual(['hash_only_option'])
    expect(refused(gw([{ address: '127.0.0.1:1' }], { strategy: 'ip_hash', consistent: true }))).toEqual(['hash_only_option'])
    expect(refused(base({ websocket: { heartbeatMs: 30_000, readTimeoutSeconds: 45 } }))).toEqual(['timeout_too_short'])
    expect(refused(base({ stateDir: 'relative/dir' }))).toEqual(['invalid_value'])
    expect(refused(base({ webRoot: '/srv/$web' }))).toEqual(['invalid_value'])
    expect(refused(base({ listen: 'nope' }))).toEqual(['invalid_value'])
    expect(refused({ listen: 80 })).toEqual(['no_servers', 'no_servers'])
    expect(refused('x')).toEqual(['invalid_value'])
  })

  it('lists every problem at once, with readable paths', () => {
    try {
      renderNginxConfig(gw([{ address: 'bad' }, { address: '127.0.0.1:2', weight: -1 }], { strategy: 'hash' }))
      throw new Error('not refused')
    } catch (err) {
      const e = err as NginxConfigError
      expect(e.problems.map((p) => p.path)).toEqual(['gateways.hashKey', 'gateways.servers[0].address', 'gateways.servers[1].weight'])
      expect(e.message).toContain('gateways.servers[1].weight: must be a whole number 1-1000, got -1 [invalid_value]')
    }
  })
})

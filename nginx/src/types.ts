/**
 * The typed description an operator writes (as JSON, e.g. `stack.json`) and `render.ts` turns into
 * an nginx configuration. Everything here is plain data so that the same object can come from a
 * file, from the local runner or from a test.
 */

/** How nginx picks a gateway for a new connection. */
export const STRATEGIES = ['round_robin', 'least_conn', 'ip_hash', 'hash'] as const
export type Strategy = (typeof STRATEGIES)[number]

export interface UpstreamServer {
  /** `host:port`, `[v6]:port` or `unix:/path`. A host name is resolved when nginx (re)loads. */
  address: string
  /** Relative share of new connections (default 1). */
  weight?: number
  /** Failed attempts within `failTimeout` before nginx stops using the server for `failTimeout` (default 1; 0 disables). */
  maxFails?: number
  /** Seconds, or an nginx time such as `10s` or `500ms` (default 10 s). */
  failTimeout?: number | string
  /** Used only when every primary server is unavailable. */
  backup?: boolean
  /** Permanently out of rotation (keeps its place in ip_hash/hash so other clients do not move). */
  down?: boolean
  /**
   * Re-resolve the host name in the background (nginx 1.27.3+ only, needs `resolver`); on older
   * nginx a reload re-resolves names.
   */
  resolve?: boolean
}

export interface UpstreamDescription {
  /** Default `round_robin`. */
  strategy?: Strategy
  /** For `hash`: the key, e.g. `$arg_match` (one match's spectators share a gateway). */
  hashKey?: string
  /** For `hash`: ketama consistent hashing, so removing a server moves only its keys. */
  consistent?: boolean
  servers: UpstreamServer[]
  /** Idle keep-alive connections to the servers per worker (HTTP upstreams only; not used for /ws). */
  keepalive?: number
}

export interface NginxDescription {
  /** Public listener: a port (bound on all addresses) or `host:port`. */
  listen: number | string
  serverName?: string
  /**
   * Directory for the pid file and temporary files (it must exist; nginx creates the temp
   * folders inside it). Unset: nginx's compiled-in defaults (a system install).
   */
  stateDir?: string
  /** Directory for nginx-error.log and nginx-access.log (must exist). Default: `stateDir`, else nginx's defaults. */
  logDir?: string
  /** Access log on or off (default on). */
  accessLog?: boolean
  /** `user` directive: only meaningful when the master runs as root (set `root` when running as root). */
  user?: string
  workerProcesses?: number | 'auto'
  workerConnections?: number
  /**
   * Close connections still held by old workers this long after a reload (`worker_shutdown_timeout`).
   * Unset (the default): old workers keep their WebSockets until the clients or gateways close them.
   */
  workerShutdownTimeout?: number | string
  /** The nginx version the file is for (default 1.22.1); gates features such as `resolve`. */
  nginxVersion?: string
  /** DNS servers for `resolve` (nginx 1.27.3+). */
  resolver?: string[]

  /** Spectator WebSocket at /ws. */
  gateways: UpstreamDescription
  /** The ingest replicas behind /api/ (prefix stripped). */
  ingest: UpstreamDescription
  /** The monitor behind /monitor/ (prefix stripped); optional. */
  monitor?: UpstreamDescription

  /** Built pages (services/web/dist), served by nginx itself at /. Unset: / answers 404. */
  webRoot?: string

  websocket?: {
    /** The gateways' heartbeat interval: the read timeout must be at least twice as long. */
    heartbeatMs?: number
    /** proxy_read_timeout/proxy_send_timeout on /ws in seconds (default 120). */
    readTimeoutSeconds?: number
    /** proxy_connect_timeout in seconds (default 3): how long a dead gateway may stall a new connection. */
    connectTimeoutSeconds?: number
  }

  /**
   * When nginx itself sits behind another proxy or load balancer: the addresses (CIDR) allowed to
   * set X-Forwarded-For. Without it nginx is the edge and passes the peer address it sees.
   */
  trustedProxies?: string[]
  /** Who may read /_touchline/nginx_status (stub_status). Default loopback only. */
  statusAllow?: string[]
  /** Largest API request body (default `1m`). */
  clientMaxBodySize?: string
}

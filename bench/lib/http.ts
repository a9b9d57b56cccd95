/** JSON over HTTP/1.1 keep-alive, for the driver's posts (no fetch: fewer moving parts per request). */
import http from 'node:http'

const agent = new http.Agent({ keepAlive: true, maxSockets: 32, keepAliveMsecs: 10_000 })

export interface JsonReply<T = unknown> {
  status: number
  body: T
}

export function postJson<T = unknown>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonReply<T>> {
  return request<T>('POST', url, body, headers)
}

export function getJson<T = unknown>(url: string, headers: Record<string, string> = {}): Promise<JsonReply<T>> {
  return request<T>('GET', url, undefined, headers)
}

function request<T>(method: string, url: string, body: unknown, headers: Record<string, string>): Promise<JsonReply<T>> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body))
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: {
          ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let parsed: unknown = text
          try {
            parsed = text ? JSON.parse(text) : undefined
          } catch {}
          resolve({ status: res.statusCode ?? 0, body: parsed as T })
        })
        res.on('error', reject)
      },
    )
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url} timed out`)))
    req.on('error', reject)
    req.end(payload)
  })
}

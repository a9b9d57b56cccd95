/** Small helpers shared by the pages. */

/**
 * The gateway URLs to use: this origin's /ws, unless the page was opened with
 * `?ws=url1,url2` (development and tests: several gateways without a balancer). Overrides must
 * point at this page's host name, so a link cannot send a viewer's token elsewhere.
 */
export function gatewayUrls(override: string | null, fallback: string): string[] {
  if (!override) return [fallback]
  const urls = override
    .split(',')
    .map((u) => u.trim())
    .filter((u) => {
      try {
        const p = new URL(u)
        return (p.protocol === 'ws:' || p.protocol === 'wss:') && p.hostname === location.hostname
      } catch {
        return false
      }
    })
  return urls.length > 0 ? urls : [fallback]
}

/** A random id for a chat message or a request (hex, 96 bits). */
export function newClientId(): string {
  const b = new Uint8Array(12)
  crypto.getRandomValues(b)
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

/**
 * Webhook: one JSON POST per alert (the Alert object as the body). 2xx = delivered; anything
 * else, a network error or no answer within the timeout is a failed attempt, retried by the
 * dispatcher. The `Idempotency-Key` header carries the alert id so a receiver can drop a repeat
 * of an attempt that did arrive but whose answer was lost.
 */
import { splitCredentials } from '../checks/util.ts'
import type { WebhookConfig } from '../config.ts'
import type { Alert } from '../types.ts'
import type { Channel } from './dispatcher.ts'

export function webhookChannels(config: WebhookConfig): Channel[] {
  return config.urls.map((url, i) => webhookChannel(config.urls.length === 1 ? 'webhook' : `webhook${i + 1}`, url, config))
}

export function webhookChannel(name: string, url: string, config: Omit<WebhookConfig, 'urls'>): Channel {
  // `https://user:pass@host/…` is sent as Basic authorization (config.ts refuses it together with
  // an authorization header).
  const { url: bare, authorization } = splitCredentials(url)
  return {
    name,
    target: url,
    retries: config.retries,
    backoffMs: config.backoffMs,
    timeoutMs: config.timeoutMs,
    async send(alert: Alert, signal: AbortSignal) {
      const res = await fetch(bare, {
        method: 'POST',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'touchline-monitor',
          'idempotency-key': alert.id,
          ...(authorization ? { authorization } : {}),
          ...config.headers,
        },
        body: JSON.stringify(alert),
      })
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined)
      if (res.status < 200 || res.status >= 300) throw new Error(`webhook answered HTTP ${res.status}`)
    },
  }
}

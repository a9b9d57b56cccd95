/**
 * Idempotency keys that say when they were made.
 *
 * Any string of 1–200 characters is a valid `Idempotency-Key`. A key that is a UUID version 7
 * (RFC 9562: the first 48 bits are the Unix time in ms at which the client made it, then the
 * version nibble 7, the variant bits 10 and random bits) additionally tells the server how old
 * it can be. A post whose key was made less than the bus's duplicate window ago cannot repeat one
 * stored before that window, so the server skips the lookup of the 24-hour idempotency record
 * for it (JetStream's duplicate check covers it; see packages/bus, "Idempotency"). The
 * commentator console makes its keys with `newIdempotencyKey`. A client that stamps keys with a
 * clock far ahead of the server's only weakens its own protection (see `keyMadeRecently`).
 *
 * Runs in the browser too (no Node APIs): `crypto.getRandomValues` exists in both.
 */

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
const random = new Uint8Array(10)

/** A UUIDv7 made at `nowMs` (default now): time-ordered, 74 random bits. */
export function newIdempotencyKey(nowMs: number = Date.now()): string {
  crypto.getRandomValues(random)
  const r = random
  const ts = Math.max(0, Math.floor(nowMs)).toString(16).padStart(12, '0').slice(-12)
  // bytes 6-7: version 7 and 12 random bits; bytes 8-9: variant 0b10 and 14 random bits
  const h = (i: number) => HEX[r[i] as number] as string
  const ver = `7${((r[0] as number) & 0x0f).toString(16)}${h(1)}`
  const variant = HEX[((r[2] as number) & 0x3f) | 0x80] as string
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-${ver}-${variant}${h(3)}-${h(4)}${h(5)}${h(6)}${h(7)}${h(8)}${h(9)}`
}

/** The ms timestamp of a UUIDv7 key, or undefined for any other key. */
export function idempotencyKeyTime(key: string): number | undefined {
  if (key.length !== 36 || !UUID_V7.test(key)) return undefined
  return parseInt(key.slice(0, 8) + key.slice(9, 13), 16)
}

/**
 * True when `key` is a UUIDv7 made within the last `windowMs` minus a margin, by the server's
 * clock `nowMs`: then no earlier post with this key can be older than `windowMs`. The margin
 * (a sixth of the window, at most 10 s) absorbs a client clock ahead of the server's by up to
 * that much; a key stamped further in the future is not trusted (the record is looked up).
 */
export function keyMadeRecently(key: string, nowMs: number, windowMs: number): boolean {
  const t = idempotencyKeyTime(key)
  if (t === undefined || !(windowMs > 0)) return false
  const margin = Math.min(10_000, windowMs / 6)
  const age = nowMs - t
  return age >= -margin && age <= windowMs - 2 * margin
}

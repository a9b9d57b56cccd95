import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'
import { FrameBatch, headerLength, textFrame } from './frame.ts'
import { wsPairsForSuite } from './ws-pair.ts'

// ws's own framing, as its Sender builds a server frame (@types/ws does not declare Sender).
const { Sender } = createRequire(import.meta.url)('ws') as {
  Sender: { frame(data: Buffer, options: Record<string, unknown>): Buffer[] }
}
const wsFrame = (payload: Buffer) =>
  Buffer.concat(Sender.frame(payload, { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false }))

const LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70_000]
/** Distinct content per length (a JSON-ish text), so a shifted payload cannot compare equal. */
const payload = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7 + n) % 26))).join(''))

describe('textFrame', () => {
  it.each(LENGTHS)('equals ws Sender.frame for a %i-byte payload, header and payload in one Buffer', (n) => {
    const p = payload(n)
    const f = textFrame(p)
    expect(f.byteLength).toBe(headerLength(n) + n)
    expect(f.equals(wsFrame(p))).toBe(true)
    expect(f[0]).toBe(0x81) // FIN + text
    expect((f[1] as number) & 0x80).toBe(0) // not masked
  })

  it('does not share memory with the payload (the caller may reuse it)', () => {
    const p = payload(10)
    const f = textFrame(p)
    p.fill(0x7a)
    expect(f.subarray(2).toString()).not.toBe(p.toString())
  })

  describe('decoded by a real ws client', () => {
    const pairs = wsPairsForSuite()

    it('written to the TCP socket, each frame arrives as one text message with the payload', async () => {
      const pair = await pairs.open()
      const sock = (pair.server as unknown as { _socket: { write(b: Buffer): boolean } })._socket
      for (const n of LENGTHS) sock.write(textFrame(payload(n)))
      const got = await pair.received(LENGTHS.length)
      expect(got.map((m) => m.length)).toEqual(LENGTHS)
      expect(got).toEqual(LENGTHS.map((n) => payload(n).toString()))
    })

    it('a FrameBatch is its frames joined: one write, every message in order', async () => {
      const pair = await pairs.open()
      const b = new FrameBatch()
      const texts = ['{"type":"chat","n":1}', '{"type":"online","count":3}', payload(300).toString()]
      for (const [i, t] of texts.entries()) b.add(Buffer.from(t), textFrame(Buffer.from(t)), i !== 1)
      expect(b.size).toBe(3)
      expect(b.chats).toBe(2)
      expect(b.payloadBytes).toBe(texts.reduce((a, t) => a + Buffer.byteLength(t), 0))
      expect(b.framed).toBe(b.framed) // joined once
      const sock = (pair.server as unknown as { _socket: { write(b: Buffer): boolean } })._socket
      const before = pair.writes()
      sock.write(b.framed)
      expect(pair.writes() - before).toBe(1)
      expect(await pair.received(3)).toEqual(texts)
    })
  })
})

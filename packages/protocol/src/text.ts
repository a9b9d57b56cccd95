/**
 * The rules for text that people read on each other's screens: chat messages, viewer names, match
 * titles and team names. One place, so the gateway (chat) and ingest (names, titles) clean alike.
 *
 * - Tabs and line breaks become one space; C0/C1 control characters, the bidi overrides and
 *   isolates that can disguise text (U+202A–U+202E, U+2066–U+2069) and lone surrogates (half an
 *   emoji: not text, and invalid in the UTF-8 every other reader decodes) are removed.
 * - What is left must have a visible character (a letter, digit, punctuation or symbol): a name
 *   of zero-width spaces or soft hyphens is as blank as an empty one. Format characters are not
 *   removed themselves, as emoji sequences need the zero-width joiner.
 * - Lengths are in characters (code points), as docs/protocol.md states every limit.
 */

const WHITESPACE_CONTROL = /[\t\n\r\v\f]+/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|\p{Cs}/gu
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u

/** The text as it is stored and shown: cleaned as above and trimmed. */
export function cleanText(raw: string): string {
  return raw.replace(WHITESPACE_CONTROL, ' ').replace(INVISIBLE, '').trim()
}

/** Whether a reader would see anything of it. */
export function hasVisible(text: string): boolean {
  return VISIBLE.test(text)
}

/** Length in characters (code points), not UTF-16 units: an emoji is one. */
export function charLength(text: string): number {
  let n = 0
  for (const _ of text) n++
  return n
}

/** The first `max` characters (code points): a cut never leaves half an emoji. */
export function sliceChars(text: string, max: number): string {
  // Within max UTF-16 units there are at most max code points: nothing to cut.
  if (text.length <= max) return text
  let out = ''
  let n = 0
  for (const ch of text) {
    if (n++ === max) break
    out += ch
  }
  return out
}

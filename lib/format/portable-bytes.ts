/**
 * UTF-8 and base64 for the encodings of format/, on any JavaScript platform: Node's `Buffer`
 * where it exists (it is a global, read here, never imported, so a bundle for a browser or an
 * edge runtime carries no `node:` module), and plain loops elsewhere. Both give the same bytes,
 * down to a lone surrogate, which both write as U+FFFD (EF BF BD): the signed and hashed bytes
 * must not depend on where they were computed (spec/signing-browser.spec.ts compares them).
 * @internal
 */

/** The slice of Node's Buffer used here. */
interface NodeBufferSlice {
  allocUnsafe(size: number): Uint8Array & { write(text: string, offset: number, encoding: 'utf8'): number };
  byteLength(text: string, encoding: 'utf8'): number;
}

const NodeBuffer = (globalThis as { Buffer?: NodeBufferSlice }).Buffer;

/** A byte array to write into with {@link writeUtf8}: a Buffer on Node (its native UTF-8 writer), else a Uint8Array. */
export const allocBytes: (size: number) => Uint8Array =
  NodeBuffer === undefined ? (size) => new Uint8Array(size) : (size) => NodeBuffer.allocUnsafe(size);

/** The UTF-8 length of `text`, a lone surrogate counted as the 3 bytes of U+FFFD. */
export const utf8Length: (text: string) => number =
  NodeBuffer === undefined ? portableUtf8Length : (text) => NodeBuffer.byteLength(text, 'utf8');

/**
 * Writes `text` as UTF-8 at `offset` of `bytes` (made by {@link allocBytes}, with room for
 * {@link utf8Length} bytes) and returns the number of bytes written.
 */
export const writeUtf8: (bytes: Uint8Array, text: string, offset: number) => number =
  NodeBuffer === undefined
    ? portableWriteUtf8
    : (bytes, text, offset) => (bytes as ReturnType<NodeBufferSlice['allocUnsafe']>).write(text, offset, 'utf8');

/** The code point at `i` of `text`, a lone surrogate read as U+FFFD (a pair takes two units: the caller skips one). */
function codePointAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdfff) return c;
  if (c <= 0xdbff && i + 1 < text.length) {
    const d = text.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
  }
  return 0xfffd;
}

/** @internal Exported for the spec that compares it with Buffer. */
export function portableUtf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = codePointAt(text, i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (c < 0x10000) length += 3;
    else {
      length += 4;
      i++;
    }
  }
  return length;
}

/** @internal Exported for the spec that compares it with Buffer. */
export function portableWriteUtf8(bytes: Uint8Array, text: string, offset: number): number {
  let o = offset;
  for (let i = 0; i < text.length; i++) {
    const c = codePointAt(text, i);
    if (c < 0x80) bytes[o++] = c;
    else if (c < 0x800) {
      bytes[o++] = 0xc0 | (c >> 6);
      bytes[o++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      bytes[o++] = 0xe0 | (c >> 12);
      bytes[o++] = 0x80 | ((c >> 6) & 63);
      bytes[o++] = 0x80 | (c & 63);
    } else {
      bytes[o++] = 0xf0 | (c >> 18);
      bytes[o++] = 0x80 | ((c >> 12) & 63);
      bytes[o++] = 0x80 | ((c >> 6) & 63);
      bytes[o++] = 0x80 | (c & 63);
      i++;
    }
  }
  return o - offset;
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Standard padded base64 (RFC 4648 §4), as `Buffer.toString('base64')` writes it. The same as
 * lib/proofs/bytes.ts writes: the proof layer takes nothing from the rest of lib/, by design.
 */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + '==';
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + '=';
  }
  return out;
}

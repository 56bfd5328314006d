/**
 * SHA-256 (FIPS 180-4) of short messages laid out once in a buffer that is already padded, the
 * digest written into a caller's buffer. It exists for verify's tree check, which hashes two
 * fixed-size Merkle inputs per event: node:crypto's one-shot `hash` spends most of its ~1.3 µs per
 * call crossing into C++, normalising the algorithm name and allocating the digest, while the two
 * compressions of a 65-byte node take ~0.8 µs here and the one of a 33-byte leaf ~0.5 µs, with
 * nothing allocated. The bytes are node:crypto's (spec/sha256-blocks.spec.ts compares them); everything
 * that writes or proves hashes keeps node:crypto or `@noble/hashes`.
 * @internal
 */

/** The round constants: the first 32 bits of the fractional parts of the cube roots of the first 64 primes. */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The initial hash value: the first 32 bits of the fractional parts of the square roots of the first 8 primes. */
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Scratch state and message schedule: used synchronously, so one of each serves every call. */
const state = new Int32Array(8);
const schedule = new Int32Array(64);

/**
 * A zeroed buffer of whole 64-byte blocks for a message of `length` bytes, with the padding in
 * place (0x80 after the message, the bit length big-endian in the last 8 bytes): write the
 * message into bytes [0, length) and pass the buffer to {@link sha256PaddedInto}, as often as
 * needed. Lengths up to 2^29 bytes (the bit length fits 32 bits).
 */
export function paddedMessage(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0 || length >= 2 ** 29) throw new RangeError(`paddedMessage: length must be 0 .. 2^29 - 1, got ${length}`);
  const padded = Buffer.alloc(Math.ceil((length + 9) / 64) * 64);
  padded[length] = 0x80;
  padded.writeUInt32BE(length * 8, padded.length - 4);
  return padded;
}

/** The SHA-256 of the message in `padded` (made by {@link paddedMessage}), written into `into` at `at` (32 bytes). */
export function sha256PaddedInto(padded: Uint8Array, into: Uint8Array, at: number): void {
  if (padded.length === 0 || padded.length % 64 !== 0) throw new RangeError('sha256PaddedInto: the message must be padded to whole 64-byte blocks');
  if (!(at >= 0 && at + 32 <= into.length)) throw new RangeError(`sha256PaddedInto: no room for 32 bytes at ${at} of ${into.length}`);
  state.set(IV);
  for (let block = 0; block < padded.length; block += 64) compress(padded, block);
  for (let i = 0; i < 8; i++) {
    const word = state[i]!;
    into[at + 4 * i] = word >>> 24;
    into[at + 4 * i + 1] = word >>> 16;
    into[at + 4 * i + 2] = word >>> 8;
    into[at + 4 * i + 3] = word;
  }
}

/** One compression of the block at `offset` into {@link state} (FIPS 180-4 §6.2.2), in 32-bit two's complement. */
function compress(bytes: Uint8Array, offset: number): void {
  const w = schedule;
  for (let i = 0; i < 16; i++) {
    const j = offset + 4 * i;
    w[i] = (bytes[j]! << 24) | (bytes[j + 1]! << 16) | (bytes[j + 2]! << 8) | bytes[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

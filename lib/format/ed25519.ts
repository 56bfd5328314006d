/**
 * ed25519 verification on node:crypto (about 100x faster here than tweetnacl's pure-JS verify),
 * for the SQL functions the triggers call and for verify(). Keys and signatures are base64.
 *
 * The rules (FORMAT.md "Ed25519 rules"), decided once so that every verifier agrees:
 * - a public key is the canonical encoding (y < p, no sign bit on x = 0) of a point on the
 *   curve that is not of small order (the eight points of the 8-torsion subgroup, the identity
 *   among them, are refused); checked with @noble/curves' strict decoding, once per key text;
 * - a signature is 64 bytes with S < L (checked here explicitly, whatever OpenSSL does);
 * - verification is OpenSSL's: cofactorless (`[S]B = R + [k]A`), R compared as the canonical
 *   encoding of the recomputed point, so a non-canonical R never verifies.
 * @internal
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';

/** DER prefix that turns a raw 32-byte ed25519 public key into an SPKI structure. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Parsed keys by their base64 text; a ledger has few keys, each verified many times. */
const keys = new Map<string, KeyObject | null>();
const MAX_CACHED_KEYS = 10_000;

function keyObject(publicKey: unknown): KeyObject | null {
  if (typeof publicKey !== 'string') return null;
  let key = keys.get(publicKey);
  if (key !== undefined) return key;
  const raw = BASE64.test(publicKey) ? Buffer.from(publicKey, 'base64') : Buffer.alloc(0);
  try {
    // The canonical base64 text only: one key has one text, so keys compare (and count) as text.
    key = raw.length === 32 && raw.toString('base64') === publicKey && isStrictPoint(raw) ? createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' }) : null;
  } catch {
    key = null;
  }
  if (keys.size >= MAX_CACHED_KEYS) keys.clear();
  keys.set(publicKey, key);
  return key;
}

/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian bytes. */
const L = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/** A canonical encoding of a point on the curve, not of small order. */
export function isStrictPoint(raw: Uint8Array): boolean {
  try {
    return !ed25519.Point.fromBytes(raw, false).isSmallOrder();
  } catch {
    return false;
  }
}

/** S (the second half of a signature, little-endian) is below the group order L. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    if (s[i]! !== L[i]!) return s[i]! < L[i]!;
  }
  return false; // S = L
}

/** True when `publicKey` is base64 of a raw 32-byte ed25519 public key obeying the rules above. */
export function isValidPublicKey(publicKey: unknown): boolean {
  return keyObject(publicKey) !== null;
}

/** True when `signature` (base64, 64 bytes) is a valid ed25519 signature of `message` by `publicKey`. */
export function verifyEd25519(publicKey: unknown, message: Uint8Array, signature: unknown): boolean {
  const key = keyObject(publicKey);
  if (key === null || typeof signature !== 'string' || !BASE64.test(signature)) return false;
  const raw = Buffer.from(signature, 'base64');
  if (raw.length !== 64 || !isCanonicalScalar(raw.subarray(32))) return false;
  return verify(null, message, key, raw);
}

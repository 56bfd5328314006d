/**
 * ed25519 verification on node:crypto (about 100x faster here than tweetnacl's pure-JS verify),
 * for the SQL functions the triggers call and for verify(). Keys and signatures are base64.
 * @internal
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

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
    key = raw.length === 32 ? createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' }) : null;
  } catch {
    key = null;
  }
  if (keys.size >= MAX_CACHED_KEYS) keys.clear();
  keys.set(publicKey, key);
  return key;
}

/** True when `publicKey` is base64 of a raw 32-byte ed25519 public key. */
export function isValidPublicKey(publicKey: unknown): boolean {
  return keyObject(publicKey) !== null;
}

/** True when `signature` (base64, 64 bytes) is a valid ed25519 signature of `message` by `publicKey`. */
export function verifyEd25519(publicKey: unknown, message: Uint8Array, signature: unknown): boolean {
  const key = keyObject(publicKey);
  if (key === null || typeof signature !== 'string' || !BASE64.test(signature)) return false;
  const raw = Buffer.from(signature, 'base64');
  if (raw.length !== 64) return false;
  return verify(null, message, key, raw);
}

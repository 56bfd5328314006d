/**
 * The text encodings of C2SP signed-note keys (c2sp.org/signed-note), and their key IDs.
 *
 * - Key ID = the first four bytes, big-endian, of `SHA-256(name ‖ 0x0A ‖ type ‖ public key)`;
 *   type `0x01` is a plain Ed25519 note signature, `0x04` a tlog-cosignature v1.
 * - Verifier key (vkey): `<name>+<8 hex key ID>+base64(type ‖ 32-byte public key)`.
 * - Signer key (skey): `PRIVATE+KEY+<name>+<8 hex key ID>+base64(type ‖ 32-byte seed)`.
 *
 * Ed25519 is checked strictly (RFC 8032: canonical encodings, S < L, and public keys of small
 * order refused), so one message has exactly one accepted signature per key, the property
 * signature lines rely on when they are compared or counted.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, fromBase64, isBytes, isWellFormed, toBase64, utf8 } from './bytes.ts';
import { ProofError } from './proof-error.ts';

/**
 * Signature type byte of an Ed25519 note signature.
 *
 * @example
 * ```ts
 * const { signerKey } = generateKeyPair('example.com/log', { type: SIGNATURE_TYPE_ED25519 });
 * ```
 */
export const SIGNATURE_TYPE_ED25519 = 0x01;

/**
 * Signature type byte of a tlog-cosignature v1 (timestamped Ed25519) cosignature.
 *
 * @example
 * ```ts
 * const witness = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
 * ```
 */
export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04;

const SIGNER_PREFIX = 'PRIVATE+KEY+';

/**
 * A public key with its name and signature type, as a vkey encodes it.
 *
 * @example
 * ```ts
 * const key: VerifierKey = parseVerifierKey('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
 * key.keyId.toString(16); // '530d903a'
 * ```
 */
export interface VerifierKey {
  readonly name: string;
  /** The 32-bit key ID (unsigned). */
  readonly keyId: number;
  /** The signature type byte: {@link SIGNATURE_TYPE_ED25519} or {@link SIGNATURE_TYPE_COSIGNATURE_V1}. */
  readonly type: number;
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

/**
 * A secret key with its name and signature type, as an skey encodes it.
 *
 * @example
 * ```ts
 * const key: SignerKey = parseSignerKey('PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz');
 * key.publicKey.length; // 32
 * ```
 */
export interface SignerKey extends VerifierKey {
  /** The 32-byte Ed25519 seed (RFC 8032 private key). */
  readonly seed: Uint8Array;
}

/**
 * The key ID of a key: `SHA-256(name ‖ 0x0A ‖ type ‖ publicKey)[:4]` as an unsigned 32-bit
 * big-endian integer.
 *
 * @example
 * ```ts
 * keyId('example.com/foo', SIGNATURE_TYPE_ED25519, publicKey).toString(16).padStart(8, '0'); // '530d903a'
 * ```
 */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  assertKeyName(name);
  const digest = sha256(concat(utf8(name), Uint8Array.of(0x0a, type), publicKey));
  return ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
}

/**
 * Parses a verifier key `<name>+<hex key ID>+base64(type ‖ public key)`. The key ID must be
 * the one the name, type and key compute to, the type 0x01 or 0x04 and the key a canonical
 * Ed25519 point not of small order; anything else is `MALFORMED_KEY`.
 *
 * @example
 * ```ts
 * const key = parseVerifierKey('PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW');
 * ```
 */
export function parseVerifierKey(vkey: string): VerifierKey {
  if (typeof vkey !== 'string') throw new TypeError('a verifier key must be a string');
  const { name, keyId: id, type, material } = splitKey(vkey, 'verifier key');
  if (!isValidPublicKey(material)) throw malformedKey('verifier key', 'the public key is not a valid Ed25519 public key');
  checkKeyId(name, type, material, id, 'verifier key');
  return Object.freeze({ name, keyId: id, type, publicKey: material });
}

/**
 * Formats a verifier key (vkey).
 *
 * @example
 * ```ts
 * formatVerifierKey({ name: 'example.com/log', type: SIGNATURE_TYPE_ED25519, publicKey });
 * // 'example.com/log+1a2b3c4d+A…'
 * ```
 */
export function formatVerifierKey(key: { name: string; type: number; publicKey: Uint8Array }): string {
  assertType(key.type);
  if (!isBytes(key.publicKey) || key.publicKey.length !== 32) throw new TypeError('publicKey must be 32 bytes');
  const id = keyId(key.name, key.type, key.publicKey);
  return `${key.name}+${hex32(id)}+${toBase64(concat(Uint8Array.of(key.type), key.publicKey))}`;
}

/**
 * Parses a signer key `PRIVATE+KEY+<name>+<hex key ID>+base64(type ‖ seed)`; the key ID must
 * match the public key the seed derives, else `MALFORMED_KEY`.
 *
 * @example
 * ```ts
 * const skey = parseSignerKey('PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz');
 * ```
 */
export function parseSignerKey(skey: string): SignerKey {
  if (typeof skey !== 'string') throw new TypeError('a signer key must be a string');
  if (!skey.startsWith(SIGNER_PREFIX)) throw malformedKey('signer key', `it must start with ${SIGNER_PREFIX}`);
  const { name, keyId: id, type, material } = splitKey(skey.slice(SIGNER_PREFIX.length), 'signer key');
  const publicKey = ed25519.getPublicKey(material);
  checkKeyId(name, type, publicKey, id, 'signer key');
  return Object.freeze({ name, keyId: id, type, publicKey, seed: material });
}

/**
 * Formats a signer key (skey) from a name and a 32-byte Ed25519 seed.
 *
 * @example
 * ```ts
 * const skey = formatSignerKey('example.com/log', seed); // 'PRIVATE+KEY+example.com/log+…'
 * ```
 */
export function formatSignerKey(name: string, seed: Uint8Array, type: number = SIGNATURE_TYPE_ED25519): string {
  assertType(type);
  if (!isBytes(seed) || seed.length !== 32) throw new TypeError('seed must be 32 bytes');
  const id = keyId(name, type, ed25519.getPublicKey(seed));
  return `${SIGNER_PREFIX}${name}+${hex32(id)}+${toBase64(concat(Uint8Array.of(type), seed))}`;
}

/**
 * Generates a key pair as skey and vkey text. The seed comes from `crypto.getRandomValues`
 * unless given.
 *
 * @example
 * ```ts
 * const { signerKey, verifierKey } = generateKeyPair('example.com/log');
 * const witness = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
 * ```
 */
export function generateKeyPair(
  name: string,
  options: { type?: number; seed?: Uint8Array } = {},
): { signerKey: string; verifierKey: string } {
  const type = options.type ?? SIGNATURE_TYPE_ED25519;
  const seed = options.seed ?? ed25519.utils.randomSecretKey();
  const signerKey = formatSignerKey(name, seed, type);
  return { signerKey, verifierKey: formatVerifierKey({ name, type, publicKey: ed25519.getPublicKey(seed) }) };
}

/** @internal Strict Ed25519 verification: RFC 8032 decoding rules, small-order keys refused. */
export function verifyEd25519(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** @internal Why `text` holds a control character C2SP forbids (all but newline), or undefined. */
export function controlProblem(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  const match = /[\u0000-\u0009\u000b-\u001f]/.exec(text);
  return match ? `contains the control character U+${match[0].charCodeAt(0).toString(16).padStart(4, '0')} at index ${match.index}` : undefined;
}

function splitKey(text: string, what: string): { name: string; keyId: number; type: number; material: Uint8Array } {
  // The base64 part may itself hold '+', and names never do: split at the first two '+'.
  const first = text.indexOf('+');
  if (first < 0) throw malformedKey(what, 'expected <name>+<key ID>+<key>');
  const name = text.slice(0, first);
  if (!isKeyName(name)) throw malformedKey(what, `the name ${JSON.stringify(name)} is empty or holds a space or "+"`);
  const idText = text.slice(first + 1, first + 9);
  if (text[first + 9] !== '+' || !/^[0-9a-f]{8}$/.test(idText)) throw malformedKey(what, 'the key ID must be 8 lowercase hex digits');
  const id = parseInt(idText, 16) >>> 0;
  const decoded = fromBase64(text.slice(first + 10));
  if (decoded === undefined) throw malformedKey(what, 'the key is not canonical base64');
  if (decoded.length !== 33) throw malformedKey(what, `the key must be a type byte and 32 bytes, got ${decoded.length} bytes`);
  const type = decoded[0]!;
  if (type !== SIGNATURE_TYPE_ED25519 && type !== SIGNATURE_TYPE_COSIGNATURE_V1) {
    throw malformedKey(what, `unsupported signature type 0x${hex8(type)} (supported: 0x01 Ed25519, 0x04 cosignature/v1)`);
  }
  return { name, keyId: id, type, material: decoded.slice(1) };
}

function checkKeyId(name: string, type: number, publicKey: Uint8Array, id: number, what: string): void {
  const expected = keyId(name, type, publicKey);
  if (expected !== id) throw malformedKey(what, `the key ID ${hex32(id)} is not the key's own (${hex32(expected)})`);
}

function isValidPublicKey(publicKey: Uint8Array): boolean {
  try {
    return !ed25519.Point.fromBytes(publicKey, false).isSmallOrder();
  } catch {
    return false;
  }
}

/** @internal A key name: non-empty, no white space, no '+', no control character. */
export function isKeyName(name: string): boolean {
  return name.length > 0 && !/[\s+]/u.test(name) && controlProblem(name) === undefined;
}

/** @internal A key name, else a TypeError. */
export function assertKeyName(name: string): void {
  if (typeof name !== 'string' || !isKeyName(name) || !isWellFormed(name)) {
    throw new TypeError(`a key name must be non-empty, without spaces or "+", got ${JSON.stringify(name)}`);
  }
}

function assertType(type: number): void {
  if (type !== SIGNATURE_TYPE_ED25519 && type !== SIGNATURE_TYPE_COSIGNATURE_V1) {
    throw new RangeError(`type must be 0x01 (Ed25519) or 0x04 (cosignature/v1), got ${String(type)}`);
  }
}

/** @internal A key ID as its 8 lowercase hex digits. */
export function hex32(id: number): string {
  return id.toString(16).padStart(8, '0');
}

/** @internal A byte as its 2 lowercase hex digits. */
export function hex8(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

function malformedKey(what: string, problem: string): ProofError {
  return new ProofError('MALFORMED_KEY', `not a ${what}: ${problem}`);
}

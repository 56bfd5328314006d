/**
 * C2SP signed-note (c2sp.org/signed-note): text signed by one or more keys.
 *
 * ```
 * <text, ending in a newline>
 * <blank line>
 * — <key name> base64(4-byte key ID ‖ signature)      one line per signature
 * ```
 *
 * Verification follows the spec's rules: signatures by unknown keys (name or ID differ) are
 * ignored; a signature by a known key that fails rejects the whole note; at least one known
 * key must have signed. The keys and their encodings are in `note-key.ts`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { concat, fromBase64, fromUtf8, isBytes, isWellFormed, toBase64, utf8 } from './bytes.ts';
import {
  assertKeyName,
  controlProblem,
  hex32,
  hex8,
  isKeyName,
  parseSignerKey,
  parseVerifierKey,
  SIGNATURE_TYPE_ED25519,
  verifyEd25519,
  type SignerKey,
  type VerifierKey,
} from './note-key.ts';
import { ProofError } from './proof-error.ts';

/**
 * The most signature lines a note may carry (the spec asks verifiers to accept at least 16).
 *
 * @example
 * ```ts
 * if (parseNote(signed).signatures.length === MAX_SIGNATURES) console.log('no room for another cosignature');
 * ```
 */
export const MAX_SIGNATURES = 100;

const EM_DASH_PREFIX = '\u2014 ';

/**
 * What {@link verifyNote} needs of a key: its name, its key ID and a check of one signature
 * (the bytes after the key ID) over the note text. {@link noteVerifier} makes one for Ed25519
 * keys; `cosignatureVerifier` (in `cosignature.ts`) for witness keys.
 *
 * @example
 * ```ts
 * const verifier: NoteVerifier = noteVerifier('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
 * ```
 */
export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  /** True when `signature` (the bytes after the key ID) is this key's valid signature of `text`. */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

/**
 * What {@link signNote} needs of a key: its name, its key ID and a signing function that
 * returns the signature bytes (without the key ID) over the note text.
 *
 * @example
 * ```ts
 * const signer: NoteSigner = noteSigner(process.env.LOG_SKEY!);
 * ```
 */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  sign(text: Uint8Array): Uint8Array;
}

/**
 * One signature line of a note.
 *
 * @example
 * ```ts
 * const [sig] = parseNote(signed).signatures;
 * sig.name; sig.keyId; sig.signature; // the key name, its ID, the bytes after the ID
 * ```
 */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the 4-byte key ID. */
  readonly signature: Uint8Array;
  /** The line as written, without its newline. */
  readonly line: string;
}

/**
 * A parsed (not yet verified) signed note.
 *
 * @example
 * ```ts
 * const note: Note = parseNote(signed);
 * note.text; // ends with '\n'
 * ```
 */
export interface Note {
  /** The signed text, including its final newline, without the blank separator line. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

/**
 * A note whose known signatures all verified.
 *
 * @example
 * ```ts
 * const { text, verified } = verifyNote(signed, [logVerifier]);
 * verified[0]!.verifier === logVerifier; // true
 * ```
 */
export interface VerifiedNote extends Note {
  /** The signatures by known keys, each with the verifier that accepted it. */
  readonly verified: ReadonlyArray<NoteSignature & { readonly verifier: NoteVerifier }>;
  /** The signatures by keys not among the known ones (ignored, as the spec requires). */
  readonly unverified: readonly NoteSignature[];
}

/**
 * An Ed25519 (type 0x01) {@link NoteVerifier} for a vkey, with strict RFC 8032 verification.
 *
 * @example
 * ```ts
 * const log = noteVerifier('example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k');
 * verifyNote(signed, [log]);
 * ```
 */
export function noteVerifier(key: string | VerifierKey): NoteVerifier {
  const parsed = typeof key === 'string' ? parseVerifierKey(key) : key;
  if (parsed.type !== SIGNATURE_TYPE_ED25519) {
    throw new TypeError(`noteVerifier takes Ed25519 (type 0x01) keys; ${parsed.name} has type 0x${hex8(parsed.type)} (for a witness key, use cosignatureVerifier)`);
  }
  const publicKey = parsed.publicKey.slice();
  return Object.freeze({
    name: parsed.name,
    keyId: parsed.keyId,
    verify: (text: Uint8Array, signature: Uint8Array) => signature.length === 64 && verifyEd25519(signature, text, publicKey),
  });
}

/**
 * An Ed25519 (type 0x01) {@link NoteSigner} for an skey.
 *
 * @example
 * ```ts
 * const signed = signNote('hello\n', noteSigner(skey));
 * ```
 */
export function noteSigner(key: string | SignerKey): NoteSigner {
  const parsed = typeof key === 'string' ? parseSignerKey(key) : key;
  if (parsed.type !== SIGNATURE_TYPE_ED25519) {
    throw new TypeError(`noteSigner takes Ed25519 (type 0x01) keys; ${parsed.name} has type 0x${hex8(parsed.type)} (a witness cosigns with cosignCheckpoint)`);
  }
  const seed = parsed.seed.slice();
  return Object.freeze({ name: parsed.name, keyId: parsed.keyId, sign: (text: Uint8Array) => ed25519.sign(text, seed) });
}

/**
 * Signs a note text (which must end in a newline and hold no control character but newline)
 * with each signer, in order: returns `text + "\n" + one signature line per signer`.
 *
 * @example
 * ```ts
 * signNote('This is an example message.\n', noteSigner(skey));
 * // 'This is an example message.\n\n— example.com/foo Uw2QOkn8…\n'
 * ```
 */
export function signNote(text: string, signers: NoteSigner | string | ReadonlyArray<NoteSigner | string>): string {
  const problem = textProblem(text);
  if (problem) throw new TypeError(`note text ${problem}`);
  const list = (Array.isArray(signers) ? signers : [signers]) as ReadonlyArray<NoteSigner | string>;
  if (list.length === 0) throw new RangeError('signNote needs at least one signer');
  const bytes = utf8(text);
  const lines = list.map((s) => {
    const signer = typeof s === 'string' ? noteSigner(s) : s;
    return formatSignatureLine(signer.name, signer.keyId, signer.sign(bytes));
  });
  return `${text}\n${lines.join('')}`;
}

/**
 * Adds signature lines (already formatted, or made by signers over the note's text) to a
 * signed note. The note is parsed first, so its text is kept byte for byte.
 *
 * @example
 * ```ts
 * const twice = addSignatures(signNote(text, first), noteSigner(second));
 * ```
 */
export function addSignatures(
  signedNote: string,
  signers: NoteSigner | string | ReadonlyArray<NoteSigner | string>,
): string {
  const note = parseNote(signedNote);
  const list = (Array.isArray(signers) ? signers : [signers]) as ReadonlyArray<NoteSigner | string>;
  const bytes = utf8(note.text);
  const lines = list.map((s) => {
    if (typeof s === 'string' && s.startsWith(EM_DASH_PREFIX)) {
      const line = s.endsWith('\n') ? s : `${s}\n`;
      parseSignatureLine(line.slice(0, -1));
      return line;
    }
    const signer = typeof s === 'string' ? noteSigner(s) : s;
    return formatSignatureLine(signer.name, signer.keyId, signer.sign(bytes));
  });
  if (note.signatures.length + lines.length > MAX_SIGNATURES) {
    throw new ProofError('MALFORMED_NOTE', `a note carries at most ${MAX_SIGNATURES} signatures`);
  }
  return `${note.text}\n${note.signatures.map((s) => `${s.line}\n`).join('')}${lines.join('')}`;
}

/**
 * One signature line `— <name> base64(keyId ‖ signature)\n`.
 *
 * @example
 * ```ts
 * formatSignatureLine('example.com/foo', 0x530d903a, signature); // '— example.com/foo Uw2QOk…\n'
 * ```
 */
export function formatSignatureLine(name: string, id: number, signature: Uint8Array): string {
  assertKeyName(name);
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new RangeError(`keyId must be a uint32, got ${id}`);
  const prefix = Uint8Array.of(id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
  return `${EM_DASH_PREFIX}${name} ${toBase64(concat(prefix, signature))}\n`;
}

/**
 * Parses a signed note without verifying it: valid UTF-8, no control characters but newline,
 * text ending in a newline, the last blank line separating it from one or more well-formed
 * signature lines (at most {@link MAX_SIGNATURES}). Anything else is `MALFORMED_NOTE`.
 *
 * @example
 * ```ts
 * const { text, signatures } = parseNote(signed);
 * ```
 */
export function parseNote(signed: string | Uint8Array): Note {
  const message = decodeNote(signed);
  const problem = controlProblem(message);
  if (problem) throw malformedNote(problem);
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw malformedNote('there is no blank line before the signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0) throw malformedNote('it has no signature');
  if (!block.endsWith('\n')) throw malformedNote('the last signature line does not end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw malformedNote(`it has ${lines.length} signatures, more than ${MAX_SIGNATURES}`);
  return Object.freeze({ text, signatures: Object.freeze(lines.map(parseSignatureLine)) });
}

/**
 * Parses and verifies a signed note against known keys (verifiers, or Ed25519 vkey text).
 * Signatures whose name and key ID match no known key are ignored; a known key's signature that
 * fails is `BAD_SIGNATURE`; two signatures by one known key are `MALFORMED_NOTE`; no signature
 * by a known key is `UNKNOWN_KEY`.
 *
 * @example
 * ```ts
 * const { text } = verifyNote(signed, ['example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k']);
 * ```
 */
export function verifyNote(signed: string | Uint8Array, knownKeys: ReadonlyArray<NoteVerifier | string>): VerifiedNote {
  const verifiers = knownKeys.map((k) => (typeof k === 'string' ? noteVerifier(k) : k));
  const seenKeys = new Set<string>();
  for (const v of verifiers) {
    const tag = `${v.name} ${v.keyId}`;
    if (seenKeys.has(tag)) throw new RangeError(`two known keys share the name ${v.name} and key ID ${hex32(v.keyId)}`);
    seenKeys.add(tag);
  }
  const note = parseNote(signed);
  const text = utf8(note.text);
  const verified: Array<NoteSignature & { verifier: NoteVerifier }> = [];
  const unverified: NoteSignature[] = [];
  const signedBy = new Set<NoteVerifier>();
  for (const sig of note.signatures) {
    const verifier = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (!verifier) {
      unverified.push(sig);
      continue;
    }
    if (signedBy.has(verifier)) {
      throw malformedNote(`it has two signatures by ${sig.name} (key ID ${hex32(sig.keyId)})`);
    }
    signedBy.add(verifier);
    if (!verifier.verify(text, sig.signature)) {
      throw new ProofError('BAD_SIGNATURE', `the signature by ${sig.name} (key ID ${hex32(sig.keyId)}) does not verify`, { name: sig.name, keyId: hex32(sig.keyId) });
    }
    verified.push(Object.freeze({ ...sig, verifier }));
  }
  if (verified.length === 0) {
    throw new ProofError('UNKNOWN_KEY', 'the note has no signature by a known key', { names: note.signatures.map((s) => s.name) });
  }
  return Object.freeze({ ...note, verified: Object.freeze(verified), unverified: Object.freeze(unverified) });
}

/** @internal Why `text` cannot be a note text, or undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (typeof text !== 'string') return 'must be a string';
  if (!isWellFormed(text)) return 'is not valid Unicode (lone surrogate)';
  const control = controlProblem(text);
  if (control) return control;
  if (!text.endsWith('\n')) return 'must end with a newline';
  return undefined;
}

function decodeNote(signed: string | Uint8Array): string {
  if (typeof signed === 'string') {
    if (!isWellFormed(signed)) throw malformedNote('it is not valid Unicode (lone surrogate)');
    return signed;
  }
  if (!isBytes(signed)) throw new TypeError('a signed note must be a string or a Uint8Array');
  const text = fromUtf8(signed);
  if (text === undefined) throw malformedNote('it is not valid UTF-8');
  return text;
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith(EM_DASH_PREFIX)) throw malformedNote(`a signature line must start with "— ": ${JSON.stringify(line.slice(0, 40))}`);
  const rest = line.slice(EM_DASH_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw malformedNote('a signature line needs "— <name> <base64>"');
  const name = rest.slice(0, space);
  if (!isKeyName(name)) throw malformedNote(`the key name ${JSON.stringify(name)} is empty or holds a space or "+"`);
  const encoded = rest.slice(space + 1);
  const bytes = fromBase64(encoded);
  if (bytes === undefined) throw malformedNote(`the signature by ${name} is not canonical base64`);
  if (bytes.length < 5) throw malformedNote(`the signature by ${name} is shorter than a key ID and one byte`);
  const id = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  return Object.freeze({ name, keyId: id, signature: bytes.slice(4), line });
}

function malformedNote(problem: string): ProofError {
  return new ProofError('MALFORMED_NOTE', `not a signed note: ${problem}`);
}


/**
 * C2SP tlog-cosignature v1 (c2sp.org/tlog-cosignature), the Ed25519 kind: a witness's
 * statement that, as of a time, this checkpoint is the largest consistent tree it has seen of
 * the log. It is an ordinary note signature line on the checkpoint:
 *
 * ```
 * — <witness name> base64(key ID ‖ u64 big-endian timestamp ‖ 64-byte Ed25519 signature)
 * ```
 *
 * - key ID = `SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]` (type byte 0x04, not 0x01, so the
 *   same key can never be confused with a plain note signer);
 * - the signed message is `cosignature/v1\ntime <timestamp>\n` followed by the checkpoint's
 *   whole note text (extension lines included), the timestamp in POSIX seconds, decimal.
 *
 * Verification here is k-of-n: the log's signature, plus at least `quorum` distinct trusted
 * witnesses. As the signed-note spec asks, a cosignature line by a trusted witness that fails to
 * verify rejects the whole checkpoint (`BAD_SIGNATURE`) rather than merely not counting.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesEqual, concat, isBytes, utf8 } from './bytes.ts';
import { parseCheckpoint, verifyCheckpoint, type Checkpoint } from './checkpoint.ts';
import { emptyRoot } from './merkle-tree.ts';
import { verifyConsistency } from './merkle-verification.ts';
import { ProofError } from './proof-error.ts';
import { keyId, parseSignerKey, parseVerifierKey, SIGNATURE_TYPE_COSIGNATURE_V1, verifyEd25519, type VerifierKey } from './note-key.ts';
import { formatSignatureLine, parseNote, verifyNote, type NoteVerifier } from './signed-note.ts';

/** The largest timestamp a cosignature may carry (2^63 − 1 seconds). */
const MAX_TIMESTAMP = (1n << 63n) - 1n;

/**
 * The bytes a witness signs: `cosignature/v1\ntime <timestamp>\n` + the checkpoint note text.
 *
 * @example
 * ```ts
 * cosignatureMessage('example.org/log\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n', 1234);
 * // utf8('cosignature/v1\ntime 1234\nexample.org/log\n10\nHA5H…=\n')
 * ```
 */
export function cosignatureMessage(checkpointText: string, timestamp: number | bigint): Uint8Array {
  const ts = BigInt(timestamp);
  if (ts < 0n || ts > MAX_TIMESTAMP) throw new RangeError(`a cosignature timestamp is in [0, 2^63 - 1], got ${ts}`);
  return concat(utf8(`cosignature/v1\ntime ${ts}\n`), utf8(checkpointText));
}

/**
 * The timestamp (POSIX seconds) of a cosignature, from the signature bytes after the key ID
 * (8-byte big-endian timestamp ‖ 64-byte signature). `MALFORMED_NOTE` unless exactly 72 bytes.
 *
 * @example
 * ```ts
 * const [line] = parseNote(signed).signatures.filter((s) => s.name === 'witness.example/w1');
 * cosignatureTimestamp(line!.signature); // 1727964367
 * ```
 */
export function cosignatureTimestamp(signature: Uint8Array): number {
  return Number(readTimestamp(signature));
}

/**
 * A {@link NoteVerifier} for a witness's cosignature/v1 key (a vkey of type 0x04). It accepts
 * exactly 72-byte signatures whose timestamp is at most 2^63 − 1 and whose Ed25519 signature
 * over {@link cosignatureMessage} verifies strictly.
 *
 * @example
 * ```ts
 * const w1 = cosignatureVerifier('remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2');
 * ```
 */
export function cosignatureVerifier(key: string | VerifierKey): NoteVerifier {
  const parsed = typeof key === 'string' ? parseVerifierKey(key) : key;
  if (parsed.type !== SIGNATURE_TYPE_COSIGNATURE_V1) {
    throw new TypeError(`cosignatureVerifier takes cosignature/v1 (type 0x04) keys; ${parsed.name} has type 0x${parsed.type.toString(16).padStart(2, '0')} (for a log key, use noteVerifier)`);
  }
  const publicKey = parsed.publicKey.slice();
  return Object.freeze({
    name: parsed.name,
    keyId: parsed.keyId,
    verify(text: Uint8Array, signature: Uint8Array): boolean {
      if (signature.length !== 72) return false;
      const ts = readTimestamp(signature);
      if (ts > MAX_TIMESTAMP) return false;
      const message = concat(utf8(`cosignature/v1\ntime ${ts}\n`), text);
      return verifyEd25519(signature.subarray(8), message, publicKey);
    },
  });
}

/**
 * What {@link cosignCheckpoint} needs.
 *
 * @example
 * ```ts
 * const options: CosignOptions = { name: 'witness.example/w1', secretKey: seed, logKey, previous, consistencyProof };
 * ```
 */
export interface CosignOptions {
  /** The witness's key name. Taken from the skey when `secretKey` is one; must match it if both are given. */
  name?: string;
  /**
   * The witness's Ed25519 key: a 32-byte seed, a 64-byte tweetnacl secret key (seed ‖ public
   * key), or an skey of type 0x04.
   */
  secretKey: Uint8Array | string;
  /** The log's key: its Ed25519 vkey, or a verifier. */
  logKey: NoteVerifier | string;
  /** The log's expected origin; defaults to the previous checkpoint's. */
  origin?: string;
  /**
   * The last checkpoint this witness cosigned for this log (the signed note or its parsed
   * form): the witness's own state, trusted as is. Without it the checkpoint is accepted on
   * first use.
   */
  previous?: string | Checkpoint;
  /** The consistency proof from `previous` to this checkpoint (not needed when previous is empty or the same size). */
  consistencyProof?: readonly Uint8Array[];
  /** The time to state (default: now); stored as whole POSIX seconds. */
  now?: Date;
}

/**
 * What {@link cosignCheckpoint} returns.
 *
 * @example
 * ```ts
 * const { signedCheckpoint, line, timestamp } = cosignCheckpoint(signed, options);
 * ```
 */
export interface CosignResult {
  /** The checkpoint with this witness's cosignature line added (replacing an older one by the same key). */
  readonly signedCheckpoint: string;
  /** The cosignature line, with its newline. */
  readonly line: string;
  /** The stated time, POSIX seconds. */
  readonly timestamp: number;
  /** The checkpoint that was cosigned. */
  readonly checkpoint: Checkpoint;
}

/**
 * Cosigns a signed checkpoint as a witness, after checking it: the log's signature must
 * verify, and with a `previous` checkpoint the new one must be for the same origin, not
 * smaller (`STALE_CHECKPOINT`), and consistent with it (`CONSISTENCY_FAILED`; a missing proof is
 * `MALFORMED_PROOF`). A witness that keeps its last cosigned checkpoint as `previous` therefore
 * never signs two inconsistent trees.
 *
 * @example
 * ```ts
 * const first = cosignCheckpoint(signed8, { name: 'witness.example/w1', secretKey: seed, logKey });
 * const next = cosignCheckpoint(signed12, {
 *   name: 'witness.example/w1', secretKey: seed, logKey,
 *   previous: first.signedCheckpoint, consistencyProof: consistencyProof(tree, 8, 12),
 * });
 * ```
 */
export function cosignCheckpoint(signedCheckpoint: string, options: CosignOptions): CosignResult {
  const { name, seed } = witnessKey(options);
  const previous = options.previous === undefined ? undefined : previousCheckpoint(options.previous);
  const origin = options.origin ?? previous?.origin;
  const { checkpoint, note } = verifyCheckpoint(signedCheckpoint, options.logKey, origin === undefined ? {} : { origin });
  if (previous) checkExtends(previous, checkpoint, options.consistencyProof);
  else if (options.consistencyProof !== undefined && options.consistencyProof.length > 0) {
    throw new RangeError('consistencyProof was given without the previous checkpoint it starts from');
  }

  const now = options.now ?? new Date();
  if (!(now instanceof Date) || Number.isNaN(now.getTime()) || now.getTime() < 0) throw new RangeError('now must be a valid Date not before 1970');
  const timestamp = Math.floor(now.getTime() / 1000);
  const publicKey = ed25519.getPublicKey(seed);
  const id = keyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, publicKey);
  const signature = ed25519.sign(cosignatureMessage(note.text, timestamp), seed);
  const line = formatSignatureLine(name, id, concat(u64(timestamp), signature));
  // One line per key: a newer cosignature by the same witness replaces its older one.
  const kept = parseNote(signedCheckpoint).signatures.filter((s) => !(s.name === name && s.keyId === id));
  const signed = `${note.text}\n${kept.map((s) => `${s.line}\n`).join('')}${line}`;
  return Object.freeze({ signedCheckpoint: signed, line, timestamp, checkpoint });
}

/**
 * A k-of-n witness policy: the trusted witnesses and how many of them must have cosigned.
 *
 * @example
 * ```ts
 * const policy: WitnessPolicy = { witnesses: [w1Vkey, w2Vkey, w3Vkey], quorum: 2 };
 * ```
 */
export interface WitnessPolicy {
  /** The trusted witnesses: cosignature/v1 vkeys (type 0x04) or verifiers. */
  witnesses: ReadonlyArray<NoteVerifier | string>;
  /** How many distinct witnesses must have cosigned (default: all of them). */
  quorum?: number;
}

/**
 * One verified cosignature.
 *
 * @example
 * ```ts
 * for (const c of result.cosignatures) console.log(c.name, new Date(c.timestamp * 1000));
 * ```
 */
export interface VerifiedCosignature {
  readonly name: string;
  readonly keyId: number;
  /** The witness's stated time, POSIX seconds. */
  readonly timestamp: number;
}

/**
 * Verifies a cosigned checkpoint: the log's signature and at least `quorum` distinct trusted
 * witnesses' cosignatures. Signatures by other keys are ignored; a trusted key's signature that
 * fails is `BAD_SIGNATURE`; too few witnesses is `QUORUM_NOT_MET`; no log signature is
 * `UNKNOWN_KEY`.
 *
 * @example
 * ```ts
 * const { checkpoint, cosignatures } = verifyCosignedCheckpoint(signed, {
 *   logKey: 'example.com/ledger+1a2b3c4d+A…', witnesses: [w1, w2, w3], quorum: 2,
 * });
 * ```
 */
export function verifyCosignedCheckpoint(
  signed: string | Uint8Array,
  options: WitnessPolicy & { logKey: NoteVerifier | string; origin?: string },
): { checkpoint: Checkpoint; cosignatures: readonly VerifiedCosignature[] } {
  const witnesses = options.witnesses.map((w) => (typeof w === 'string' ? cosignatureVerifier(w) : w));
  const quorum = options.quorum ?? witnesses.length;
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
    throw new RangeError(`quorum must be an integer from 0 to the ${witnesses.length} witnesses, got ${String(quorum)}`);
  }
  const { checkpoint } = verifyCheckpoint(signed, options.logKey, options.origin === undefined ? {} : { origin: options.origin });
  // verifyCheckpoint checked the log; now the witnesses (only), by the same signed-note rules.
  const cosignatures: VerifiedCosignature[] = [];
  if (witnesses.length > 0) {
    let verified: ReturnType<typeof verifyNote>['verified'] = [];
    try {
      verified = verifyNote(signed, witnesses).verified;
    } catch (err) {
      if (!(err instanceof ProofError && err.code === 'UNKNOWN_KEY')) throw err;
    }
    for (const v of verified) {
      cosignatures.push(Object.freeze({ name: v.name, keyId: v.keyId, timestamp: cosignatureTimestamp(v.signature) }));
    }
  }
  if (cosignatures.length < quorum) {
    throw new ProofError('QUORUM_NOT_MET', `${cosignatures.length} of the trusted witnesses cosigned, ${quorum} required`, {
      cosigned: cosignatures.map((c) => c.name),
      quorum,
    });
  }
  return Object.freeze({ checkpoint, cosignatures: Object.freeze(cosignatures) });
}

function checkExtends(previous: Checkpoint, next: Checkpoint, proof: readonly Uint8Array[] | undefined): void {
  const details = { previousSize: previous.size, size: next.size };
  if (next.size < previous.size) {
    throw new ProofError('STALE_CHECKPOINT', `the checkpoint (size ${next.size}) is smaller than one already cosigned (size ${previous.size})`, details);
  }
  if (previous.size === 0) {
    // Every tree extends the empty one; there is no proof to check, only the empty root.
    if (!bytesEqual(previous.rootHash, emptyRoot())) {
      throw new ProofError('CONSISTENCY_FAILED', 'the previous checkpoint has size 0 but not the empty root', details);
    }
    return;
  }
  if (next.size > previous.size && proof === undefined) {
    throw new ProofError('MALFORMED_PROOF', `a consistency proof from size ${previous.size} to ${next.size} is required`, details);
  }
  verifyConsistency(previous.size, next.size, proof ?? [], previous.rootHash, next.rootHash);
}

function previousCheckpoint(previous: string | Checkpoint): Checkpoint {
  if (typeof previous !== 'string') return previous;
  // A signed note, or bare checkpoint text: the witness's own record, so no signature check.
  return parseCheckpoint(previous.includes('\n\n') ? parseNote(previous).text : previous);
}

function witnessKey(options: CosignOptions): { name: string; seed: Uint8Array } {
  const { secretKey } = options;
  if (typeof secretKey === 'string') {
    const key = parseSignerKey(secretKey);
    if (key.type !== SIGNATURE_TYPE_COSIGNATURE_V1) throw new TypeError(`the witness skey must have type 0x04, got 0x${key.type.toString(16).padStart(2, '0')}`);
    if (options.name !== undefined && options.name !== key.name) throw new TypeError(`name ${JSON.stringify(options.name)} differs from the skey's ${JSON.stringify(key.name)}`);
    return { name: key.name, seed: key.seed };
  }
  if (!isBytes(secretKey) || (secretKey.length !== 32 && secretKey.length !== 64)) {
    throw new TypeError('secretKey must be a 32-byte seed, a 64-byte secret key (seed ‖ public key) or an skey string');
  }
  if (options.name === undefined) throw new TypeError('name is required when secretKey is bytes');
  const seed = secretKey.slice(0, 32);
  if (secretKey.length === 64 && !bytesEqual(secretKey.subarray(32), ed25519.getPublicKey(seed))) {
    throw new TypeError('the 64-byte secretKey does not end with the public key of its seed');
  }
  return { name: options.name, seed };
}

function readTimestamp(signature: Uint8Array): bigint {
  if (!isBytes(signature) || signature.length !== 72) {
    throw new ProofError('MALFORMED_NOTE', `a cosignature is 72 bytes after the key ID (timestamp and signature), got ${isBytes(signature) ? signature.length : 'none'}`);
  }
  let ts = 0n;
  for (let i = 0; i < 8; i++) ts = (ts << 8n) | BigInt(signature[i]!);
  return ts;
}

function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  let v = BigInt(value);
  for (let i = 7; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

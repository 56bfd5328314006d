/**
 * The one error class of `stele/proofs`.
 *
 * It mirrors {@link LedgerError}'s shape (a stable `code`, a message prefixed with the code,
 * plain-data `details`) but is its own class: `lib/errors.ts` has no `node:` imports, yet its
 * code union and advice table are closed over the ledger's codes, and this layer must stay
 * importable on its own (browsers, edge runtimes) without pulling the ledger's modules.
 */

/**
 * The stable codes a {@link ProofError} can carry.
 *
 * - `INCLUSION_FAILED`: an inclusion proof is well-formed but does not lead to the root.
 * - `CONSISTENCY_FAILED`: a consistency proof is well-formed but does not link the two roots
 *   (or two checkpoints of one size carry different roots).
 * - `MALFORMED_PROOF`: a proof has the wrong number of hashes, a hash is not 32 bytes, an index
 *   is outside the tree, or the sizes cannot be proven (size1 > size2, size1 = 0 < size2).
 * - `MALFORMED_NOTE`, `MALFORMED_KEY`, `MALFORMED_CHECKPOINT`, `MALFORMED_BUNDLE`: text that does
 *   not follow C2SP signed-note, its key encodings, tlog-checkpoint or tlog-proof.
 * - `BAD_SIGNATURE`: a signature by a known key (name and key ID match) does not verify.
 * - `UNKNOWN_KEY`: no signature in the note is by a known key.
 * - `QUORUM_NOT_MET`: fewer distinct trusted witnesses cosigned than the policy requires.
 * - `ORIGIN_MISMATCH`: the checkpoint is for another log than expected.
 * - `STALE_CHECKPOINT`: a witness was asked to cosign a tree smaller than one it cosigned.
 *
 * @example
 * ```ts
 * function isForgery(code: ProofErrorCode): boolean {
 *   return code === 'BAD_SIGNATURE' || code === 'INCLUSION_FAILED' || code === 'CONSISTENCY_FAILED';
 * }
 * ```
 */
export type ProofErrorCode =
  | 'INCLUSION_FAILED'
  | 'CONSISTENCY_FAILED'
  | 'MALFORMED_PROOF'
  | 'MALFORMED_NOTE'
  | 'MALFORMED_KEY'
  | 'MALFORMED_CHECKPOINT'
  | 'MALFORMED_BUNDLE'
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_KEY'
  | 'QUORUM_NOT_MET'
  | 'ORIGIN_MISMATCH'
  | 'STALE_CHECKPOINT';

/**
 * A verification or parsing failure with a stable `code`. Misuse of arguments (a negative
 * tree size, a quorum larger than the witness list) throws `TypeError`/`RangeError` instead.
 *
 * @example
 * ```ts
 * try {
 *   verifyInclusion(leafHash(bytes), 3, 8, proof, root);
 * } catch (err) {
 *   if (err instanceof ProofError && err.code === 'INCLUSION_FAILED') console.log('not in this tree');
 * }
 * ```
 */
export class ProofError extends Error {
  /** Stable machine-readable code. */
  readonly code: ProofErrorCode;
  /** Facts about this failure (sizes, indexes, key names) as plain data. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ProofErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.name = 'ProofError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }
}

/**
 * True when `value` is a {@link ProofError}, optionally with the given code.
 *
 * @example
 * ```ts
 * try {
 *   verifyNote(signedNote, [logVerifier]);
 * } catch (err) {
 *   if (isProofError(err, 'UNKNOWN_KEY')) console.log('not signed by the log');
 * }
 * ```
 */
export function isProofError(value: unknown, code?: ProofErrorCode): value is ProofError {
  return value instanceof ProofError && (code === undefined || value.code === code);
}

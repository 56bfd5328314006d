/**
 * How Stele events become leaves of the `stele/merkle/v1` tree (see `native-sql/TRANSPARENCY.md`):
 * the event with `sequence` s is leaf `s − 1`, and its leaf bytes are the 32 raw bytes of its
 * `content_hash` (stored as 64 lowercase hex characters), so the leaf hash is
 * `SHA-256(0x00 ‖ content_hash bytes)`. The content hash already commits to every column,
 * the signature and the previous hash, so the tree adds no second encoding of an event.
 */
import { fromHex } from './bytes.ts';

/**
 * The domain naming this leaf encoding and tree, for checkpoints and FORMAT.md.
 *
 * @example
 * ```ts
 * console.log(`tree: ${STELE_MERKLE_DOMAIN}`); // 'tree: stele/merkle/v1'
 * ```
 */
export const STELE_MERKLE_DOMAIN = 'stele/merkle/v1';

/**
 * The leaf bytes of an event: its `content_hash` hex decoded to 32 bytes.
 *
 * @example
 * ```ts
 * const leaf = eventLeaf('7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad');
 * verifyProofBundle(bundleText, { leaf, logKey });
 * ```
 */
export function eventLeaf(contentHash: string): Uint8Array {
  if (typeof contentHash !== 'string' || !/^[0-9a-f]{64}$/.test(contentHash)) {
    throw new TypeError(`contentHash must be 64 lowercase hex characters, got ${JSON.stringify(contentHash)}`);
  }
  return fromHex(contentHash)!;
}

/**
 * The leaf index of the event with this `sequence` (sequences start at 1, leaves at 0).
 *
 * @example
 * ```ts
 * leafIndexOf(1); // 0
 * ```
 */
export function leafIndexOf(sequence: number): number {
  if (!Number.isSafeInteger(sequence) || sequence < 1) throw new RangeError(`sequence must be a positive safe integer, got ${String(sequence)}`);
  return sequence - 1;
}

/**
 * The node hashes of the `stele/merkle/v1` tree (native-sql/TRANSPARENCY.md), as the triggers
 * of `005-merkle-tree.sql` compute them through the SQL functions of `sqlite/native-functions.ts`.
 * `lib/proofs/merkle-tree.ts` computes the same bytes without `node:` modules for browsers; this
 * copy uses node:crypto because it runs on every append, and the block SHA-256 of
 * `sha256-blocks.ts` for the pages verify recomputes.
 * @internal
 */
import { hash } from 'node:crypto';
import { paddedMessage, sha256PaddedInto } from './sha256-blocks.ts';

/** Scratch inputs, prefix in place: filled and hashed synchronously, so one of each serves every call. */
const leafInput = Buffer.alloc(33, 0x00);
const nodeInput = Buffer.alloc(65, 0x01);
const CONTENT_HASH = /^[0-9a-f]{64}$/;

/**
 * The leaf hash of an event: `SHA-256(0x00 ‖ the 32 raw bytes of its content_hash)`.
 *
 * @example
 * ```ts
 * merkleLeafHash('7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad').toString('hex');
 * // '12ccfbf2bd3dede32ba6da149708a23a0cb096273a7c70747bb823ee1cbdab23'
 * ```
 */
export function merkleLeafHash(contentHash: unknown): Buffer {
  if (typeof contentHash !== 'string' || !CONTENT_HASH.test(contentHash)) {
    throw new TypeError(`a Merkle leaf needs a content hash of 64 lowercase hex characters, got ${String(contentHash)}`);
  }
  leafInput.write(contentHash, 1, 'hex');
  return hash('sha256', leafInput, 'buffer');
}

/**
 * An interior node's hash: `SHA-256(0x01 ‖ left ‖ right)`, both children 32 bytes.
 *
 * @example
 * ```ts
 * const root2 = merkleNodeHash(merkleLeafHash(hash1), merkleLeafHash(hash2));
 * ```
 */
export function merkleNodeHash(left: unknown, right: unknown): Buffer {
  if (!(left instanceof Uint8Array) || left.length !== 32 || !(right instanceof Uint8Array) || right.length !== 32) {
    throw new TypeError('a Merkle node needs two 32-byte child hashes');
  }
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return hash('sha256', nodeInput, 'buffer');
}

/** The same inputs, padded once for {@link sha256PaddedInto}: the page functions below rewrite only the child bytes. */
const paddedLeaf = paddedMessage(33);
const paddedNode = paddedMessage(65);
paddedLeaf[0] = 0x00;
paddedNode[0] = 0x01;

/**
 * {@link merkleLeafHash} written into `into` at `at`, for verify's tree check, which hashes a page
 * of leaves into one buffer and compares it with the stored page at once. The content hash is
 * 64 hex digits (the chain check has just compared it with the one it recomputed).
 */
export function merkleLeafHashInto(contentHash: unknown, into: Uint8Array, at: number): void {
  if (typeof contentHash !== 'string' || contentHash.length !== 64 || paddedLeaf.write(contentHash, 1, 'hex') !== 32) {
    throw new TypeError(`a Merkle leaf needs a content hash of 64 lowercase hex characters, got ${String(contentHash)}`);
  }
  sha256PaddedInto(paddedLeaf, into, at);
}

/** {@link merkleNodeHash} of the two children at `childrenAt` in `children` (64 bytes, left then right), written into `into` at `at`. */
export function merkleNodeHashInto(children: Uint8Array, childrenAt: number, into: Uint8Array, at: number): void {
  if (!(childrenAt >= 0 && childrenAt + 64 <= children.length)) throw new TypeError('a Merkle node needs two 32-byte child hashes');
  paddedNode.set(children.subarray(childrenAt, childrenAt + 64), 1);
  sha256PaddedInto(paddedNode, into, at);
}

/** Leaves in one tile: the lowest level of the tree the file keeps (native-sql/schema/8-merkle-tree.sql) is log2 of it. */
export const TILE_LEAVES = 16;
/** The level of a tile's node. */
export const TILE_LEVEL = 4;

/**
 * The hash of the complete subtree over these events' leaves, from their content hashes in leaf
 * order (a power of two of them): the leaves hashed into one buffer, then each level into its
 * first half, so it allocates one buffer and returns a view of its first 32 bytes. A tile, the
 * node (4, i) the file keeps, is the subtree of {@link TILE_LEAVES}.
 *
 * @example
 * ```ts
 * merkleSubtreeHash(contentHashes.slice(0, 16)); // the node (4, 0) of the tree
 * ```
 */
export function merkleSubtreeHash(contentHashes: readonly unknown[]): Buffer {
  const count = contentHashes.length;
  if (count === 0 || (count & (count - 1)) !== 0) throw new TypeError(`a complete subtree has a power of two of leaves, got ${count}`);
  const nodes = Buffer.allocUnsafe(count * 32);
  for (let i = 0; i < count; i++) merkleLeafHashInto(contentHashes[i], nodes, i * 32);
  for (let width = count / 2; width >= 1; width /= 2) {
    // Node i of a level reads the children at 2i and 2i + 1, at or after where it is written.
    for (let i = 0; i < width; i++) merkleNodeHashInto(nodes, i * 64, nodes, i * 32);
  }
  return nodes.subarray(0, 32);
}

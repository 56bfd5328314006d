/**
 * The RFC 9162 (Certificate Transparency v2, §2.1) Merkle tree: hashing, the abstract store of
 * subtree hashes proofs are generated from, and its in-memory implementation.
 *
 * Hashing is domain-separated so a leaf can never pass for an interior node:
 * `leaf = SHA-256(0x00 ‖ leaf bytes)`, `node = SHA-256(0x01 ‖ left ‖ right)`, and the empty
 * tree's root is `SHA-256("")`. The tree over n leaves splits at the largest power of two
 * below n, so every left child is a complete (perfect) subtree and only the right border can be
 * incomplete. That is why a store of *complete* subtree hashes suffices to answer any proof for
 * any past tree size: a complete subtree never changes once its last leaf is appended.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { isBytes } from './bytes.ts';

/**
 * Bytes in every hash of the tree (SHA-256).
 *
 * @example
 * ```ts
 * if (hash.length !== HASH_SIZE) throw new TypeError('not a tree hash');
 * ```
 */
export const HASH_SIZE = 32;

const LEAF_PREFIX = Uint8Array.of(0x00);
const NODE_PREFIX = Uint8Array.of(0x01);

/**
 * The root of the empty tree, `SHA-256("")` (a fresh copy on each call).
 *
 * @example
 * ```ts
 * toHex(emptyRoot()); // 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
 * ```
 */
export function emptyRoot(): Uint8Array {
  return sha256(new Uint8Array(0));
}

/**
 * The leaf hash of `bytes`: `SHA-256(0x00 ‖ bytes)`. For a Stele event the leaf bytes are the
 * 32 raw bytes of its `content_hash` (see `native-sql/TRANSPARENCY.md`).
 *
 * @example
 * ```ts
 * const leaf = leafHash(new Uint8Array(0)); // 6e340b9c…afa01d
 * ```
 */
export function leafHash(bytes: Uint8Array): Uint8Array {
  assertBytes(bytes, 'leaf bytes');
  return sha256.create().update(LEAF_PREFIX).update(bytes).digest();
}

/**
 * The interior node hash `SHA-256(0x01 ‖ left ‖ right)`.
 *
 * @example
 * ```ts
 * const root2 = nodeHash(leafHash(a), leafHash(b)); // the root of the tree [a, b]
 * ```
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256.create().update(NODE_PREFIX).update(left).update(right).digest();
}

/**
 * Where proof generation reads hashes from. Only complete subtrees are asked for, each at most
 * once per proof and O(log n) per proof in all, so a SQLite table keyed by
 * `(level, start >> level)` holding each complete subtree's hash (written when its last leaf is
 * appended) can back it with point reads; {@link MemoryTree} is the in-memory implementation.
 *
 * @example
 * ```ts
 * // A source backed by a table merkle_nodes(level, idx, hash), filled as leaves are appended.
 * const source: SubtreeSource = {
 *   get size() { return db.prepare('SELECT count(*) AS n FROM merkle_nodes WHERE level = 0').get().n; },
 *   subtreeHash: (start, level) =>
 *     db.prepare('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?').get(level, start / 2 ** level).hash,
 * };
 * ```
 */
export interface SubtreeSource {
  /** How many leaves the source holds; proofs can be asked for any tree size up to it. */
  readonly size: number;
  /**
   * The hash of the complete subtree of `2 ** level` leaves `[start, start + 2 ** level)`.
   * Called only with `start` a multiple of `2 ** level` and `start + 2 ** level <= size`;
   * level 0 is a leaf hash.
   */
  subtreeHash(start: number, level: number): Uint8Array;
}

/**
 * An in-memory {@link SubtreeSource}: keeps every complete subtree hash (about 2n hashes for n
 * leaves), updated in O(log n) per append.
 *
 * @example
 * ```ts
 * const tree = MemoryTree.fromLeaves([utf8('a'), utf8('b'), utf8('c')]);
 * const proof = inclusionProof(tree, 1);
 * verifyInclusion(leafHash(utf8('b')), 1, tree.size, proof, tree.root());
 * ```
 */
export class MemoryTree implements SubtreeSource {
  /** `#levels[k][i]` is the hash of the complete subtree `[i * 2^k, (i + 1) * 2^k)`. */
  readonly #levels: Uint8Array[][] = [[]];

  /**
   * A tree over the given leaf bytes (each hashed with {@link leafHash}).
   *
   * @example
   * ```ts
   * const tree = MemoryTree.fromLeaves([new Uint8Array(0), Uint8Array.of(0)]);
   * tree.size; // 2
   * ```
   */
  static fromLeaves(leaves: Iterable<Uint8Array>): MemoryTree {
    const tree = new MemoryTree();
    for (const leaf of leaves) tree.appendLeaf(leaf);
    return tree;
  }

  /** The number of leaves. */
  get size(): number {
    return this.#levels[0]!.length;
  }

  /**
   * Appends leaf bytes (hashing them with {@link leafHash}); returns the new leaf's index.
   *
   * @example
   * ```ts
   * const index = tree.appendLeaf(contentHashBytes);
   * ```
   */
  appendLeaf(bytes: Uint8Array): number {
    return this.appendLeafHash(leafHash(bytes));
  }

  /**
   * Appends an already computed leaf hash; returns the new leaf's index.
   *
   * @example
   * ```ts
   * tree.appendLeafHash(leafHash(bytes));
   * ```
   */
  appendLeafHash(hash: Uint8Array): number {
    assertHash(hash, 'leaf hash');
    const levels = this.#levels;
    const index = levels[0]!.length;
    levels[0]!.push(hash.slice());
    // Each append completes one subtree per trailing 1 bit of the new size - 1's index.
    let i = index;
    let level = 0;
    while (i % 2 === 1) {
      const row = levels[level]!;
      const parent = nodeHash(row[i - 1]!, row[i]!);
      if (levels.length === level + 1) levels.push([]);
      levels[level + 1]!.push(parent);
      i = (i - 1) / 2;
      level++;
    }
    return index;
  }

  /**
   * {@inheritDoc SubtreeSource.subtreeHash}
   *
   * @example
   * ```ts
   * tree.subtreeHash(4, 2); // the hash of leaves 4..7
   * ```
   */
  subtreeHash(start: number, level: number): Uint8Array {
    assertSubtree(start, level, this.size);
    return this.#levels[level]![start / 2 ** level]!;
  }

  /**
   * The root of the first `size` leaves (default: all).
   *
   * @example
   * ```ts
   * tree.root(3); // the root the tree had when it held 3 leaves
   * ```
   */
  root(size: number = this.size): Uint8Array {
    return treeRoot(this, size);
  }
}

/**
 * The complete subtrees `(start, level)` whose hashes make up the hash of the leaf range
 * `[start, end)`, in reading order. A store can fetch them in one query before
 * {@link rangeHash} asks for them. For the ranges proofs use (aligned, as every node of the
 * tree is) there are at most ⌈log₂(end − start)⌉ + 1.
 *
 * @example
 * ```ts
 * rangeSubtrees(0, 6); // [{ start: 0, level: 2 }, { start: 4, level: 1 }]
 * ```
 */
export function rangeSubtrees(start: number, end: number): Array<{ start: number; level: number }> {
  assertIndex(start, 'start');
  assertIndex(end, 'end');
  if (end <= start) throw new RangeError(`a range needs start < end, got [${start}, ${end})`);
  const out: Array<{ start: number; level: number }> = [];
  collectRange(start, end, out);
  return out;
}

function collectRange(start: number, end: number, out: Array<{ start: number; level: number }>): void {
  const n = end - start;
  const level = exactLog2(n);
  if (level !== undefined && start % n === 0) {
    out.push({ start, level });
    return;
  }
  const k = largestPowerOfTwoBelow(n);
  collectRange(start, start + k, out);
  collectRange(start + k, end, out);
}

/**
 * The Merkle tree hash (RFC 9162 MTH) of the leaves `[start, end)` of `source`, read from
 * complete subtrees.
 *
 * @example
 * ```ts
 * rangeHash(tree, 4, 6); // nodeHash(leaf 4, leaf 5)
 * ```
 */
export function rangeHash(source: SubtreeSource, start: number, end: number): Uint8Array {
  assertIndex(start, 'start');
  assertIndex(end, 'end');
  if (end <= start) throw new RangeError(`a range needs start < end, got [${start}, ${end})`);
  if (end > source.size) throw new RangeError(`range end ${end} is past the source's ${source.size} leaves`);
  return hashRange(source, start, end);
}

/** @internal The Merkle tree hash of `[start, end)`, the range already checked against the source. */
export function hashRange(source: SubtreeSource, start: number, end: number): Uint8Array {
  const n = end - start;
  const level = exactLog2(n);
  if (level !== undefined && start % n === 0) return checkedHash(source.subtreeHash(start, level), start, level);
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(hashRange(source, start, start + k), hashRange(source, start + k, end));
}

/**
 * The root of a list of leaf hashes (`SHA-256("")` for none).
 *
 * @example
 * ```ts
 * merkleRoot([leafHash(a), leafHash(b)]); // nodeHash(leafHash(a), leafHash(b))
 * ```
 */
export function merkleRoot(leafHashes: readonly Uint8Array[]): Uint8Array {
  const tree = new MemoryTree();
  for (const hash of leafHashes) tree.appendLeafHash(hash);
  return tree.root();
}

/**
 * The root of the first `size` leaves of `source` (default: all of them).
 *
 * @example
 * ```ts
 * const root = treeRoot(source, 1000);
 * ```
 */
export function treeRoot(source: SubtreeSource, size: number = source.size): Uint8Array {
  assertSize(size, source);
  return size === 0 ? emptyRoot() : hashRange(source, 0, size);
}

function checkedHash(hash: Uint8Array, start: number, level: number): Uint8Array {
  if (!isBytes(hash) || hash.length !== HASH_SIZE) {
    throw new TypeError(`the source returned no ${HASH_SIZE}-byte hash for the subtree (start ${start}, level ${level})`);
  }
  return hash;
}

/** @internal The largest power of two strictly below n (n ≥ 2): RFC 9162's split point k. */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** @internal log₂ n when n is a power of two, else undefined. */
export function exactLog2(n: number): number | undefined {
  let level = 0;
  let k = 1;
  while (k < n) {
    k *= 2;
    level++;
  }
  return k === n ? level : undefined;
}

/** @internal A non-negative safe integer, else a RangeError (a caller's misuse). */
export function assertIndex(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
  }
}

/** @internal A tree size the source can answer for, else a RangeError. */
export function assertSize(size: number, source: SubtreeSource): void {
  assertIndex(size, 'size');
  if (size > source.size) throw new RangeError(`tree size ${size} exceeds the source's ${source.size} leaves`);
}

function assertSubtree(start: number, level: number, size: number): void {
  assertIndex(start, 'start');
  if (!Number.isInteger(level) || level < 0 || level > 53) throw new RangeError(`level must be an integer in [0, 53], got ${String(level)}`);
  const width = 2 ** level;
  if (start % width !== 0) throw new RangeError(`a subtree of level ${level} starts at a multiple of ${width}, got ${start}`);
  if (start + width > size) throw new RangeError(`the subtree [${start}, ${start + width}) is not complete in a tree of ${size} leaves`);
}

/** @internal A Uint8Array, else a TypeError. */
export function assertBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!isBytes(value)) throw new TypeError(`${name} must be a Uint8Array`);
}

function assertHash(value: unknown, name: string): asserts value is Uint8Array {
  if (!isBytes(value) || value.length !== HASH_SIZE) throw new TypeError(`${name} must be a ${HASH_SIZE}-byte Uint8Array`);
}

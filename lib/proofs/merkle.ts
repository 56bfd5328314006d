/**
 * The RFC 9162 (Certificate Transparency v2, §2.1) Merkle tree: hashing, proof generation over
 * an abstract store of subtree hashes, and proof verification.
 *
 * Hashing is domain-separated so a leaf can never pass for an interior node:
 * `leaf = SHA-256(0x00 ‖ leaf bytes)`, `node = SHA-256(0x01 ‖ left ‖ right)`, and the empty
 * tree's root is `SHA-256("")`. The tree over n leaves splits at the largest power of two
 * below n, so every left child is a complete (perfect) subtree and only the right border can be
 * incomplete. That is why a store of *complete* subtree hashes suffices to answer any proof for
 * any past tree size: a complete subtree never changes once its last leaf is appended.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, isBytes } from './bytes.ts';
import { ProofError } from './proof-error.ts';

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

function hashRange(source: SubtreeSource, start: number, end: number): Uint8Array {
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

/**
 * The inclusion proof (RFC 9162 §2.1.3.1 PATH) of leaf `index` in the tree of the first
 * `size` leaves of `source`: the sibling hashes from the leaf's up to the root's child.
 *
 * @example
 * ```ts
 * const proof = inclusionProof(tree, 5, 8); // 3 hashes
 * ```
 */
export function inclusionProof(source: SubtreeSource, index: number, size: number = source.size): Uint8Array[] {
  assertSize(size, source);
  assertIndex(index, 'index');
  if (index >= size) throw new RangeError(`index must be below the tree size ${size}, got ${index}`);
  const ranges: Array<[number, number]> = [];
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const k = largestPowerOfTwoBelow(hi - lo);
    if (index - lo < k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      lo += k;
    }
  }
  // Found from the root down; a proof lists them from the leaf up.
  return ranges.reverse().map(([a, b]) => hashRange(source, a, b));
}

/**
 * The consistency proof (RFC 9162 §2.1.4.1 PROOF) that the tree of the first `size1` leaves is
 * a prefix of the tree of the first `size2` leaves. Empty when the sizes are equal; a proof
 * from the empty tree does not exist (any tree extends it), so `size1 = 0 < size2` is a
 * RangeError.
 *
 * @example
 * ```ts
 * const proof = consistencyProof(tree, 6, 8); // 3 hashes
 * ```
 */
export function consistencyProof(source: SubtreeSource, size1: number, size2: number = source.size): Uint8Array[] {
  assertSize(size2, source);
  assertIndex(size1, 'size1');
  if (size1 > size2) throw new RangeError(`size1 must not exceed size2 (${size2}), got ${size1}`);
  if (size1 === size2) return [];
  if (size1 === 0) {
    throw new RangeError('no consistency proof exists from the empty tree: any tree extends it; check root1 = SHA-256("") instead');
  }
  const ranges: Array<[number, number]> = [];
  let m = size1; // leaves of the old tree inside [lo, hi)
  let lo = 0;
  let hi = size2;
  let whole = true; // SUBPROOF's b: the old root is known to the verifier, leave it out
  for (;;) {
    if (m === hi - lo) {
      if (!whole) ranges.push([lo, hi]);
      break;
    }
    const k = largestPowerOfTwoBelow(hi - lo);
    if (m <= k) {
      ranges.push([lo + k, hi]);
      hi = lo + k;
    } else {
      ranges.push([lo, lo + k]);
      m -= k;
      lo += k;
      whole = false;
    }
  }
  return ranges.reverse().map(([a, b]) => hashRange(source, a, b));
}

/**
 * Verifies an inclusion proof per RFC 9162 §2.1.3.2; returns nothing or throws a
 * {@link ProofError}: `MALFORMED_PROOF` (index ≥ size, a hash not 32 bytes, too many or too
 * few hashes for this index and size) or `INCLUSION_FAILED` (the hashes lead to another root).
 *
 * @example
 * ```ts
 * verifyInclusion(leafHash(contentHash), sequence - 1, checkpoint.size, proof, checkpoint.rootHash);
 * ```
 */
export function verifyInclusion(
  leaf: Uint8Array,
  index: number,
  treeSize: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  assertProofNumber(index, 'index');
  assertProofNumber(treeSize, 'treeSize');
  assertBytes(root, 'root');
  if (index >= treeSize) {
    throw new ProofError('MALFORMED_PROOF', `leaf index ${index} is not in a tree of size ${treeSize}`, { index, treeSize });
  }
  if (!isBytes(leaf) || leaf.length !== HASH_SIZE) {
    throw new ProofError('MALFORMED_PROOF', `the leaf hash must be ${HASH_SIZE} bytes`, { length: isBytes(leaf) ? leaf.length : undefined });
  }
  checkProofHashes(proof);
  const expected = inclusionLength(index, treeSize);
  if (proof.length !== expected) {
    throw new ProofError('MALFORMED_PROOF', `an inclusion proof of leaf ${index} in a tree of size ${treeSize} has ${expected} hashes, got ${proof.length}`, { index, treeSize, expected, actual: proof.length });
  }
  let fn = index;
  let sn = treeSize - 1;
  let r = leaf;
  for (const p of proof) {
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = fn / 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (!bytesEqual(r, root)) {
    throw new ProofError('INCLUSION_FAILED', `the proof does not lead from leaf ${index} to the root of the tree of size ${treeSize}`, { index, treeSize });
  }
}

/**
 * Verifies that the tree `(size1, root1)` is a prefix of `(size2, root2)` per RFC 9162
 * §2.1.4.2; returns nothing or throws a {@link ProofError}.
 *
 * - Equal sizes: the proof must be empty and the roots equal (and, at size 0, equal to
 *   `SHA-256("")`).
 * - `size1 = 0 < size2`, `size1 > size2`, an empty proof for different sizes, a hash not 32
 *   bytes, or the wrong number of hashes: `MALFORMED_PROOF`. (From the empty tree nothing is to
 *   prove: a caller holding size 0 checks its root is `SHA-256("")` and accepts any newer tree.)
 * - Otherwise the proof must rebuild both roots: `CONSISTENCY_FAILED` if not.
 *
 * @example
 * ```ts
 * verifyConsistency(old.size, cp.size, proof, old.rootHash, cp.rootHash);
 * ```
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): void {
  assertProofNumber(size1, 'size1');
  assertProofNumber(size2, 'size2');
  assertBytes(root1, 'root1');
  assertBytes(root2, 'root2');
  const details = { size1, size2 };
  if (size1 > size2) throw new ProofError('MALFORMED_PROOF', `size1 ${size1} exceeds size2 ${size2}`, details);
  if (size1 === size2) {
    if (proof.length > 0) throw new ProofError('MALFORMED_PROOF', 'trees of equal size need an empty consistency proof', details);
    if (!bytesEqual(root1, root2)) throw new ProofError('CONSISTENCY_FAILED', `two trees of size ${size1} have different roots`, details);
    if (size1 === 0 && !bytesEqual(root1, emptyRoot())) {
      throw new ProofError('CONSISTENCY_FAILED', 'the root of the empty tree must be SHA-256("")', details);
    }
    return;
  }
  if (size1 === 0) {
    throw new ProofError('MALFORMED_PROOF', 'a consistency proof from the empty tree proves nothing; check root1 = SHA-256("") instead', details);
  }
  if (proof.length === 0) throw new ProofError('MALFORMED_PROOF', `trees of sizes ${size1} and ${size2} need a non-empty consistency proof`, details);
  checkProofHashes(proof);
  const path = [...proof];
  const isPowerOfTwo = exactLog2(size1) !== undefined;
  if (isPowerOfTwo) path.unshift(root1);
  // The seed is the hash of the largest complete subtree ending at leaf size1 - 1; the rest of
  // the path is an inclusion proof of that subtree in tree 2 (RFC 9162 §2.1.4.2 steps 3-6).
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = (fn - 1) / 2;
    sn = Math.floor(sn / 2);
  }
  const expected = inclusionLength(fn, sn + 1) + 1;
  if (path.length !== expected) {
    const want = expected - (isPowerOfTwo ? 1 : 0);
    throw new ProofError('MALFORMED_PROOF', `a consistency proof from ${size1} to ${size2} has ${want} hashes, got ${proof.length}`, { ...details, expected: want, actual: proof.length });
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = fn / 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (!bytesEqual(fr, root1)) {
    throw new ProofError('CONSISTENCY_FAILED', `the proof does not rebuild the root of the tree of size ${size1}`, details);
  }
  if (!bytesEqual(sr, root2)) {
    throw new ProofError('CONSISTENCY_FAILED', `the proof does not rebuild the root of the tree of size ${size2}`, details);
  }
}

/**
 * How many hashes the RFC 9162 verification loop consumes for leaf `index` of a tree of `size`:
 * the same walk as the verifier, without hashing. (It equals the bit length of
 * `index XOR (size - 1)` plus the 1 bits of `index` above it.)
 */
function inclusionLength(index: number, size: number): number {
  let fn = index;
  let sn = size - 1;
  let count = 0;
  while (sn > 0) {
    count++;
    if (fn % 2 === 1 || fn === sn) {
      while (fn % 2 === 0 && fn !== 0) {
        fn = fn / 2;
        sn = Math.floor(sn / 2);
      }
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return count;
}

function checkProofHashes(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) throw new TypeError('proof must be an array of 32-byte hashes');
  proof.forEach((hash, i) => {
    if (!isBytes(hash) || hash.length !== HASH_SIZE) {
      throw new ProofError('MALFORMED_PROOF', `proof hash ${i} must be ${HASH_SIZE} bytes`, { position: i, length: isBytes(hash) ? hash.length : undefined });
    }
  });
}

function checkedHash(hash: Uint8Array, start: number, level: number): Uint8Array {
  if (!isBytes(hash) || hash.length !== HASH_SIZE) {
    throw new TypeError(`the source returned no ${HASH_SIZE}-byte hash for the subtree (start ${start}, level ${level})`);
  }
  return hash;
}

/** The largest power of two strictly below n (n ≥ 2): RFC 9162's split point k. */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** log₂ n when n is a power of two, else undefined. */
function exactLog2(n: number): number | undefined {
  let level = 0;
  let k = 1;
  while (k < n) {
    k *= 2;
    level++;
  }
  return k === n ? level : undefined;
}

/** Verifier inputs are data: a number no tree can have is a malformed proof, not misuse. */
function assertProofNumber(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProofError('MALFORMED_PROOF', `${name} must be a non-negative safe integer, got ${String(value)}`, { [name]: value });
  }
}

function assertIndex(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative safe integer, got ${String(value)}`);
  }
}

function assertSize(size: number, source: SubtreeSource): void {
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

function assertBytes(value: unknown, name: string): asserts value is Uint8Array {
  if (!isBytes(value)) throw new TypeError(`${name} must be a Uint8Array`);
}

function assertHash(value: unknown, name: string): asserts value is Uint8Array {
  if (!isBytes(value) || value.length !== HASH_SIZE) throw new TypeError(`${name} must be a ${HASH_SIZE}-byte Uint8Array`);
}

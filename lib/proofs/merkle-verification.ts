/**
 * RFC 9162 proof verification: inclusion (§2.1.3.2) and consistency (§2.1.4.2). Verifier inputs
 * are data from elsewhere, so every way they can be wrong is a {@link ProofError} with a code,
 * never a crash or a silent pass.
 */
import { bytesEqual, isBytes } from './bytes.ts';
import { assertBytes, emptyRoot, exactLog2, HASH_SIZE, nodeHash } from './merkle-tree.ts';
import { ProofError } from './proof-error.ts';

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
  const sides = pathSides(index, treeSize);
  if (proof.length !== sides.length) {
    const expected = sides.length;
    throw new ProofError('MALFORMED_PROOF', `an inclusion proof of leaf ${index} in a tree of size ${treeSize} has ${expected} hashes, got ${proof.length}`, { index, treeSize, expected, actual: proof.length });
  }
  let r = leaf;
  proof.forEach((p, i) => {
    r = sides[i] ? nodeHash(p, r) : nodeHash(r, p);
  });
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
  const sides = pathSides(fn, sn + 1);
  if (path.length !== sides.length + 1) {
    const want = sides.length + 1 - (isPowerOfTwo ? 1 : 0);
    throw new ProofError('MALFORMED_PROOF', `a consistency proof from ${size1} to ${size2} has ${want} hashes, got ${proof.length}`, { ...details, expected: want, actual: proof.length });
  }
  let fr = path[0]!;
  let sr = path[0]!;
  sides.forEach((left, i) => {
    const c = path[i + 1]!;
    if (left) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
    } else {
      sr = nodeHash(sr, c);
    }
  });
  if (!bytesEqual(fr, root1)) {
    throw new ProofError('CONSISTENCY_FAILED', `the proof does not rebuild the root of the tree of size ${size1}`, details);
  }
  if (!bytesEqual(sr, root2)) {
    throw new ProofError('CONSISTENCY_FAILED', `the proof does not rebuild the root of the tree of size ${size2}`, details);
  }
}

/**
 * The RFC 9162 verification walk for leaf `index` of a tree of `size`, without hashing: for
 * each proof hash from the leaf up, true when it is the left sibling (hashed before the running
 * value), false when it is the right one. Its length is how many hashes the proof must have.
 */
function pathSides(index: number, size: number): boolean[] {
  const sides: boolean[] = [];
  let fn = index;
  let sn = size - 1;
  while (sn > 0) {
    const left = fn % 2 === 1 || fn === sn;
    sides.push(left);
    // The last node of its level with no sibling there (fn = sn, even): climb to where it has one.
    while (left && fn % 2 === 0 && fn !== 0) {
      fn = fn / 2;
      sn = Math.floor(sn / 2);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sides;
}

function checkProofHashes(proof: readonly Uint8Array[]): void {
  if (!Array.isArray(proof)) throw new TypeError('proof must be an array of 32-byte hashes');
  proof.forEach((hash, i) => {
    if (!isBytes(hash) || hash.length !== HASH_SIZE) {
      throw new ProofError('MALFORMED_PROOF', `proof hash ${i} must be ${HASH_SIZE} bytes`, { position: i, length: isBytes(hash) ? hash.length : undefined });
    }
  });
}

/** Verifier inputs are data: a number no tree can have is a malformed proof, not misuse. */
function assertProofNumber(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ProofError('MALFORMED_PROOF', `${name} must be a non-negative safe integer, got ${String(value)}`, { [name]: value });
  }
}

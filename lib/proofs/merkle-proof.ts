/**
 * RFC 9162 proof generation: inclusion proofs (§2.1.3.1) and consistency proofs (§2.1.4.1),
 * read from any {@link SubtreeSource} for any tree size it holds. Each proof hash is the hash
 * of a range of leaves, assembled from complete subtrees only.
 */
import { assertIndex, assertSize, hashRange, largestPowerOfTwoBelow, type SubtreeSource } from './merkle-tree.ts';

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

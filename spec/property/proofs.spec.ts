/**
 * Properties of the RFC 9162 tree in stele/proofs, for random tree sizes and positions:
 *
 * - roots equal the RFC's recursive definition of MTH, written here from the RFC alone;
 * - a generated inclusion or consistency proof verifies against the computed roots;
 * - any single flipped bit in any proof hash fails, as does a wrong index or a wrong size
 *   (checked against the root of the size claimed, as a checkpoint signs size and root
 *   together). The exact code follows from the shape: a proof whose length is not the one the
 *   claimed position calls for is MALFORMED_PROOF, any other wrong proof INCLUSION_FAILED or
 *   CONSISTENCY_FAILED;
 * - signed notes verify for any text, and any change to the text is BAD_SIGNATURE.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  MemoryTree,
  ProofError,
  consistencyProof,
  generateKeyPair,
  inclusionProof,
  leafHash,
  rangeHash,
  signNote,
  verifyConsistency,
  verifyInclusion,
  verifyNote,
  type ProofErrorCode,
} from '../../lib/proofs/index.ts';

const MAX = 300;
const LEAVES = Array.from({ length: MAX }, (_, i) => new Uint8Array(Buffer.from(`leaf ${i}`)));
const TREE = MemoryTree.fromLeaves(LEAVES);

/** RFC 9162 §2.1.1 MTH, straight from the definition, with node:crypto. */
function mth(leaves: readonly Uint8Array[]): Uint8Array {
  const sha = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return sha(Uint8Array.of(0), leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha(Uint8Array.of(1), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function codeOf(fn: () => void): ProofErrorCode | 'OK' {
  try {
    fn();
    return 'OK';
  } catch (err) {
    if (err instanceof ProofError) return err.code;
    throw err;
  }
}

function flipBit(proof: readonly Uint8Array[], which: number, bit: number): Uint8Array[] {
  const copy = proof.map((h) => h.slice());
  const hash = copy[which % copy.length]!;
  hash[Math.floor(bit / 8) % 32]! ^= 1 << (bit % 8);
  return copy;
}

const sizeAndIndex = fc.integer({ min: 1, max: MAX }).chain((size) => fc.tuple(fc.constant(size), fc.integer({ min: 0, max: size - 1 })));
const sizes = fc.integer({ min: 1, max: MAX }).chain((size2) => fc.tuple(fc.integer({ min: 1, max: size2 }), fc.constant(size2)));

test('roots and range hashes equal the RFC definition', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: MAX }), fc.integer({ min: 0, max: MAX - 1 }), (size, start) => {
      assert.deepEqual(TREE.root(size), mth(LEAVES.slice(0, size)));
      const end = Math.min(MAX, start + 1 + (size % 64));
      assert.deepEqual(rangeHash(TREE, start, end), mth(LEAVES.slice(start, end)));
    }),
    { numRuns: 150 },
  );
});

test('inclusion proofs verify; a flipped bit, a wrong index or a wrong size fails with its code', () => {
  fc.assert(
    fc.property(sizeAndIndex, fc.nat(), fc.nat(255), fc.integer({ min: 1, max: MAX }), fc.nat(), ([size, index], which, bit, otherSize, otherIndexSeed) => {
      const proof = inclusionProof(TREE, index, size);
      const leaf = leafHash(LEAVES[index]!);
      const root = TREE.root(size);
      verifyInclusion(leaf, index, size, proof, root);

      if (proof.length > 0) {
        assert.equal(codeOf(() => verifyInclusion(leaf, index, size, flipBit(proof, which, bit), root)), 'INCLUSION_FAILED');
      }
      if (size > 1) {
        const otherIndex = (index + 1 + (otherIndexSeed % (size - 1))) % size;
        const expected = inclusionProof(TREE, otherIndex, size).length === proof.length ? 'INCLUSION_FAILED' : 'MALFORMED_PROOF';
        assert.equal(codeOf(() => verifyInclusion(leaf, otherIndex, size, proof, root)), expected, `index ${otherIndex} for ${index} in ${size}`);
      }
      if (otherSize !== size) {
        const expected =
          index >= otherSize || inclusionProof(TREE, index, otherSize).length !== proof.length ? 'MALFORMED_PROOF' : 'INCLUSION_FAILED';
        assert.equal(codeOf(() => verifyInclusion(leaf, index, otherSize, proof, TREE.root(otherSize))), expected, `size ${otherSize} for ${size}`);
      }
      assert.equal(codeOf(() => verifyInclusion(leaf, index, size, [...proof, proof[0] ?? root], root)), 'MALFORMED_PROOF');
    }),
    { numRuns: 300 },
  );
});

test('consistency proofs verify; a flipped bit, a wrong size1 or a wrong size2 fails with its code', () => {
  const expectedFor = (size1: number, size2: number, proof: readonly Uint8Array[]): ProofErrorCode => {
    if (size1 > size2 || (size1 === size2 && proof.length > 0) || (size1 < size2 && proof.length === 0)) return 'MALFORMED_PROOF';
    if (size1 < size2 && consistencyProof(TREE, size1, size2).length !== proof.length) return 'MALFORMED_PROOF';
    return 'CONSISTENCY_FAILED';
  };
  fc.assert(
    fc.property(sizes, fc.nat(), fc.nat(255), fc.integer({ min: 1, max: MAX }), fc.integer({ min: 1, max: MAX }), ([size1, size2], which, bit, other1, other2) => {
      const proof = consistencyProof(TREE, size1, size2);
      const root1 = TREE.root(size1);
      const root2 = TREE.root(size2);
      verifyConsistency(size1, size2, proof, root1, root2);
      if (size1 === size2) assert.equal(proof.length, 0);

      if (proof.length > 0) {
        assert.equal(codeOf(() => verifyConsistency(size1, size2, flipBit(proof, which, bit), root1, root2)), 'CONSISTENCY_FAILED');
      }
      if (other1 !== size1) {
        assert.equal(codeOf(() => verifyConsistency(other1, size2, proof, TREE.root(other1), root2)), expectedFor(other1, size2, proof), `size1 ${other1} for ${size1} → ${size2}`);
      }
      if (other2 !== size2) {
        assert.equal(codeOf(() => verifyConsistency(size1, other2, proof, root1, TREE.root(other2))), expectedFor(size1, other2, proof), `size2 ${other2} for ${size1} → ${size2}`);
      }
      // A different tree of the same sizes (one leaf changed below size1) is caught.
      const changed = Math.min(size1 - 1, which % size1);
      const forkLeaves = LEAVES.slice(0, size2).map((l, i) => (i === changed ? new Uint8Array([...l, 0x21]) : l));
      const fork = MemoryTree.fromLeaves(forkLeaves);
      if (size1 < size2) {
        assert.equal(codeOf(() => verifyConsistency(size1, size2, consistencyProof(fork, size1, size2), root1, fork.root())), 'CONSISTENCY_FAILED');
      } else {
        assert.equal(codeOf(() => verifyConsistency(size1, size2, [], root1, fork.root())), 'CONSISTENCY_FAILED');
      }
    }),
    { numRuns: 200 },
  );
});

test('a signed note verifies for any text; any change to the text is BAD_SIGNATURE', () => {
  const { signerKey, verifierKey } = generateKeyPair('example.com/log', { seed: new Uint8Array(32).fill(9) });
  const line = fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\u0000-\u001f]/g, ''));
  fc.assert(
    fc.property(fc.array(line, { minLength: 1, maxLength: 5 }), fc.nat(), (lines, at) => {
      const text = `${lines.join('\n')}\n`;
      const signed = signNote(text, signerKey);
      assert.equal(verifyNote(signed, [verifierKey]).text, text);
      // Change one character of the text (not its final newline) to another printable one.
      const position = at % text.length;
      const code = text.charCodeAt(position);
      if (text[position] === '\n' || (code >= 0xd800 && code <= 0xdfff)) return;
      const replacement = text[position] === 'x' ? 'y' : 'x';
      const changed = text.slice(0, position) + replacement + text.slice(position + 1);
      assert.equal(codeOf(() => verifyNote(signed.replace(text, changed), [verifierKey])), 'BAD_SIGNATURE');
    }),
    { numRuns: 60 },
  );
});

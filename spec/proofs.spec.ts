/**
 * stele/proofs against outside answers: every inclusion and consistency vector of
 * transparency-dev/merkle (read from ../shared/tlog, never copied), every known answer of
 * known-answers.md (hashes, roots, proofs, signed-note and cosignature lines byte for byte),
 * and the behaviours the C2SP specs require of verifiers, witnesses and proof bundles.
 */
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import ts from 'typescript';
import {
  MemoryTree,
  ProofError,
  STELE_MERKLE_DOMAIN,
  addSignatures,
  consistencyProof,
  cosignCheckpoint,
  cosignatureMessage,
  cosignatureTimestamp,
  cosignatureVerifier,
  emptyRoot,
  eventLeaf,
  formatCheckpoint,
  formatProofBundle,
  formatSignatureLine,
  formatSignerKey,
  formatVerifierKey,
  generateKeyPair,
  inclusionProof,
  keyId,
  leafHash,
  leafIndexOf,
  merkleRoot,
  nodeHash,
  noteSigner,
  noteVerifier,
  parseCheckpoint,
  parseNote,
  parseProofBundle,
  parseSignerKey,
  parseVerifierKey,
  rangeHash,
  rangeSubtrees,
  signCheckpoint,
  signNote,
  treeRoot,
  verifyCheckpoint,
  verifyConsistency,
  verifyCosignedCheckpoint,
  verifyInclusion,
  verifyNote,
  verifyProofBundle,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  SIGNATURE_TYPE_ED25519,
  type ProofErrorCode,
  type SubtreeSource,
} from '../lib/proofs/index.ts';
import { readVectors, requireTlogData } from './helpers/tlog-vectors.ts';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const utf8 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'));

/** Asserts that `fn` throws a ProofError with exactly `code`. */
function throwsCode(fn: () => unknown, code: ProofErrorCode, message?: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ProofError, `expected a ProofError, got ${String(err)}${message ? ` (${message})` : ''}`);
    assert.equal(err.code, code, `${message ?? ''} ${err.message}`);
    assert.ok(err.message.startsWith(`${code}: `));
    return true;
  });
}

// The 8-leaf RFC 6962 test tree behind every vector (known-answers.md §1).
const TEST_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(unhex);
const TEST_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

/** How many hashes a proof has, taken from the generator (not the verifier) over a dummy tree. */
const DUMMY = MemoryTree.fromLeaves(Array.from({ length: 64 }, (_, i) => Uint8Array.of(i)));
const inclusionLength = (index: number, size: number): number => inclusionProof(DUMMY, index, size).length;
const consistencyLength = (size1: number, size2: number): number => consistencyProof(DUMMY, size1, size2).length;

describe('transparency-dev/merkle vectors', () => {
  interface InclusionVector { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean }
  interface ConsistencyVector { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean }

  test('every inclusion vector gets its verdict, with the code its defect calls for', (t) => {
    if (!requireTlogData(t)) return;
    const vectors = readVectors<InclusionVector>('inclusion');
    assert.equal(vectors.length, 98, 'the number of inclusion vector files');
    let accepted = 0;
    for (const { name, data: v } of vectors) {
      const proof = (v.proof ?? []).map(b64);
      const leaf = b64(v.leafHash);
      const run = () => verifyInclusion(leaf, v.leafIdx, v.treeSize, proof, b64(v.root));
      if (!v.wantErr) {
        run();
        accepted++;
        continue;
      }
      // The vector says "reject"; which code is decided by the shape alone: an index outside
      // the tree, a hash that is not 32 bytes or a proof of the wrong length is malformed,
      // anything else is a proof that leads elsewhere.
      const malformed =
        !Number.isSafeInteger(v.leafIdx) || // leafIdx-sub-@1 of index 0 wraps to 2^64 - 1 upstream
        v.leafIdx >= v.treeSize ||
        leaf.length !== 32 ||
        proof.some((h) => h.length !== 32) ||
        proof.length !== inclusionLength(v.leafIdx, v.treeSize);
      throwsCode(run, malformed ? 'MALFORMED_PROOF' : 'INCLUSION_FAILED', name);
    }
    assert.equal(accepted, 6, 'happy paths and the matching single entry');
  });

  test('every consistency vector gets its verdict, with the code its defect calls for', (t) => {
    if (!requireTlogData(t)) return;
    const vectors = readVectors<ConsistencyVector>('consistency');
    assert.equal(vectors.length, 98, 'the number of consistency vector files');
    let accepted = 0;
    for (const { name, data: v } of vectors) {
      const proof = (v.proof ?? []).map(b64);
      const run = () => verifyConsistency(v.size1, v.size2, proof, b64(v.root1), b64(v.root2));
      if (!v.wantErr) {
        run();
        accepted++;
        continue;
      }
      const malformed =
        v.size1 > v.size2 ||
        (v.size1 === v.size2 && proof.length > 0) ||
        (v.size1 === 0 && v.size2 > 0) ||
        proof.some((h) => h.length !== 32) ||
        (v.size1 > 0 && v.size1 < v.size2 && proof.length !== consistencyLength(v.size1, v.size2));
      throwsCode(run, malformed ? 'MALFORMED_PROOF' : 'CONSISTENCY_FAILED', name);
    }
    assert.equal(accepted, 6, 'happy paths and equal sizes with an empty proof');
  });
});

describe('known answers §1: RFC 6962 hashing, roots and proofs', () => {
  test('hasher answers', () => {
    assert.equal(hex(emptyRoot()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(hex(treeRoot(new MemoryTree())), hex(emptyRoot()));
    assert.equal(hex(merkleRoot([])), hex(emptyRoot()));
    assert.equal(hex(leafHash(new Uint8Array(0))), '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    assert.equal(hex(leafHash(utf8('L123456'))), '395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56');
    assert.equal(hex(nodeHash(utf8('N123'), utf8('N456'))), 'aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb');
  });

  test('the roots of the first n leaves of the test tree', () => {
    const tree = MemoryTree.fromLeaves(TEST_LEAVES);
    TEST_ROOTS.forEach((root, i) => {
      assert.equal(hex(tree.root(i + 1)), root, `root of ${i + 1}`);
      assert.equal(hex(merkleRoot(TEST_LEAVES.slice(0, i + 1).map(leafHash))), root, `merkleRoot of ${i + 1}`);
      assert.equal(hex(MemoryTree.fromLeaves(TEST_LEAVES.slice(0, i + 1)).root()), root, `a tree of exactly ${i + 1}`);
    });
  });

  test('the proofs the vectors use are the ones generated, and they verify', () => {
    const tree = MemoryTree.fromLeaves(TEST_LEAVES);
    const inclusion: Array<[number, number, string[]]> = [
      [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
      [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
      [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
      [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d', '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
    ];
    for (const [index, size, want] of inclusion) {
      const proof = inclusionProof(tree, index, size);
      assert.deepEqual(proof.map(hex), want, `inclusion ${index} in ${size}`);
      verifyInclusion(leafHash(TEST_LEAVES[index]!), index, size, proof, tree.root(size));
    }
    const consistency: Array<[number, number, string[]]> = [
      [1, 8, inclusion[0]![2]],
      [6, 8, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
      [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
      [6, 7, ['0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a', 'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f', 'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
      [1, 1, []],
    ];
    for (const [size1, size2, want] of consistency) {
      const proof = consistencyProof(tree, size1, size2);
      assert.deepEqual(proof.map(hex), want, `consistency ${size1} → ${size2}`);
      verifyConsistency(size1, size2, proof, tree.root(size1), tree.root(size2));
    }
  });
});

describe('the subtree source', () => {
  test('a source that serves only complete subtrees answers every proof in O(log n) reads', () => {
    const tree = MemoryTree.fromLeaves(Array.from({ length: 1000 }, (_, i) => utf8(`leaf ${i}`)));
    const reads: Array<[number, number]> = [];
    const counting: SubtreeSource = {
      size: tree.size,
      subtreeHash(start, level) {
        reads.push([start, level]);
        return tree.subtreeHash(start, level);
      },
    };
    for (const [index, size] of [[0, 1000], [999, 1000], [517, 1000], [300, 777]] as const) {
      reads.length = 0;
      const proof = inclusionProof(counting, index, size);
      verifyInclusion(leafHash(utf8(`leaf ${index}`)), index, size, proof, tree.root(size));
      assert.ok(reads.length <= 2 * Math.ceil(Math.log2(size)), `${reads.length} reads for an inclusion proof in ${size}`);
      for (const [start, level] of reads) assert.ok(start % 2 ** level === 0 && start + 2 ** level <= size);
    }
    reads.length = 0;
    verifyConsistency(333, 1000, consistencyProof(counting, 333, 1000), tree.root(333), tree.root(1000));
    assert.ok(reads.length <= 2 * Math.ceil(Math.log2(1000)), `${reads.length} reads for a consistency proof`);
  });

  test('rangeSubtrees lists the complete subtrees rangeHash reads', () => {
    const tree = MemoryTree.fromLeaves(TEST_LEAVES);
    assert.deepEqual(rangeSubtrees(0, 6), [{ start: 0, level: 2 }, { start: 4, level: 1 }]);
    assert.deepEqual(rangeSubtrees(4, 7), [{ start: 4, level: 1 }, { start: 6, level: 0 }]);
    assert.equal(hex(rangeHash(tree, 0, 6)), TEST_ROOTS[5]);
    assert.equal(hex(rangeHash(tree, 4, 6)), hex(nodeHash(leafHash(TEST_LEAVES[4]!), leafHash(TEST_LEAVES[5]!))));
  });

  test('generation misuse is a RangeError naming the argument', () => {
    const tree = MemoryTree.fromLeaves(TEST_LEAVES);
    assert.throws(() => inclusionProof(tree, 8, 8), /index must be below the tree size 8/);
    assert.throws(() => inclusionProof(tree, 0, 9), /tree size 9 exceeds/);
    assert.throws(() => consistencyProof(tree, 0, 8), /empty tree/);
    assert.throws(() => consistencyProof(tree, 5, 4), /size1 must not exceed/);
    assert.throws(() => tree.subtreeHash(2, 2), /starts at a multiple of 4/);
    // A verifier's numbers are data: one no tree can have is a malformed proof, not misuse.
    throwsCode(() => verifyInclusion(new Uint8Array(32), -1, 8, [], new Uint8Array(32)), 'MALFORMED_PROOF');
    throwsCode(() => verifyConsistency(1.5, 8, [new Uint8Array(32)], new Uint8Array(32), new Uint8Array(32)), 'MALFORMED_PROOF');
  });
});

// ---------------------------------------------------------------------------------------------
// Signed notes (known-answers.md §2, §3, §5)
// ---------------------------------------------------------------------------------------------

const FOO_VKEY = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const FOO_NOTE = 'This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_LINE = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_LINE = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';
const FIXED_KEYS = {
  Log: ['Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs', 'PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ'],
  Known: ['Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH', 'PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci'],
  KnownAgain: ['KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj', 'PRIVATE+KEY+KnownAgain+4893b26c+ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+'],
  Unknown: ['Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots', 'PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU'],
} as const;

describe('known answers §2, §3, §5: signed notes', () => {
  test('§2 the C2SP example note verifies, and its key ID is the computed one', () => {
    const key = parseVerifierKey(FOO_VKEY);
    assert.equal(key.keyId, 0x530d903a);
    assert.equal(keyId('example.com/foo', SIGNATURE_TYPE_ED25519, key.publicKey), 0x530d903a);
    assert.equal(formatVerifierKey(key), FOO_VKEY);
    const note = verifyNote(FOO_NOTE, [FOO_VKEY]);
    assert.equal(note.text, 'This is an example message.\n');
    assert.equal(note.verified.length, 1);
    assert.equal(note.verified[0]!.keyId, 0x530d903a);
    assert.equal(note.verified[0]!.signature.length, 64);
  });

  test('§3 note.Sign output is reproduced byte for byte, and a second signer is added', () => {
    const signed = signNote(PETER_TEXT, PETER_SKEY);
    assert.equal(signed, `${PETER_TEXT}\n${PETER_LINE}`);
    const enoch = generateKeyPair('EnochRoot', { seed: new Uint8Array(32) });
    const twice = addSignatures(signed, enoch.signerKey);
    assert.equal(twice, `${PETER_TEXT}\n${PETER_LINE}${ENOCH_LINE}`);
    assert.equal(formatVerifierKey(parseSignerKey(PETER_SKEY)), PETER_VKEY);
    const both = verifyNote(twice, [PETER_VKEY, enoch.verifierKey]);
    assert.deepEqual(both.verified.map((s) => s.name), ['PeterNeumann', 'EnochRoot']);
    const one = verifyNote(twice, [enoch.verifierKey]);
    assert.deepEqual(one.verified.map((s) => s.name), ['EnochRoot']);
    assert.deepEqual(one.unverified.map((s) => s.name), ['PeterNeumann']);
  });

  test('§3 mangled verifier keys are refused: every proper substring, every single-character increment, the two listed', () => {
    let refused = 0;
    for (let start = 0; start < PETER_VKEY.length; start++) {
      for (let end = start; end <= PETER_VKEY.length; end++) {
        if (start === 0 && end === PETER_VKEY.length) continue;
        throwsCode(() => parseVerifierKey(PETER_VKEY.slice(start, end)), 'MALFORMED_KEY', `substring [${start}, ${end})`);
        refused++;
      }
    }
    for (let i = 0; i < PETER_VKEY.length; i++) {
      const mangled = PETER_VKEY.slice(0, i) + String.fromCharCode(PETER_VKEY.charCodeAt(i) + 1) + PETER_VKEY.slice(i + 1);
      throwsCode(() => parseVerifierKey(mangled), 'MALFORMED_KEY', `increment at ${i}`);
      refused++;
    }
    throwsCode(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='), 'MALFORMED_KEY');
    refused++;
    throwsCode(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), 'MALFORMED_KEY');
    refused++;
    const n = PETER_VKEY.length;
    assert.equal(refused, (n * (n + 1)) / 2 + n - 1 + n + 2, 'substrings, increments, the two listed');
  });

  test('§5 each fixed seed derives its vkey; the known keys sign and verify, the unknown one is ignored', () => {
    for (const [name, [vkey, skey]] of Object.entries(FIXED_KEYS)) {
      const signer = parseSignerKey(skey);
      assert.equal(signer.name, name);
      assert.equal(formatVerifierKey(signer), vkey);
      assert.equal(formatSignerKey(name, signer.seed), skey);
    }
    // Upstream signs this text at run time; its root is 6 bytes, so it is a note, not a checkpoint here.
    const text = `TestParseCheckpoint\n42\n${Buffer.from('abcdef').toString('base64')}\n`;
    const signed = signNote(text, [FIXED_KEYS.Log[1], FIXED_KEYS.Unknown[1]]);
    const note = verifyNote(signed, [FIXED_KEYS.Log[0], FIXED_KEYS.Known[0]]);
    assert.deepEqual(note.verified.map((s) => s.name), ['Log']);
    assert.deepEqual(note.unverified.map((s) => s.name), ['Unknown']);
    throwsCode(() => verifyNote(signed, [FIXED_KEYS.Known[0], FIXED_KEYS.KnownAgain[0]]), 'UNKNOWN_KEY');
    throwsCode(() => parseCheckpoint(text), 'MALFORMED_CHECKPOINT');
  });
});

describe('signed-note verification rules', () => {
  const log = FIXED_KEYS.Log;

  test('a failing signature by a known key rejects the note, even beside a good one', () => {
    const signed = signNote(PETER_TEXT, [log[1], FIXED_KEYS.Known[1]]);
    const tamperedText = signed.replace('cryptography', 'cryptographY');
    throwsCode(() => verifyNote(tamperedText, [log[0]]), 'BAD_SIGNATURE');
    // A line under Known's name and key ID carrying Log's signature bytes: fails, rejects.
    const logSig = parseNote(signed).signatures[0]!;
    const forged = `${PETER_TEXT}\n${logSig.line}\n${formatSignatureLine('Known', parseVerifierKey(FIXED_KEYS.Known[0]).keyId, logSig.signature)}`;
    throwsCode(() => verifyNote(forged, [log[0], FIXED_KEYS.Known[0]]), 'BAD_SIGNATURE');
    assert.equal(verifyNote(forged, [log[0]]).verified.length, 1, 'Known is not a known key here: its line is ignored');
  });

  test('signatures sharing only the name or only the key ID of a known key are ignored', () => {
    const good = signNote(PETER_TEXT, log[1]);
    const sig = parseNote(good).signatures[0]!;
    const sameNameOtherId = formatSignatureLine('Log', (sig.keyId + 1) >>> 0, sig.signature);
    const sameIdOtherName = formatSignatureLine('Log2', sig.keyId, new Uint8Array(64));
    const note = verifyNote(`${good}${sameNameOtherId}${sameIdOtherName}`, [log[0]]);
    assert.equal(note.verified.length, 1);
    assert.equal(note.unverified.length, 2);
    throwsCode(() => verifyNote(`${PETER_TEXT}\n${sameNameOtherId}`, [log[0]]), 'UNKNOWN_KEY');
  });

  test('two signatures by one known key are malformed', () => {
    const good = signNote(PETER_TEXT, log[1]);
    throwsCode(() => verifyNote(`${good}${parseNote(good).signatures[0]!.line}\n`, [log[0]]), 'MALFORMED_NOTE');
  });

  test('malformed notes are refused with MALFORMED_NOTE', () => {
    const good = signNote(PETER_TEXT, log[1]);
    const line = parseNote(good).signatures[0]!.line;
    const cases: Record<string, string | Uint8Array> = {
      'no blank line': `${PETER_TEXT}${line}\n`,
      'no signature': `${PETER_TEXT}\n`,
      'no final newline': good.slice(0, -1),
      'a hyphen instead of an em dash': good.replace('—', '-'),
      'a tab in the text': good.replace('If you', 'If\tyou'),
      'a carriage return': good.replace('problem,\n', 'problem,\r\n'),
      'a signature without a name': `${PETER_TEXT}\n— ${line.split(' ')[2]}\n`,
      'non-canonical base64': `${good.slice(0, -2)}\n`,
      'a signature of 4 bytes': `${PETER_TEXT}\n— Log ${Buffer.from([1, 2, 3, 4]).toString('base64')}\n`,
      'invalid UTF-8 bytes': new Uint8Array([...utf8(good.slice(0, 5)), 0xff, ...utf8(good.slice(5))]),
      'a lone surrogate': good.replace('If', 'I\ud800f'),
      'too many signatures': `${PETER_TEXT}\n${`${line}\n`.repeat(101)}`,
    };
    for (const [what, note] of Object.entries(cases)) throwsCode(() => parseNote(note), 'MALFORMED_NOTE', what);
    // The last blank line separates: the text may hold empty lines.
    const withBlank = signNote('a\n\nb\n', log[1]);
    assert.equal(verifyNote(withBlank, [log[0]]).text, 'a\n\nb\n');
    assert.equal(verifyNote(utf8(withBlank), [log[0]]).text, 'a\n\nb\n');
  });

  test('signing refuses texts that are not note texts', () => {
    assert.throws(() => signNote('no newline', log[1]), /must end with a newline/);
    assert.throws(() => signNote('bell\u0007\n', log[1]), /control character U\+0007/);
  });

  test('strict Ed25519: a signature with S + L, and a small-order public key, are refused', () => {
    const signed = signNote(PETER_TEXT, log[1]);
    const sig = parseNote(signed).signatures[0]!;
    // S is the little-endian second half; S + L is the same scalar mod L, accepted by lax verifiers.
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig.signature[i]!);
    s += L;
    const malleable = sig.signature.slice();
    for (let i = 32; i < 64; i++) {
      malleable[i] = Number(s & 0xffn);
      s >>= 8n;
    }
    const line = formatSignatureLine(sig.name, sig.keyId, malleable);
    throwsCode(() => verifyNote(`${PETER_TEXT}\n${line}`, [log[0]]), 'BAD_SIGNATURE');
    // The identity point (y = 1) has small order: refused as a key at all.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    throwsCode(() => parseVerifierKey(formatVerifierKey({ name: 'weak', type: SIGNATURE_TYPE_ED25519, publicKey: identity })), 'MALFORMED_KEY');
  });
});

// ---------------------------------------------------------------------------------------------
// Checkpoints (§4, §8) and cosignatures (§6, §7)
// ---------------------------------------------------------------------------------------------

const SUMDB_VKEY = 'sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8';
const SUMDB_CHECKPOINTS: Array<[string, number]> = [
  ['go.sum database tree\n6476701\nmb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n\n— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvimWEPWL+o3GeoWwOoAw=\n', 6476701],
  ['go.sum database tree\n30055305\nmXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n\n— sum.golang.org Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=\n', 30055305],
];
const SIGSUM_BODY = 'example.org/log\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';
const SIGSUM_LINE = '— example.org/witness ys8uUAAAAAAAAATSftMzceM8zssdZ9jin9SjwIxzx9iADMf63VqirX2hafol9RsqNqbofIz0LVRqHXI2kpEBSki5RTXFtxz1vo9+Cg==\n';
const SIGSUM_SEED = (() => {
  const seed = new Uint8Array(32);
  seed[0] = 17;
  return seed;
})();
const SOFA_SIGNED = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n';

describe('known answers §4, §8: checkpoints', () => {
  test('§4 real sum.golang.org checkpoints verify (key name differs from the origin: allowed)', () => {
    for (const [signed, size] of SUMDB_CHECKPOINTS) {
      const { checkpoint, note } = verifyCheckpoint(signed, SUMDB_VKEY);
      assert.equal(checkpoint.origin, 'go.sum database tree');
      assert.equal(checkpoint.size, size);
      assert.equal(checkpoint.rootHash.length, 32);
      assert.equal(note.verified[0]!.name, 'sum.golang.org');
      throwsCode(() => verifyCheckpoint(signed, SUMDB_VKEY, { origin: 'sum.golang.org' }), 'ORIGIN_MISMATCH');
      throwsCode(() => verifyCheckpoint(signed.replace(String(size), String(size + 1)), SUMDB_VKEY), 'BAD_SIGNATURE');
    }
  });

  test('§8 the spec example parses: text, both lines, the witness timestamp of its message example', () => {
    const note = parseNote(SOFA_SIGNED);
    const cp = parseCheckpoint(note.text);
    assert.equal(cp.origin, 'example.com/behind-the-sofa');
    assert.equal(cp.size, 20852163);
    assert.equal(formatCheckpoint(cp), note.text);
    assert.equal(note.signatures.length, 2);
    assert.equal(cosignatureTimestamp(note.signatures[1]!.signature), 1679315147);
  });

  test('checkpoint texts that break the format are MALFORMED_CHECKPOINT', () => {
    const root = Buffer.alloc(32).toString('base64');
    for (const text of [
      `origin\n10\n`,
      `\n10\n${root}\n`,
      `origin\n010\n${root}\n`,
      `origin\n-1\n${root}\n`,
      `origin\n9007199254740993\n${root}\n`,
      `origin\n10\n${root.slice(0, -1)}\n`,
      `origin\n10\n${Buffer.alloc(31).toString('base64')}\n`,
      `origin\n10\n${root}\n\n`,
      `origin\n10\n${root}`,
    ]) {
      throwsCode(() => parseCheckpoint(text), 'MALFORMED_CHECKPOINT', JSON.stringify(text));
    }
    const withExtension = parseCheckpoint(`origin\n10\n${root}\nextension one\n`);
    assert.deepEqual(withExtension.extensions, ['extension one']);
  });
});

describe('known answers §6, §7: cosignature/v1', () => {
  const [logVkey, logSkey] = FIXED_KEYS.Log;
  const witness = generateKeyPair('example.org/witness', { type: SIGNATURE_TYPE_COSIGNATURE_V1, seed: SIGSUM_SEED });

  test('§6 the sigsum cosignature line is reproduced byte for byte, and verifies', () => {
    assert.equal(
      new TextDecoder().decode(cosignatureMessage(SIGSUM_BODY, 1234)),
      `cosignature/v1\ntime 1234\n${SIGSUM_BODY}`,
    );
    assert.equal(parseVerifierKey(witness.verifierKey).keyId, 0xcacf2e50);
    const logSigned = signNote(SIGSUM_BODY, logSkey);
    const { line, signedCheckpoint, timestamp } = cosignCheckpoint(logSigned, {
      name: 'example.org/witness',
      secretKey: SIGSUM_SEED,
      logKey: logVkey,
      now: new Date(1234 * 1000),
    });
    assert.equal(line, SIGSUM_LINE);
    assert.equal(timestamp, 1234);
    const result = verifyCosignedCheckpoint(signedCheckpoint, { logKey: logVkey, witnesses: [witness.verifierKey], quorum: 1 });
    assert.deepEqual(result.cosignatures, [{ name: 'example.org/witness', keyId: 0xcacf2e50, timestamp: 1234 }]);
    // The line alone, added to the log-signed note, verifies the same way.
    assert.equal(verifyCosignedCheckpoint(`${logSigned}${SIGSUM_LINE}`, { logKey: logVkey, witnesses: [witness.verifierKey] }).cosignatures.length, 1);
  });

  test('§6 the negative lines: another key ID or name is ignored, a wrong length is malformed', () => {
    const logSigned = signNote(SIGSUM_BODY, logSkey);
    const policy = { logKey: logVkey, witnesses: [witness.verifierKey], quorum: 1 };
    const otherId = SIGSUM_LINE.replace('ys8uUAAA', 'yX8uUAAA');
    const otherName = SIGSUM_LINE.replace('example.org/witness ', 'example.org/witness-2 ');
    throwsCode(() => verifyCosignedCheckpoint(`${logSigned}${otherId}`, policy), 'QUORUM_NOT_MET');
    throwsCode(() => verifyCosignedCheckpoint(`${logSigned}${otherName}`, policy), 'QUORUM_NOT_MET');
    // "…+CgXX" is still base64, of 74 bytes: the trusted witness's name and key ID with a
    // signature of the wrong length, which fails and so rejects the checkpoint.
    throwsCode(() => verifyCosignedCheckpoint(`${logSigned}${SIGSUM_LINE.replace('Cg==\n', 'CgXX\n')}`, policy), 'BAD_SIGNATURE');
    throwsCode(() => verifyCosignedCheckpoint(`${logSigned}${SIGSUM_LINE.replace('Cg==\n', 'Cg==XX\n')}`, policy), 'MALFORMED_NOTE');
    assert.equal(verifyCosignedCheckpoint(`${logSigned}${otherId}${otherName}${SIGSUM_LINE}`, policy).cosignatures.length, 1);
  });

  test('§6 the large-timestamp message layout of sigsum tree heads', () => {
    const body = 'sigsum.org/v1/tree/66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925\n257\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n';
    assert.equal(
      new TextDecoder().decode(cosignatureMessage(body, 72623859790382856n)),
      `cosignature/v1\ntime 72623859790382856\n${body}`,
    );
  });

  test('§7 timestamp extraction, and a 68-byte note signature refused as a cosignature', () => {
    const sig = b64('ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA==');
    assert.equal(sig.length, 76);
    assert.equal(cosignatureTimestamp(sig.subarray(4)), 1727964367);
    throwsCode(() => cosignatureTimestamp(new Uint8Array(64)), 'MALFORMED_NOTE');
    // A plain (type 0x01-style) 64-byte signature under the witness's name and key ID fails.
    const logSigned = signNote(SIGSUM_BODY, logSkey);
    const wKey = parseVerifierKey(witness.verifierKey);
    const plain = formatSignatureLine(wKey.name, wKey.keyId, noteSigner(formatSignerKey('example.org/witness', SIGSUM_SEED)).sign(utf8(SIGSUM_BODY)));
    throwsCode(() => verifyCosignedCheckpoint(`${logSigned}${plain}`, { logKey: logVkey, witnesses: [witness.verifierKey] }), 'BAD_SIGNATURE');
  });

  test('§7 the real witness vkey (type 0x04) parses with its key ID; the kinds of verifier are not interchangeable', () => {
    const remora = 'remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2';
    const key = parseVerifierKey(remora);
    assert.equal(key.type, SIGNATURE_TYPE_COSIGNATURE_V1);
    assert.equal(key.keyId, 0xda77ade7);
    assert.equal(cosignatureVerifier(remora).keyId, 0xda77ade7);
    assert.throws(() => noteVerifier(remora), /cosignatureVerifier/);
    assert.throws(() => cosignatureVerifier(FOO_VKEY), /noteVerifier/);
  });
});

// ---------------------------------------------------------------------------------------------
// A log, its witnesses, and proof bundles
// ---------------------------------------------------------------------------------------------

function makeLog(n: number, origin = 'example.com/ledger') {
  const log = generateKeyPair(origin, { seed: new Uint8Array(32).fill(7) });
  const tree = MemoryTree.fromLeaves(Array.from({ length: n }, (_, i) => utf8(`event ${i}`)));
  const sign = (size: number) => signCheckpoint({ origin, size, rootHash: tree.root(size) }, log.signerKey);
  return { log, tree, sign, origin };
}
const witnesses = [1, 2, 3].map((i) => generateKeyPair(`witness.example/w${i}`, { type: SIGNATURE_TYPE_COSIGNATURE_V1, seed: new Uint8Array(32).fill(i) }));
const seedOf = (i: number) => new Uint8Array(32).fill(i);

describe('cosigning as a witness', () => {
  test('a witness cosigns a growing log, checking consistency from the last tree it cosigned', () => {
    const { log, tree, sign } = makeLog(20);
    const first = cosignCheckpoint(sign(8), { name: 'witness.example/w1', secretKey: seedOf(1), logKey: log.verifierKey, now: new Date(1_700_000_000_000) });
    const second = cosignCheckpoint(sign(20), {
      name: 'witness.example/w1',
      secretKey: seedOf(1),
      logKey: log.verifierKey,
      previous: first.signedCheckpoint,
      consistencyProof: consistencyProof(tree, 8, 20),
      now: new Date(1_700_000_100_000),
    });
    assert.equal(second.checkpoint.size, 20);
    assert.equal(second.timestamp, 1_700_000_100);
    // Re-cosigning the same tree replaces the witness's older line instead of adding a second one.
    const again = cosignCheckpoint(second.signedCheckpoint, { name: 'witness.example/w1', secretKey: seedOf(1), logKey: log.verifierKey, previous: second.checkpoint, now: new Date(1_700_000_200_000) });
    assert.equal(parseNote(again.signedCheckpoint).signatures.length, 2);
    assert.deepEqual(verifyCosignedCheckpoint(again.signedCheckpoint, { logKey: log.verifierKey, witnesses: [witnesses[0]!.verifierKey] }).cosignatures.map((c) => c.timestamp), [1_700_000_200]);
  });

  test('a witness refuses two inconsistent trees, an older tree, a missing proof, another log, a bad log signature', () => {
    const { log, tree, sign } = makeLog(20);
    const base = { name: 'witness.example/w1', secretKey: seedOf(1), logKey: log.verifierKey };
    const first = cosignCheckpoint(sign(8), base);
    // A fork: the same log key signs a tree of 20 whose first 8 leaves differ.
    const fork = MemoryTree.fromLeaves(Array.from({ length: 20 }, (_, i) => utf8(i === 3 ? 'rewritten' : `event ${i}`)));
    const forked = signCheckpoint({ origin: 'example.com/ledger', size: 20, rootHash: fork.root() }, log.signerKey);
    throwsCode(() => cosignCheckpoint(forked, { ...base, previous: first.signedCheckpoint, consistencyProof: consistencyProof(fork, 8, 20) }), 'CONSISTENCY_FAILED');
    throwsCode(() => cosignCheckpoint(forked, { ...base, previous: first.signedCheckpoint, consistencyProof: consistencyProof(tree, 8, 20) }), 'CONSISTENCY_FAILED');
    const sameSizeFork = signCheckpoint({ origin: 'example.com/ledger', size: 8, rootHash: fork.root(8) }, log.signerKey);
    throwsCode(() => cosignCheckpoint(sameSizeFork, { ...base, previous: first.signedCheckpoint }), 'CONSISTENCY_FAILED');
    throwsCode(() => cosignCheckpoint(sign(5), { ...base, previous: first.signedCheckpoint }), 'STALE_CHECKPOINT');
    throwsCode(() => cosignCheckpoint(sign(20), { ...base, previous: first.signedCheckpoint }), 'MALFORMED_PROOF');
    const other = makeLog(20, 'example.com/other');
    throwsCode(() => cosignCheckpoint(other.sign(20), { ...base, logKey: other.log.verifierKey, previous: first.signedCheckpoint, consistencyProof: consistencyProof(other.tree, 8, 20) }), 'ORIGIN_MISMATCH');
    throwsCode(() => cosignCheckpoint(sign(20).replace('\n20\n', '\n21\n'), base), 'BAD_SIGNATURE');
    throwsCode(() => cosignCheckpoint(sign(20), { ...base, logKey: FIXED_KEYS.Log[0] }), 'UNKNOWN_KEY');
    // From the empty tree nothing needs proving.
    const empty = { origin: 'example.com/ledger', size: 0, rootHash: emptyRoot() };
    assert.equal(cosignCheckpoint(sign(20), { ...base, previous: empty }).checkpoint.size, 20);
  });

  test('a witness key can be an skey of type 0x04 or a 64-byte secret key', () => {
    const { log, sign } = makeLog(3);
    const fromSkey = cosignCheckpoint(sign(3), { secretKey: witnesses[1]!.signerKey, logKey: log.verifierKey, now: new Date(0) });
    const nacl64 = new Uint8Array([...seedOf(2), ...parseVerifierKey(witnesses[1]!.verifierKey).publicKey]);
    const fromBytes = cosignCheckpoint(sign(3), { name: 'witness.example/w2', secretKey: nacl64, logKey: log.verifierKey, now: new Date(0) });
    assert.equal(fromSkey.line, fromBytes.line);
    assert.throws(() => cosignCheckpoint(sign(3), { secretKey: seedOf(2), logKey: log.verifierKey }), /name is required/);
  });
});

describe('k-of-n witness policy', () => {
  const { log, sign } = makeLog(10);
  const cosigned = (signers: number[]) =>
    signers.reduce((signed, i) => cosignCheckpoint(signed, { name: `witness.example/w${i}`, secretKey: seedOf(i), logKey: log.verifierKey, now: new Date(1_000_000 * i) }).signedCheckpoint, sign(10));
  const trusted = witnesses.map((w) => w.verifierKey);

  test('2 of 3 is met by two, not by one; untrusted cosigners do not count', () => {
    assert.equal(verifyCosignedCheckpoint(cosigned([1, 3]), { logKey: log.verifierKey, witnesses: trusted, quorum: 2 }).cosignatures.length, 2);
    throwsCode(() => verifyCosignedCheckpoint(cosigned([2]), { logKey: log.verifierKey, witnesses: trusted, quorum: 2 }), 'QUORUM_NOT_MET');
    throwsCode(() => verifyCosignedCheckpoint(cosigned([1, 2]), { logKey: log.verifierKey, witnesses: trusted }), 'QUORUM_NOT_MET');
    throwsCode(() => verifyCosignedCheckpoint(cosigned([2, 3]), { logKey: log.verifierKey, witnesses: trusted.slice(0, 1), quorum: 1 }), 'QUORUM_NOT_MET');
    assert.equal(verifyCosignedCheckpoint(cosigned([1, 2, 3]), { logKey: log.verifierKey, witnesses: trusted }).cosignatures.length, 3);
  });

  test('a trusted witness whose cosignature fails rejects the checkpoint; without the log signature nothing counts', () => {
    const signed = cosigned([1, 2]);
    const lines = parseNote(signed).signatures;
    const w2 = lines[2]!;
    // Same timestamp and key ID, signature bytes of w1's line: a forgery by a trusted name.
    const forged = `${parseNote(signed).text}\n${lines[0]!.line}\n${lines[1]!.line}\n${formatSignatureLine(w2.name, w2.keyId, lines[1]!.signature)}`;
    throwsCode(() => verifyCosignedCheckpoint(forged, { logKey: log.verifierKey, witnesses: trusted, quorum: 1 }), 'BAD_SIGNATURE');
    const withoutLog = `${parseNote(signed).text}\n${lines[1]!.line}\n${lines[2]!.line}\n`;
    throwsCode(() => verifyCosignedCheckpoint(withoutLog, { logKey: log.verifierKey, witnesses: trusted, quorum: 2 }), 'UNKNOWN_KEY');
    assert.throws(() => verifyCosignedCheckpoint(signed, { logKey: log.verifierKey, witnesses: trusted, quorum: 4 }), RangeError);
  });
});

describe('tlog-proof bundles', () => {
  const { log, tree, sign, origin } = makeLog(13);
  const cosignedBy = (signed: string, ids: number[]) =>
    ids.reduce((s, i) => cosignCheckpoint(s, { name: `witness.example/w${i}`, secretKey: seedOf(i), logKey: log.verifierKey, now: new Date(0) }).signedCheckpoint, signed);
  const checkpoint = cosignedBy(sign(13), [1, 2]);
  const bundleFor = (index: number) => formatProofBundle({ index, proof: inclusionProof(tree, index, 13), checkpoint });
  const trusted = witnesses.map((w) => w.verifierKey);

  test('the layout: header, index, one hash per line, a blank line, the checkpoint verbatim', () => {
    const text = bundleFor(6);
    const proof = inclusionProof(tree, 6, 13);
    assert.equal(text, ['c2sp.org/tlog-proof@v1', 'index 6', ...proof.map((h) => Buffer.from(h).toString('base64')), '', ''].join('\n') + checkpoint);
    const parsed = parseProofBundle(text);
    assert.equal(parsed.index, 6);
    assert.deepEqual(parsed.proof.map(hex), proof.map(hex));
    assert.equal(parsed.checkpoint, checkpoint);
    const withExtra = formatProofBundle({ index: 6, proof, checkpoint, extra: utf8('context') });
    assert.match(withExtra, /^c2sp\.org\/tlog-proof@v1\nextra Y29udGV4dA==\nindex 6\n/);
    assert.equal(hex(parseProofBundle(withExtra).extra!), hex(utf8('context')));
  });

  test('a bundle verifies offline against the log key and a 2-of-3 policy', () => {
    for (let index = 0; index < 13; index++) {
      const result = verifyProofBundle(bundleFor(index), { leaf: utf8(`event ${index}`), logKey: log.verifierKey, origin, witnessKeys: trusted, quorum: 2 });
      assert.ok(result.ok, `index ${index}: ${result.ok ? '' : result.message}`);
      assert.equal(result.index, index);
      assert.equal(result.checkpoint.size, 13);
      assert.deepEqual(result.cosignatures.map((c) => c.name), ['witness.example/w1', 'witness.example/w2']);
    }
    const noWitnesses = verifyProofBundle(bundleFor(0), { leaf: utf8('event 0'), logKey: log.verifierKey });
    assert.equal(noWitnesses.ok, true);
  });

  test('each defect gets its code', () => {
    const opts = { leaf: utf8('event 4'), logKey: log.verifierKey, witnessKeys: trusted, quorum: 2 };
    const good = bundleFor(4);
    const verdict = (text: string, options: Parameters<typeof verifyProofBundle>[1] = opts) => {
      const result = verifyProofBundle(text, options);
      return result.ok ? 'OK' : result.code;
    };
    assert.equal(verdict(good), 'OK');
    assert.equal(verdict(good, { ...opts, leaf: utf8('event 5') }), 'INCLUSION_FAILED');
    assert.equal(verdict(good.replace('index 4', 'index 5')), 'INCLUSION_FAILED');
    assert.equal(verdict(good.replace('index 4', 'index 13')), 'MALFORMED_PROOF');
    assert.equal(verdict(good.replace('index 4', 'index 04')), 'MALFORMED_BUNDLE');
    assert.equal(verdict(good.replace('c2sp.org/tlog-proof@v1', 'c2sp.org/tlog-proof@v2')), 'MALFORMED_BUNDLE');
    assert.equal(verdict(good.replace(/\nindex 4\n[^\n]+\n/, '\nindex 4\n')), 'MALFORMED_PROOF');
    assert.equal(verdict(good.replace('\n\nexample.com/ledger', '\nexample.com/ledger')), 'MALFORMED_BUNDLE');
    assert.equal(verdict(good, { ...opts, quorum: 3 }), 'QUORUM_NOT_MET');
    assert.equal(verdict(good, { ...opts, logKey: FIXED_KEYS.Log[0] }), 'UNKNOWN_KEY');
    assert.equal(verdict(good, { ...opts, origin: 'example.com/other' }), 'ORIGIN_MISMATCH');
    assert.equal(verdict(good.replace('\n13\n', '\n12\n')), 'BAD_SIGNATURE');
    const flipped = inclusionProof(tree, 4, 13);
    flipped[1]![0]! ^= 1;
    assert.equal(verdict(formatProofBundle({ index: 4, proof: flipped, checkpoint })), 'INCLUSION_FAILED');
    assert.throws(() => verifyProofBundle(good, { ...opts, leaf: 'event 4' as unknown as Uint8Array }), TypeError);
  });
});

describe('Stele leaves', () => {
  test('an event is leaf sequence - 1 with its 32 content-hash bytes', () => {
    assert.equal(STELE_MERKLE_DOMAIN, 'stele/merkle/v1');
    assert.equal(leafIndexOf(1), 0);
    const leaf = eventLeaf('7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad');
    assert.equal(leaf.length, 32);
    assert.equal(hex(leaf), '7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad');
    assert.throws(() => eventLeaf('7195D8'), TypeError);
    assert.throws(() => leafIndexOf(0), RangeError);
  });
});

test('every export of stele/proofs has a doc comment with an @example', () => {
  const index = fileURLToPath(new URL('../lib/proofs/index.ts', import.meta.url));
  const options: ts.CompilerOptions = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, allowImportingTsExtensions: true, noLib: true, types: [], noEmit: true };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, ...rest) => (fileName.includes('/node_modules/') ? undefined : read(fileName, ...rest));
  const program = ts.createProgram([index], options, host);
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
  const exports = checker.getExportsOfModule(module);
  assert.ok(exports.length > 40, `only ${exports.length} exports resolved`);
  const missing = exports.filter((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const doc = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
    const example = symbol.getJsDocTags(checker).some((tag) => tag.name === 'example' && ts.displayPartsToString(tag.text).trim().length > 0);
    return doc === '' || !example;
  });
  assert.deepEqual(missing.map((e) => e.name), []);
});

describe('native-sql/TRANSPARENCY.md worked example', () => {
  const doc = readFileSync(new URL('../native-sql/TRANSPARENCY.md', import.meta.url), 'utf8');
  const block = (after: string): string => {
    const start = doc.indexOf('```\n', doc.indexOf(after)) + 4;
    return doc.slice(start, doc.indexOf('```', start));
  };
  const contentHashes = [
    '7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad',
    '9036a1415573f542265b33ecd7a095fa882e59b9ad0548f62abce85e1220378f',
    '8c167c6e474b3502696f86450fafd71f7979caa11676ad6fc105ebad0a68f40f',
  ];
  const tree = MemoryTree.fromLeaves(contentHashes.map(eventLeaf));
  const [logSkey, logVkey, witnessSkey, witnessVkey] = block('Keys (Ed25519 seeds').trim().split('\n') as [string, string, string, string];

  test('the leaf hashes, roots and proofs on the page are the library\'s and the RFC\'s', () => {
    const sha = (...parts: Uint8Array[]) => new Uint8Array(createHash('sha256').update(Buffer.concat(parts)).digest());
    const leaves = contentHashes.map((h) => sha(Uint8Array.of(0), unhex(h)));
    const roots = [sha(), leaves[0]!, sha(Uint8Array.of(1), leaves[0]!, leaves[1]!)];
    roots.push(sha(Uint8Array.of(1), roots[2]!, leaves[2]!));
    leaves.forEach((leaf, i) => {
      assert.equal(hex(leafHash(eventLeaf(contentHashes[i]!))), hex(leaf));
      assert.ok(doc.includes(`| ${i + 1} | ${leafIndexOf(i + 1)} | \`${hex(leaf)}\` |`), `leaf row ${i}`);
    });
    roots.forEach((root, size) => {
      assert.equal(hex(tree.root(size)), hex(root));
      assert.ok(doc.includes(`| ${size} | \`${hex(root)}\` | \`${Buffer.from(root).toString('base64')}\` |`), `root row ${size}`);
    });
    const short = (h: Uint8Array) => `${hex(h).slice(0, 8)}…${hex(h).slice(-8)}`;
    assert.ok(doc.includes(`inclusion of sequence 2 (index 1): \`${short(leaves[0]!)}\` (leaf 0), \`${short(leaves[2]!)}\``));
    assert.deepEqual(inclusionProof(tree, 1, 3).map(hex), [hex(leaves[0]!), hex(leaves[2]!)]);
    assert.deepEqual(inclusionProof(tree, 2, 3).map(hex), [hex(roots[2]!)]);
    assert.deepEqual(consistencyProof(tree, 1, 3).map(hex), [hex(leaves[1]!), hex(leaves[2]!)]);
    assert.deepEqual(consistencyProof(tree, 2, 3).map(hex), [hex(leaves[2]!)]);
  });

  test('the keys, the cosigned checkpoint, the signed message and the bundle are reproduced byte for byte', () => {
    assert.equal(logSkey, formatSignerKey('example.com/stele/demo', new Uint8Array(32).fill(1)));
    assert.equal(logVkey, formatVerifierKey(parseSignerKey(logSkey)));
    assert.equal(witnessSkey, formatSignerKey('witness.example/w1', new Uint8Array(32).fill(2), SIGNATURE_TYPE_COSIGNATURE_V1));
    assert.equal(witnessVkey, formatVerifierKey(parseSignerKey(witnessSkey)));
    const signed = signCheckpoint({ origin: 'example.com/stele/demo', size: 3, rootHash: tree.root() }, logSkey);
    const cosigned = cosignCheckpoint(signed, { secretKey: witnessSkey, logKey: logVkey, now: new Date(1_700_000_012_000) });
    assert.equal(cosigned.signedCheckpoint, block('The checkpoint of size 3'));
    const message = cosignatureMessage(parseNote(signed).text, 1_700_000_012);
    assert.equal(hex(message), block('The witness signed these').replace(/\s/g, ''));
    assert.ok(doc.includes(`The witness signed these ${message.length} bytes`));
    const bundle = formatProofBundle({ index: 1, proof: inclusionProof(tree, 1, 3), checkpoint: cosigned.signedCheckpoint });
    assert.equal(bundle, block('The proof bundle for sequence 2'));
    const result = verifyProofBundle(bundle, { leaf: eventLeaf(contentHashes[1]!), logKey: logVkey, witnessKeys: [witnessVkey], quorum: 1 });
    assert.ok(result.ok);
    // The log's line verifies with node:crypto alone, from the page's key and text.
    const pub = parseVerifierKey(logVkey).publicKey;
    const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki' });
    const sig = Buffer.from(cosigned.signedCheckpoint.split('\n')[4]!.split(' ')[2]!, 'base64').subarray(4);
    assert.ok(cryptoVerify(null, Buffer.from(parseNote(signed).text), spki, sig));
  });
});

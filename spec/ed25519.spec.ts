/**
 * The Ed25519 rules of FORMAT.md "Ed25519 rules": public keys are canonical encodings of points on
 * the curve and not of small order; S < L; verification is cofactorless (OpenSSL). Checked on
 * RFC 8032's test 1, on the edge cases of "Taming the many EdDSAs" (Chalkias, Garillot,
 * Nikolaenko 2020; vectors 0-9 as published with ed25519-speccheck), on the eight small-order
 * points, and at registration, where the trigger refuses such a key with INVALID_EVENT.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ed25519 } from '@noble/curves/ed25519.js';
import { openLedger, type LedgerError } from '../lib/index.ts';
import { isCanonicalScalar, isStrictPoint, isValidPublicKey, verifyEd25519 } from '../lib/format/ed25519.ts';
import { tempLedgerPath } from './helpers/temp-ledger.ts';

const hex = (text: string): Buffer => Buffer.from(text, 'hex');
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** The decision for each vector, as FORMAT.md's table states it. */
const TAMING: Array<{ message: string; key: string; signature: string; accepted: boolean; why: string }> = [
  { message: '8c93255d71dcab10e8f379c26200f3c7bd5f09d9bc3068d3ef4edeb4853022b6', key: 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', signature: 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a0000000000000000000000000000000000000000000000000000000000000000', accepted: false, why: 'A of small order' },
  { message: '9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79', key: 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', signature: 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43a5bb704786be79fc476f91d3f3f89b03984d8068dcf1bb7dfc6637b45450ac04', accepted: false, why: 'A of small order' },
  { message: 'aebf3f2601a0c8c5d39cc7d8911642f740b78168218da8471772b35f9d35b9ab', key: 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43', signature: 'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa8c4bd45aecaca5b24fb97bc10ac27ac8751a7dfe1baff8b953ec9f5833ca260e', accepted: true, why: 'mixed-order A, small-order R: passes the cofactorless equation' },
  { message: '9bd9f44f4dcc75bd531b56b2cd280b0bb38fc1cd6d1230e14861d861de092e79', key: 'cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d', signature: '9046a64750444938de19f227bb80485e92b83fdb4b6506c160484c016cc1852f87909e14428a7a1d62e9f22f3d3ad7802db02eb2e688b6c52fcd6648a98bd009', accepted: true, why: 'mixed-order A and R, both equations hold' },
  { message: 'e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c', key: 'cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d', signature: '160a1cb0dc9c0258cd0a7d23e94d8fa878bcb1925f2c64246b2dee1796bed5125ec6bc982a269b723e0668e540911a9a6a58921d6925e434ab10aa7940551a09', accepted: false, why: 'only the cofactored equation holds' },
  { message: 'e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec4011eaccd55b53f56c', key: 'cdb267ce40c5cd45306fa5d2f29731459387dbf9eb933b7bd5aed9a765b88d4d', signature: '21122a84e0b5fca4052f5b1235c80a537878b38f3142356b2c2384ebad4668b7e40bc836dac0f71076f9abe3a53f9c03c1ceeeddb658d0030494ace586687405', accepted: false, why: 'only the cofactored equation holds (k not reduced)' },
  { message: '85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40', key: '442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623', signature: 'e96f66be976d82e60150baecff9906684aebb1ef181f67a7189ac78ea23b6c0e547f7690a0e2ddcd04d87dbc3490dc19b3b3052f7ff0538cb68afb369ba3a514', accepted: false, why: 'S >= L' },
  { message: '85e241a07d148b41e47d62c63f830dc7a6851a0b1f33ae4bb2f507fb6cffec40', key: '442aad9f089ad9e14647b1ef9099a1ff4798d78589e66f28eca69c11f582a623', signature: '8ce5b96c8f26d0ab6c47958c9e68b937104cd36e13c33566acd2fe8d38aa19427e71f98a473474f2f13f06f97c20d58cc3f54b8bd0d272f42b695dd7e89a8c22', accepted: false, why: 'S >> L' },
  { message: 'fdaebc429f4a735932a160da1301080c13280eea8bc280d1b392c6b9e6ba3a5a', key: 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43', signature: 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f454d370c8d9fc323a41450f8d513eafeb5b0697390c1e505a0d4ddc71f566607', accepted: false, why: 'R a non-canonical encoding (y >= p)' },
  { message: '84b698d39be126ff55fe45079e6c8bf64a0d7db6994560b4e96b7021eb39c1a1', key: 'f7badec5b8abeaf699583992219b7b223f1df3fbbea919844e3f7c554a43dd43', signature: 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f084d5b99c2a9463d9c8bd5026916996984eeec87ddf1d3be329006ace1b37b09', accepted: false, why: 'R a non-canonical encoding (y >= p)' },
];

/** The eight points of small order, canonically encoded: the identity and the 8-torsion. */
function smallOrderPoints(): string[] {
  // A point of order 8 times 0..7; its multiples are exactly the 8-torsion subgroup.
  const torsion = ed25519.Point.fromBytes(hex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a'));
  return Array.from({ length: 8 }, (_, i) => b64((i === 0 ? ed25519.Point.ZERO : torsion.multiplyUnsafe(BigInt(i))).toBytes()));
}

test('RFC 8032 test 1 verifies', () => {
  const key = b64(hex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'));
  const signature = b64(hex('e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'));
  assert.equal(isValidPublicKey(key), true);
  assert.equal(verifyEd25519(key, new Uint8Array(0), signature), true);
});

test('the edge cases of "Taming the many EdDSAs": the decision FORMAT.md states for each', () => {
  const decisions = TAMING.map((v) => verifyEd25519(b64(hex(v.key)), hex(v.message), b64(hex(v.signature))));
  assert.deepEqual(decisions, TAMING.map((v) => v.accepted), TAMING.map((v, i) => `${i}: ${v.why}`).join('; '));
});

test('the eight small-order points, non-canonical encodings and off-curve bytes are not public keys', () => {
  const small = smallOrderPoints();
  assert.equal(new Set(small).size, 8);
  for (const key of small) assert.equal(isValidPublicKey(key), false, key);
  // The identity (y = 1) encoded as y = p + 1; and x = 0 with the sign bit set.
  assert.equal(isStrictPoint(hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')), false);
  assert.equal(isStrictPoint(hex('0100000000000000000000000000000000000000000000000000000000000080')), false);
  // y = 2 is not the y of any point on the curve.
  assert.equal(isStrictPoint(hex('0200000000000000000000000000000000000000000000000000000000000000')), false);
  assert.equal(isValidPublicKey(b64(ed25519.getPublicKey(new Uint8Array(32).fill(1)))), true);
});

test('S must be below L', () => {
  assert.equal(isCanonicalScalar(hex('ecd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010')), true); // L - 1
  assert.equal(isCanonicalScalar(hex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010')), false); // L
  // A valid signature with L added to S is the same signature to a lax verifier: refused.
  const seed = new Uint8Array(32).fill(3);
  const message = Buffer.from('stele');
  const signature = ed25519.sign(message, seed);
  const key = b64(ed25519.getPublicKey(seed));
  assert.equal(verifyEd25519(key, message, b64(signature)), true);
  const s = BigInt('0x' + Buffer.from(signature.subarray(32)).reverse().toString('hex'));
  const L = 2n ** 252n + 27742317777372353535851937790883648493n;
  const bumped = Buffer.from((s + L).toString(16).padStart(64, '0'), 'hex').reverse();
  assert.equal(verifyEd25519(key, message, b64(Buffer.concat([signature.subarray(0, 32), bumped]))), false);
});

test('registering the identity point or an off-curve key is refused by the trigger with INVALID_EVENT', async (t) => {
  const ledger = await openLedger(tempLedgerPath(t));
  t.after(() => ledger.close());
  const identity = b64(ed25519.Point.ZERO.toBytes());
  const offCurve = b64(hex('0200000000000000000000000000000000000000000000000000000000000000'));
  for (const publicKey of [identity, offCurve]) {
    await assert.rejects(ledger.registerAgentKey('mallory', publicKey, { role: 'witness' }), (err: LedgerError) => {
      assert.equal(err.code, 'INVALID_EVENT');
      assert.equal(err.details.field, 'publicKey');
      return true;
    });
  }
  assert.equal(ledger.maxSequence(), 0);
});

/**
 * The block SHA-256 verify's tree check hashes with (lib/format/sha256-blocks.ts) gives
 * node:crypto's bytes for every length it is padded for, and the page functions of
 * merkle-hash.ts give the bytes of the single ones the triggers use.
 */
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { paddedMessage, sha256PaddedInto } from '../lib/format/sha256-blocks.ts';
import { merkleLeafHash, merkleLeafHashInto, merkleNodeHash, merkleNodeHashInto } from '../lib/format/merkle-hash.ts';

const digestOf = (message: Uint8Array): Buffer => {
  const padded = paddedMessage(message.length);
  padded.set(message);
  const digest = Buffer.alloc(32);
  sha256PaddedInto(padded, digest, 0);
  return digest;
};

test('the FIPS 180-4 vectors: empty, "abc", and the 56-byte message that needs a second block', () => {
  assert.equal(digestOf(new Uint8Array(0)).toString('hex'), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(digestOf(Buffer.from('abc')).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.equal(
    digestOf(Buffer.from('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toString('hex'),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  );
});

test('every length from 0 to 300 bytes, each block boundary included, hashes as node:crypto does', () => {
  for (let length = 0; length <= 300; length++) {
    const message = Buffer.alloc(length);
    for (let i = 0; i < length; i++) message[i] = (i * 151 + length) & 0xff;
    assert.deepEqual(digestOf(message), hash('sha256', message, 'buffer'), `length ${length}`);
  }
});

test('random messages hash as node:crypto does, the digest written where asked and nowhere else', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 40 }), (message, at) => {
      const padded = paddedMessage(message.length);
      padded.set(message);
      const into = Buffer.alloc(at + 40, 0xee);
      sha256PaddedInto(padded, into, at);
      assert.deepEqual(into.subarray(at, at + 32), hash('sha256', message, 'buffer'));
      assert.ok(into.subarray(0, at).every((byte) => byte === 0xee) && into.subarray(at + 32).every((byte) => byte === 0xee));
    }),
    { numRuns: 300 },
  );
});

test('a buffer that is not whole blocks, or no room for the digest, is refused', () => {
  assert.throws(() => sha256PaddedInto(new Uint8Array(63), Buffer.alloc(32), 0), RangeError);
  assert.throws(() => sha256PaddedInto(paddedMessage(3), Buffer.alloc(40), 9), RangeError);
  assert.throws(() => paddedMessage(-1), RangeError);
});

test('the page functions give the leaf and node hashes the triggers write', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), (content, children) => {
      const contentHash = Buffer.from(content).toString('hex');
      const into = Buffer.alloc(96);
      merkleLeafHashInto(contentHash, into, 32);
      assert.deepEqual(into.subarray(32, 64), merkleLeafHash(contentHash));
      const page = Buffer.concat([Buffer.alloc(64), children]);
      merkleNodeHashInto(page, 64, into, 64);
      assert.deepEqual(into.subarray(64, 96), merkleNodeHash(children.subarray(0, 32), children.subarray(32, 64)));
    }),
    { numRuns: 300 },
  );
  assert.throws(() => merkleLeafHashInto('ab'.repeat(31), Buffer.alloc(32), 0), TypeError);
  assert.throws(() => merkleLeafHashInto(`${'ab'.repeat(31)}zz`, Buffer.alloc(32), 0), TypeError);
  assert.throws(() => merkleNodeHashInto(Buffer.alloc(64), 8, Buffer.alloc(32), 0), TypeError);
});

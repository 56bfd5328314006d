/**
 * Property: whatever a log, a fork of it and a careless or hostile client send (growing and
 * shrinking sizes, stale or made-up old sizes, flipped, shortened or padded proofs, checkpoints
 * signed by another key, cut-off bodies), the witness never cosigns two trees of which neither
 * is a prefix of the other, and the size it records never decreases. And it is not vacuous: an
 * honest request from the recorded size for a tree that extends the recorded one is cosigned.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  consistencyProof,
  cosignatureVerifier,
  generateKeyPair,
  MemoryTree,
  signCheckpoint,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  treeRoot,
  verifyNote,
} from '../../lib/proofs/index.ts';
import { formatAddCheckpointRequest } from '../../lib/witness/add-checkpoint.ts';
import { Witness } from '../../lib/witness/witness.ts';
import { tempDir } from '../helpers/temp-ledger.ts';

const ORIGIN = 'example.com/stele/property';
const LOG = generateKeyPair(ORIGIN, { seed: new Uint8Array(32).fill(21) });
const IMPOSTOR = generateKeyPair(ORIGIN, { seed: new Uint8Array(32).fill(22) });
const WITNESS = generateKeyPair('witness.example/prop', { type: SIGNATURE_TYPE_COSIGNATURE_V1, seed: new Uint8Array(32).fill(23) });
const MAX_SIZE = 40;

const GARBLES = ['none', 'none', 'none', 'flip', 'drop', 'extra', 'wrongKey', 'truncate'] as const;
type Garble = (typeof GARBLES)[number];

const request = fc.record({
  fork: fc.boolean(),
  size: fc.integer({ min: 0, max: MAX_SIZE }),
  old: fc.oneof(fc.constant('recorded' as const), fc.integer({ min: 0, max: MAX_SIZE })),
  garble: fc.constantFrom(...GARBLES),
  at: fc.nat(),
});

test('the witness never cosigns two inconsistent trees, and its recorded size never decreases', async (t) => {
  const log = MemoryTree.fromLeaves(Array.from({ length: MAX_SIZE }, (_, i) => Uint8Array.of(1, i)));
  let runs = 0;
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: MAX_SIZE }), fc.array(request, { minLength: 1, maxLength: 25 }), async (forkAt, requests) => {
      // The fork holds the log's first forkAt leaves, then others.
      const fork = MemoryTree.fromLeaves(Array.from({ length: MAX_SIZE }, (_, i) => (i < forkAt ? Uint8Array.of(1, i) : Uint8Array.of(2, i))));
      const witness = new Witness({ state: join(tempDir(t), `witness-${runs++}.db`), secretKey: WITNESS.signerKey, logs: [{ origin: ORIGIN, verifierKey: LOG.verifierKey }] });
      const cosigned: { fork: boolean; size: number }[] = [];
      /** Two trees agree on their common prefix: the same log, or no longer than the shared part. */
      const consistent = (a: { fork: boolean; size: number }, b: { fork: boolean; size: number }) => a.fork === b.fork || Math.min(a.size, b.size) <= forkAt;
      try {
        for (const r of requests) {
          const tree = r.fork ? fork : log;
          const recorded = witness.recorded(ORIGIN)?.size ?? 0;
          const oldSize = r.old === 'recorded' ? recorded : r.old;
          const honestProof = oldSize > 0 && oldSize <= r.size ? consistencyProof(tree, oldSize, r.size) : [];
          const proof = garbleProof(honestProof, r.garble, r.at);
          const checkpoint = signCheckpoint({ origin: ORIGIN, size: r.size, rootHash: treeRoot(tree, r.size) }, r.garble === 'wrongKey' ? IMPOSTOR.signerKey : LOG.signerKey);
          let body = formatAddCheckpointRequest({ oldSize, consistencyProof: proof, checkpoint });
          if (r.garble === 'truncate') body = body.slice(0, r.at % body.length);
          const answer = witness.addCheckpoint(body);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          const after = witness.recorded(ORIGIN)?.size ?? 0;

          assert.ok(after >= recorded, `the recorded size went from ${recorded} to ${after}`);
          const tree2 = { fork: r.fork, size: r.size };
          const garbled = r.garble === 'wrongKey' || r.garble === 'truncate' || r.garble === 'extra' || (proof !== honestProof && honestProof.length > 0);
          if (answer.status === 200) {
            assert.ok(!garbled, `a garbled request (${r.garble}) was cosigned`);
            verifyNote(`${checkpoint}${answer.body}`, [cosignatureVerifier(WITNESS.verifierKey)]);
            for (const earlier of cosigned) assert.ok(consistent(earlier, tree2), `cosigned ${JSON.stringify(earlier)} and then ${JSON.stringify(tree2)}, fork at ${forkAt}`);
            assert.equal(after, r.size);
            cosigned.push(tree2);
          } else {
            assert.equal(after, recorded, `a refusal (${answer.status}) changed the state`);
          }
          const last = cosigned.at(-1);
          const extendsRecorded = last === undefined || consistent(last, tree2);
          if (!garbled && oldSize === recorded && r.size >= recorded && extendsRecorded) {
            assert.equal(answer.status, 200, `an honest request was refused: ${answer.body}`);
          }
          if (r.garble === 'wrongKey') assert.equal(answer.status, 403);
        }
      } finally {
        witness.close();
      }
    }),
    { numRuns: 40 },
  );
  // The runs met every answer, so each assertion above was exercised.
  assert.deepEqual([...statuses.keys()].sort(), [200, 400, 403, 409, 422], JSON.stringify([...statuses]));
});

function garbleProof(proof: Uint8Array[], garble: Garble, at: number): Uint8Array[] {
  if (garble === 'extra') return [...proof, new Uint8Array(32).fill(at % 256)];
  if (proof.length === 0) return proof;
  if (garble === 'drop') return proof.toSpliced(at % proof.length, 1);
  if (garble === 'flip') {
    const flipped = proof.map((hash) => Uint8Array.from(hash));
    flipped[at % proof.length]![at % 32]! ^= 1 << (at % 8);
    return flipped;
  }
  return proof;
}

// An app that installed the packed tarball, as ESM: every part that starts a worker or reads
// native-sql/ from the installed package runs once (writer, verification pool, replica copier),
// the stele/proofs subpath verifies an inclusion proof and stele/signing signs an event.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCopyReplicator, openLedger, verifyLedgerFile } from 'stele';
import { MemoryTree, inclusionProof, isProofError, leafHash, verifyInclusion } from 'stele/proofs';
import { generateAgentKeyPair, signEvent } from 'stele/signing';

const tree = MemoryTree.fromLeaves([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
verifyInclusion(leafHash(Uint8Array.of(2)), 1, 3, inclusionProof(tree, 1), tree.root());
assert.throws(() => verifyInclusion(leafHash(Uint8Array.of(9)), 1, 3, inclusionProof(tree, 1), tree.root()), (e) => isProofError(e) && e.code === 'INCLUSION_FAILED');
console.log('esm consumer: stele/proofs ok');

const dir = mkdtempSync(join(tmpdir(), 'stele-esm-consumer-'));
try {
  const ledger = await openLedger(join(dir, 'audit.db'), { replicas: [new FileCopyReplicator(join(dir, 'copy.db'))], replication: 'sync' });
  const { sequence } = await ledger.append({ type: 'installed', payload: { via: 'esm', at: new Date(0) } });
  assert.deepEqual(ledger.get(sequence)?.payload, { via: 'esm', at: new Date(0) });
  const keys = generateAgentKeyPair();
  await ledger.registerAgentKey('installer', keys.publicKey);
  await ledger.append(signEvent({ type: 'signed', payload: { via: 'stele/signing' } }, 'installer', keys.secretKey));
  assert.equal((await ledger.verify()).ok, true);
  const [replica] = await ledger.verifyReplicas();
  assert.deepEqual([replica.ok, replica.sequence], [true, 3]);
  await ledger.close();
  assert.deepEqual(await verifyLedgerFile(join(dir, 'copy.db')), { ok: true, checked: 3 });
  console.log('esm consumer: ok');
} finally {
  rmSync(dir, { recursive: true, force: true });
}

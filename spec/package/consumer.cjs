// The same app as CommonJS: require() of the ESM package (Node >= 20.19 loads it synchronously).
const assert = require('node:assert/strict');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { FileCopyReplicator, openLedger, replicateFile, verifyReplicaFile } = require('stele');
const { MemoryTree, consistencyProof, inclusionProof, leafHash, verifyConsistency, verifyInclusion } = require('stele/proofs');

const tree = MemoryTree.fromLeaves([Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3)]);
verifyInclusion(leafHash(Uint8Array.of(3)), 2, 3, inclusionProof(tree, 2), tree.root());
verifyConsistency(2, 3, consistencyProof(tree, 2), tree.root(2), tree.root());
console.log('cjs consumer: stele/proofs ok');

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'stele-cjs-consumer-'));
  try {
    const ledger = await openLedger(join(dir, 'audit.db'), { replicas: [new FileCopyReplicator(join(dir, 'copy.db'))] });
    await ledger.appendBatch([{ type: 'installed', payload: { via: 'cjs' } }, { type: 'installed', payload: { n: 2n } }]);
    assert.deepEqual(ledger.readAll().map((e) => e.payload), [{ via: 'cjs' }, { n: 2n }]);
    assert.deepEqual((await ledger.replicate()).map((r) => [r.status, r.sequence]), [['confirmed', 2]]);
    await ledger.close();
    assert.equal((await replicateFile(join(dir, 'audit.db'), join(dir, 'second.db'))).status, 'confirmed');
    assert.equal((await verifyReplicaFile(join(dir, 'audit.db'), join(dir, 'second.db'))).ok, true);
    console.log('cjs consumer: ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});

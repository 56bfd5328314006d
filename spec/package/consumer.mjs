// An app that installed the packed tarball, as ESM: every part that starts a worker or reads
// native-sql/ from the installed package runs once (writer, verification pool, replica copier).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileCopyReplicator, openLedger, verifyLedgerFile } from 'stele';

const dir = mkdtempSync(join(tmpdir(), 'stele-esm-consumer-'));
try {
  const ledger = await openLedger(join(dir, 'audit.db'), { replicas: [new FileCopyReplicator(join(dir, 'copy.db'))], replication: 'sync' });
  const { sequence } = await ledger.append({ type: 'installed', payload: { via: 'esm', at: new Date(0) } });
  assert.deepEqual(ledger.get(sequence)?.payload, { via: 'esm', at: new Date(0) });
  assert.equal((await ledger.verify()).ok, true);
  const [replica] = await ledger.verifyReplicas();
  assert.deepEqual([replica.ok, replica.sequence], [true, 1]);
  await ledger.close();
  assert.deepEqual(await verifyLedgerFile(join(dir, 'copy.db')), { ok: true, checked: 1 });
  console.log('esm consumer: ok');
} finally {
  rmSync(dir, { recursive: true, force: true });
}

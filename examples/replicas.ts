/**
 * Replicas: one copy kept in sync (append() resolves only once it holds the event), one kept
 * asynchronously (it follows in the background); both verified against the primary; then the
 * primary is lost and the synced copy is promoted by two witnesses.
 * Run with `npx tsx examples/replicas.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileCopyReplicator,
  generateAgentKeyPair,
  isLedgerError,
  openLedger,
  openReplica,
  promoteReplica,
  replicaInfo,
  witnessPromotion,
} from 'stele';

const dir = mkdtempSync(join(tmpdir(), 'stele-replicas-'));
const primaryPath = join(dir, 'audit.db');
const usbPath = join(dir, 'usb', 'audit.db'); // not there yet: the copy fails until it is
const nasPath = join(dir, 'nas-audit.db');

// Sync: every acknowledged append is already durable on the NAS copy.
const ledger = await openLedger(primaryPath, {
  replicas: [new FileCopyReplicator(nasPath, { id: 'nas' })],
  replication: 'sync',
});
const alice = generateAgentKeyPair();
const bob = generateAgentKeyPair();
await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
await ledger.registerAgentKey('bob', bob.publicKey, { role: 'witness' });
for (let i = 1; i <= 5; i++) await ledger.append({ type: 'payment_received', streamId: 'acct-7', payload: { cents: i * 100 } });
console.log('nas copy:', ledger.health().replicas.map((r) => `${r.replicaId} at #${r.confirmedSequence}, lag ${r.lag}`));

const [nas] = await ledger.verifyReplicas();
console.log(`verified ${nas!.replicaId}: ok=${nas!.ok} head hash matches=${nas!.headHashMatch} signatures=${nas!.signatureValid}`);
await ledger.close();

// Async: appends do not wait; a copy that fails is reported, and catches up when it can.
const busy = await openLedger(primaryPath, {
  replicas: [new FileCopyReplicator(nasPath, { id: 'nas' }), new FileCopyReplicator(usbPath, { id: 'usb' })],
  replication: 'async',
});
busy.on('warning', (warning) => {
  if (warning.kind === 'replication') console.log(`warning: replica ${warning.replicaId} is behind (${warning.error?.code})`);
});
await busy.append({ type: 'payment_received', streamId: 'acct-7', payload: { cents: 600 } });
const receipts = await busy.replicate();
console.log('receipts:', receipts.map((r) => `${r.replicaId}: ${r.status} at #${r.sequence}`).join(', '));
await busy.close();

// Reads can be served from a copy; it holds a prefix of the primary (eventually consistent).
const copy = await openReplica(nasPath);
console.log(`the nas copy holds ${copy.maxSequence()} events; acct-7 has ${copy.readStream('acct-7').length}`);
await copy.close();

// The primary's disk fails. Failover is never automatic: two witnesses sign the promotion.
rmSync(primaryPath);
try {
  await openLedger(nasPath);
} catch (error) {
  if (!isLedgerError(error, 'REPLICA_NOT_PROMOTED')) throw error;
  console.log('opening the copy for writing before promotion: REPLICA_NOT_PROMOTED');
}
const subject = replicaInfo(nasPath);
const reason = 'primary disk failed; nas copy verified';
await promoteReplica(nasPath, {
  reason,
  witnesses: [witnessPromotion(subject, reason, 'alice', alice.secretKey), witnessPromotion(subject, reason, 'bob', bob.secretKey)],
});
const promoted = await openLedger(nasPath);
const next = await promoted.append({ type: 'payment_received', streamId: 'acct-7', payload: { cents: 700 } });
console.log(`promoted: the nas copy is the primary now, appending at #${next.sequence}; verify ok=${(await promoted.verify()).ok}`);
await promoted.close();
rmSync(dir, { recursive: true, force: true });

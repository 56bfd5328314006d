/**
 * Replication: file copies that only ever hold a prefix of their primary, prove it on request,
 * survive crashes on either side, and become a primary only through a witnessed ceremony.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  DEFAULT_STREAM,
  FileCopyReplicator,
  generateAgentKeyPair,
  isLedgerError,
  openLedger,
  openReplica,
  promoteReplica,
  replicaInfo,
  replicateFile,
  verifyReplicaFile,
  witnessPromotion,
  type AgentKeyPair,
  type Ledger,
} from '../lib/index.ts';
import { systemEvent } from '../lib/format/event-encoding.ts';
import { APPEND_SQL, appendArgs } from '../lib/sqlite/append-statement.ts';
import { configureWriterConnection } from '../lib/sqlite/connections.ts';
import { registerNativeFunctions } from '../lib/sqlite/native-functions.ts';
import { buildLedger, copyLedgerFile, rechain, tamper } from './helpers/tamper.ts';
import { runChild } from './helpers/run-child.ts';
import { chainOf, historyOf, reopen, tempDir } from './helpers/temp-ledger.ts';

const CHILD = new URL('./fixtures/processes/replicating-primary.ts', import.meta.url);

function eventIdsOf(path: string): Set<string> {
  const db = new Database(path, { readonly: true });
  try {
    return new Set(db.prepare('SELECT event_id FROM events').pluck().all() as string[]);
  } finally {
    db.close();
  }
}

async function appendSome(ledger: Ledger, count: number, tag = 'e'): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, i) => ledger.append({ type: 'tick', streamId: `${tag}-${i % 4}`, payload: { i } })));
}

function codeOf(error: unknown): string | undefined {
  return isLedgerError(error) ? error.code : undefined;
}

test('three replicas converge under concurrent appends (async)', async (t) => {
  const dir = tempDir(t);
  const copies = [1, 2, 3].map((i) => join(dir, `copy-${i}.db`));
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: copies.map((path) => new FileCopyReplicator(path)) });
  await Promise.all([appendSome(ledger, 300, 'a'), ledger.appendBatch(Array.from({ length: 50 }, (_, i) => ({ type: 'batch', payload: { i } }))), appendSome(ledger, 200, 'b')]);

  const receipts = await ledger.replicate();
  assert.deepEqual(receipts.map((r) => [r.replicaId, r.status, r.sequence]), copies.map((path) => [path, 'confirmed', 550]));
  assert.deepEqual(ledger.health().replicas.map((r) => [r.confirmedSequence, r.lag, r.status]), copies.map(() => [550, 0, 'confirmed']));
  const results = await ledger.verifyReplicas();
  for (const result of results) {
    assert.deepEqual(
      { ok: result.ok, sequence: result.sequence, lag: result.lag, headHashMatch: result.headHashMatch, signatureValid: result.signatureValid, schemaVersionMatch: result.schemaVersionMatch, continuous: result.continuous, errors: result.errors },
      { ok: true, sequence: 550, lag: 0, headHashMatch: true, signatureValid: true, schemaVersionMatch: true, continuous: true, errors: [] },
    );
  }
  await ledger.close();
  const primary = historyOf(ledger.path);
  for (const copy of copies) assert.deepEqual(historyOf(copy), primary);
});

test('a replica is a Stele ledger of its own: readable with openReplica, refused for writing', async (t) => {
  const dir = tempDir(t);
  const copy = join(dir, 'copy.db');
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: [new FileCopyReplicator(copy, { id: 'backup' })], replication: 'sync' });
  const written = await ledger.append({ type: 'opened', streamId: 'acct-1', payload: { cents: 100n } });
  assert.equal(ledger.health().replicas[0]!.replicaId, 'backup');

  const replica = await openReplica(copy);
  t.after(() => replica.close());
  const read = replica.get(written.sequence)!;
  assert.deepEqual([read.eventId, read.payload, read.contentHash, read.authorityTimestamp.getTime()], [written.eventId, { cents: 100n }, written.contentHash, written.authorityTimestamp.getTime()]);
  assert.equal(replica.readonly, true);
  const info = replicaInfo(copy);
  assert.deepEqual([info.promoted, info.head.sequence, info.replicaOf], [false, 1, ledger.path]);
  assert.match(info.replicaId, /^[0-9a-f-]{36}$/);

  await assert.rejects(openLedger(copy, { allowDegraded: false }), (error) => codeOf(error) === 'WRITER_LOCK_HELD');
  await ledger.close();
  await assert.rejects(openLedger(copy), (error) => codeOf(error) === 'REPLICA_NOT_PROMOTED');
  await assert.rejects(openReplica(ledger.path), (error) => codeOf(error) === 'NOT_A_REPLICA');
});

test('a tampered replica row is found by verifyReplicas with its sequence', async (t) => {
  const dir = tempDir(t);
  const copy = join(dir, 'copy.db');
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: [new FileCopyReplicator(copy)] });
  await appendSome(ledger, 40);
  await ledger.replicate();
  tamper(copy, (db) => db.prepare(`UPDATE events SET payload = '{"i":999}' WHERE sequence = 17`).run());

  const [result] = await ledger.verifyReplicas();
  assert.equal(result!.ok, false);
  assert.deepEqual([result!.firstBad?.sequence, result!.firstBad?.reason], [17, 'content_hash']);
  assert.equal(result!.headHashMatch, true); // the head is untouched: only the chain check sees the edit
  assert.match(result!.errors[0]!, /^sequence 17: content_hash/);
});

test('a replica rewritten consistently (rechained) no longer matches its primary at the head', async (t) => {
  const dir = tempDir(t);
  const copy = join(dir, 'copy.db');
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: [new FileCopyReplicator(copy)] });
  await appendSome(ledger, 30);
  await ledger.replicate();
  tamper(copy, (db) => {
    db.prepare(`UPDATE events SET payload = '{"i":-1}' WHERE sequence = 12`).run();
    rechain(db, 12);
  });
  const [result] = await ledger.verifyReplicas();
  // The chain alone is valid; the Merkle tree the copy kept still holds the old row's tile, (4, 0),
  // written by the append of sequence 16.
  assert.deepEqual([result!.ok, result!.headHashMatch, result!.firstBad?.reason, result!.firstBad?.sequence], [false, false, 'merkle_node', 16]);
  // A chain that is valid but different is divergence: propagation refuses to extend it.
  await appendSome(ledger, 1);
  const [receipt] = await ledger.replicate();
  assert.equal(receipt!.status, 'failed');
  assert.equal(receipt!.error?.code, 'REPLICA_DIVERGED');
  assert.equal(receipt!.error?.details.sequence, 12);
  assert.equal(replicaInfo(copy).head.sequence, 30);
});

test('a replica missing a range is reported as not continuous', async (t) => {
  const dir = tempDir(t);
  const copy = join(dir, 'copy.db');
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: [new FileCopyReplicator(copy)] });
  await appendSome(ledger, 50);
  await ledger.replicate();
  tamper(copy, (db) => db.prepare('DELETE FROM events WHERE sequence BETWEEN 20 AND 29').run());

  const [result] = await ledger.verifyReplicas();
  assert.deepEqual([result!.ok, result!.continuous, result!.firstBad?.sequence, result!.firstBad?.reason], [false, false, 20, 'sequence_gap']);
});

test('a diverged replica is never overwritten: REPLICA_DIVERGED names the first differing sequence', async (t) => {
  const dir = tempDir(t);
  const copy = join(dir, 'copy.db');
  const first = join(dir, 'first.db');
  await buildLedger(first, 25);
  assert.equal((await replicateFile(first, copy)).status, 'confirmed');
  const before = historyOf(copy);
  // Another history that shares the first 10 rows and differs from the 11th on.
  const fork = join(dir, 'fork.db');
  copyLedgerFile(first, fork);
  tamper(fork, (db) => {
    db.prepare(`UPDATE events SET payload = '{"forked":true}' WHERE sequence = 11`).run();
    rechain(db, 11);
  });
  const diverged = await replicateFile(fork, copy);
  assert.equal(diverged.error?.code, 'REPLICA_DIVERGED');
  assert.equal(diverged.error?.details.sequence, 11);
  assert.deepEqual(historyOf(copy), before);
});

test('a primary restored from an older backup finds its replica ahead: REPLICA_AHEAD', async (t) => {
  const dir = tempDir(t);
  const primaryPath = join(dir, 'primary.db');
  const copy = join(dir, 'copy.db');
  let ledger = await reopen(t, primaryPath);
  await appendSome(ledger, 5);
  await ledger.close();
  copyLedgerFile(primaryPath, join(dir, 'backup.db'));
  ledger = await reopen(t, primaryPath, { replicas: [new FileCopyReplicator(copy)], replication: 'sync' });
  await appendSome(ledger, 5);
  await ledger.close();
  // The restore puts back the file as it was: no WAL of the newer state, and the head sidecar of
  // the backup's time (none), as an operator restoring only the .db would leave it.
  for (const suffix of ['-wal', '-shm', '-head.json']) rmSync(primaryPath + suffix, { force: true });
  renameSync(join(dir, 'backup.db'), primaryPath);

  ledger = await reopen(t, primaryPath, { replicas: [new FileCopyReplicator(copy)] });
  const [receipt] = await ledger.replicate();
  assert.deepEqual([receipt!.status, receipt!.sequence, receipt!.error?.code], ['failed', 10, 'REPLICA_AHEAD']);
  assert.deepEqual(ledger.health().replicas.map((r) => [r.status, r.errorCode]), [['failed', 'REPLICA_AHEAD']]);
  const [result] = await ledger.verifyReplicas();
  assert.deepEqual([result!.ok, result!.lag], [false, -5]);
});

test('sync mode: a replica that cannot confirm turns into REPLICATION_FAILED on that append; the primary has it', async (t) => {
  const dir = tempDir(t);
  const good = join(dir, 'good.db');
  const unreachable = join(dir, 'no-such-dir', 'copy.db');
  const warnings: unknown[] = [];
  const ledger = await reopen(t, join(dir, 'primary.db'), {
    replicas: [new FileCopyReplicator(good), new FileCopyReplicator(unreachable, { id: 'usb' })],
    replication: 'sync',
  });
  ledger.on('warning', (warning) => warnings.push(warning));
  const error = await ledger.append({ type: 'tick', eventId: 'evt-1' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.equal(codeOf(error), 'REPLICATION_FAILED');
  const details = (error as { details: Record<string, unknown> }).details;
  // Each failed replica's own code says why: its folder does not exist.
  assert.deepEqual(details, { sequence: 1, eventId: 'evt-1', committed: true, failed: [{ replicaId: 'usb', sequence: 0, code: 'FILE_NOT_WRITABLE' }] });
  assert.equal(ledger.getByEventId('evt-1')?.sequence, 1);
  assert.deepEqual([...eventIdsOf(good)], ['evt-1']);
  assert.deepEqual(warnings.map((w) => [(w as { kind: string }).kind, (w as { replicaId: string }).replicaId]), [['replication', 'usb']]);

  // Once the copy is reachable, the next append brings it up to date.
  mkdirSync(join(dir, 'no-such-dir'));
  await ledger.append({ type: 'tick', eventId: 'evt-2' });
  assert.deepEqual([...eventIdsOf(unreachable)].sort(), ['evt-1', 'evt-2']);
});

test('sync mode: SIGKILL of the primary right after acknowledgements leaves each acknowledged event in every replica', async (t) => {
  const dir = tempDir(t);
  const primary = join(dir, 'primary.db');
  const copies = [join(dir, 'copy-1.db'), join(dir, 'copy-2.db')];
  const child = runChild(t, CHILD, ['append', primary, ...copies]);
  const acknowledged: string[] = [];
  for await (const line of child.lines) {
    const { eventId } = line as { sequence?: number; eventId?: string };
    if (eventId) acknowledged.push(eventId);
    if (acknowledged.length === 40) child.process.kill('SIGKILL');
  }
  await child.exited;
  assert.ok(acknowledged.length >= 40);
  for (const copy of copies) {
    const held = eventIdsOf(copy);
    assert.deepEqual(acknowledged.filter((id) => !held.has(id)), [], `${copy} lacks acknowledged events`);
    assert.equal(chainOf(copy).ok, true);
  }
});

test('a replica killed mid-propagation stays at a consistent earlier head and recovers', async (t) => {
  const dir = tempDir(t);
  const primary = join(dir, 'primary.db');
  const copy = join(dir, 'copy.db');
  const total = 40_000;
  await buildLedger(primary, total);
  const child = runChild(t, CHILD, ['copy', primary, copy]);
  // Kill as soon as the first chunk is durable in the copy.
  let headAtKill = 0;
  while (headAtKill === 0) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (!existsSync(copy)) continue;
    try {
      headAtKill = replicaInfo(copy).head.sequence;
    } catch {
      // the copy is being created: its schema is not there yet
    }
  }
  child.process.kill('SIGKILL');
  await child.exited;

  const { head } = replicaInfo(copy);
  assert.ok(head.sequence >= headAtKill && head.sequence < total, `copy at ${head.sequence} of ${total}`);
  assert.equal(chainOf(copy).ok, true);
  assert.equal(historyOf(primary)[head.sequence - 1]![1], head.contentHash);

  const receipt = await replicateFile(primary, copy);
  assert.deepEqual([receipt.status, receipt.sequence], ['confirmed', total]);
  const result = await verifyReplicaFile(primary, copy);
  assert.deepEqual([result.ok, result.lag, result.errors], [true, 0, []]);
});

async function withWitnesses(ledger: Ledger): Promise<{ alice: AgentKeyPair; bob: AgentKeyPair }> {
  const alice = generateAgentKeyPair();
  const bob = generateAgentKeyPair();
  await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
  await ledger.registerAgentKey('bob', bob.publicKey, { role: 'witness' });
  return { alice, bob };
}

test('promotion is a witnessed ceremony: refused without a quorum, then the copy opens for writing', async (t) => {
  const dir = tempDir(t);
  const copy = join(dir, 'copy.db');
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: [new FileCopyReplicator(copy)], replication: 'sync' });
  const { alice, bob } = await withWitnesses(ledger);
  await appendSome(ledger, 10);
  await ledger.close();

  const subject = replicaInfo(copy);
  const reason = 'primary disk failed';
  await assert.rejects(promoteReplica(copy, { reason, witnesses: [] }), (error) => codeOf(error) === 'CEREMONY_REFUSED');
  // A witness list is checked for shape before anything is read or written.
  await assert.rejects(promoteReplica(copy, { reason, witnesses: Object.assign([], { length: 2 ** 32 - 1 }) }), {
    name: 'RangeError',
    message: `promoteReplica: at most 64 witnesses, got ${2 ** 32 - 1}`,
  });
  await assert.rejects(promoteReplica(copy, { reason, witnesses: [{ witnessId: 'alice' }] as never }), {
    name: 'TypeError',
    message: 'promoteReplica: witnesses[0] must be { witnessId: string, signature: string }',
  });
  await assert.rejects(
    promoteReplica(copy, { reason, witnesses: [witnessPromotion(subject, reason, 'alice', alice.secretKey)] }),
    (error) => codeOf(error) === 'CEREMONY_REFUSED',
  );
  // Signatures over another reason, or by the same witness twice, do not count.
  await assert.rejects(
    promoteReplica(copy, { reason, witnesses: [witnessPromotion(subject, 'other', 'alice', alice.secretKey), witnessPromotion(subject, 'other', 'bob', bob.secretKey)] }),
    (error) => codeOf(error) === 'CEREMONY_REFUSED',
  );
  await assert.rejects(
    promoteReplica(copy, { reason, witnesses: [witnessPromotion(subject, reason, 'alice', alice.secretKey), witnessPromotion(subject, reason, 'alice', alice.secretKey)] }),
    (error) => codeOf(error) === 'CEREMONY_REFUSED',
  );
  await assert.rejects(openLedger(copy), (error) => codeOf(error) === 'REPLICA_NOT_PROMOTED');
  assert.equal(replicaInfo(copy).head.sequence, 12);

  const ceremony = await promoteReplica(copy, {
    reason,
    witnesses: [witnessPromotion(subject, reason, 'alice', alice.secretKey), witnessPromotion(subject, reason, 'bob', bob.secretKey)],
  });
  assert.equal(ceremony.sequence, 13);
  assert.equal(replicaInfo(copy).promoted, true);
  const promoted = await reopen(t, copy);
  const next = await promoted.append({ type: 'after_failover' });
  assert.equal(next.sequence, 14);
  assert.equal((await promoted.verify()).ok, true);
  const row = promoted.get(13)!;
  assert.deepEqual([row.streamId, row.type, (row.payload as { headSequence: number }).headSequence], ['$replication', 'stele.replica_promoted', 12]);
  await promoted.close();
  await assert.rejects(promoteReplica(copy, { reason, witnesses: [] }), (error) => codeOf(error) === 'NOT_A_REPLICA');
});

test('a tampered replica cannot be promoted', async (t) => {
  const dir = tempDir(t);
  const copy = join(dir, 'copy.db');
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: [new FileCopyReplicator(copy)], replication: 'sync' });
  const { alice, bob } = await withWitnesses(ledger);
  await appendSome(ledger, 5);
  await ledger.close();
  tamper(copy, (db) => db.prepare(`UPDATE events SET payload = '{"i":7}' WHERE sequence = 4`).run());
  const subject = replicaInfo(copy);
  const witnesses = [witnessPromotion(subject, 'r', 'alice', alice.secretKey), witnessPromotion(subject, 'r', 'bob', bob.secretKey)];
  await assert.rejects(promoteReplica(copy, { reason: 'r', witnesses }), (error) => {
    assert.equal(codeOf(error), 'CEREMONY_REFUSED');
    assert.deepEqual((error as { details: { firstBad: { sequence: number } } }).details.firstBad.sequence, 4);
    return true;
  });
});

test('a promoted replica replicates onward, its ceremony copied like any other row', async (t) => {
  const dir = tempDir(t);
  const first = join(dir, 'first.db');
  const second = join(dir, 'second.db');
  const ledger = await reopen(t, join(dir, 'primary.db'), { replicas: [new FileCopyReplicator(first)], replication: 'sync' });
  const { alice, bob } = await withWitnesses(ledger);
  await ledger.close();
  const subject = replicaInfo(first);
  await promoteReplica(first, { reason: 'r', witnesses: [witnessPromotion(subject, 'r', 'alice', alice.secretKey), witnessPromotion(subject, 'r', 'bob', bob.secretKey)] });
  const promoted = await reopen(t, first, { replicas: [new FileCopyReplicator(second)], replication: 'sync' });
  await promoted.append({ type: 'after' });
  assert.deepEqual(historyOf(second), historyOf(first));
  assert.equal(replicaInfo(second).promoted, false);
});

test('the file guards itself: a ledger with events cannot be turned into a replica, nor take a promotion', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'primary.db');
  await buildLedger(path, 3);
  const db = new Database(path);
  t.after(() => db.close());
  assert.throws(() => db.prepare("INSERT INTO ledger_meta (key, value) VALUES ('replica_id', 'x')").run(), /STELE:APPEND_ONLY_VIOLATION:ledger_meta/);
  const promoted = await reopen(t, path);
  // Not through the API (there is none on a primary), and not through the reserved stream either.
  await assert.rejects(promoted.append({ type: 'stele.replica_promoted', streamId: '$replication' }), (error) => codeOf(error) === 'INVALID_EVENT');
  await promoted.close();

  // An unpromoted replica refuses new history through the append view, from any connection that can append.
  const copy = join(dir, 'copy.db');
  assert.equal((await replicateFile(path, copy)).status, 'confirmed');
  const raw = new Database(copy);
  t.after(() => raw.close());
  configureWriterConnection(raw, 'full');
  registerNativeFunctions(raw, { driftThresholdMs: 5_000 });
  assert.throws(
    () => raw.prepare(APPEND_SQL).run(...appendArgs(systemEvent(DEFAULT_STREAM, 'forged', {}))),
    (error: Error) => error.message === 'STELE:REPLICA_NOT_PROMOTED',
  );
  assert.equal(replicaInfo(copy).head.sequence, 3);
});

test('replication options and paths are checked up front', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'primary.db');
  assert.throws(() => new FileCopyReplicator(''), TypeError);
  assert.throws(() => new FileCopyReplicator('x.db', { id: '' }), TypeError);
  await assert.rejects(openLedger(path, { replicas: [{}] as never }), TypeError);
  await assert.rejects(openLedger(path, { replicas: [new FileCopyReplicator(join(dir, 'a.db'), { id: 'x' }), new FileCopyReplicator(join(dir, 'b.db'), { id: 'x' })] }), RangeError);
  await assert.rejects(openLedger(path, { replication: 'eventually' as never }), RangeError);
  await assert.rejects(openLedger(path, { readonly: true, replicas: [new FileCopyReplicator(join(dir, 'a.db'))] }), TypeError);
  await assert.rejects(openLedger(path, { replicas: [new FileCopyReplicator(path)] }), RangeError);
  // Nothing was left open by the refused openings: a writer starts.
  const ledger = await reopen(t, path);
  assert.equal((await ledger.append({ type: 'ok' })).sequence, 1);
  assert.deepEqual(await ledger.replicate(), []);
  await assert.rejects(replicateFile(join(dir, 'missing.db'), join(dir, 'c.db')), (error) => codeOf(error) === 'NOT_A_LEDGER');
});

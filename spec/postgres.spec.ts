/**
 * PostgreSQL replicas: the same content hashes as the SQLite primary, replication through the
 * Replicator port, reads and verification there, and the attacks the triggers, privileges and
 * event triggers refuse. One throwaway cluster for the file (spec/helpers/postgres-cluster.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import {
  generateAgentKeyPair,
  isLedgerError,
  openLedger,
  signEvent,
  witnessClearHalt,
  type Ledger,
  type LedgerOptions,
} from '../lib/index.ts';
import { installPostgresLedger, openPostgresReplica, PostgresReplicator, restoreFromPostgres } from '../lib/postgres.ts';
import { cosignCheckpoint, generateKeyPair, parseNote, SIGNATURE_TYPE_COSIGNATURE_V1 } from '../lib/proofs/index.ts';
import { runChild } from './helpers/run-child.ts';
import { historyOf, tempDir } from './helpers/temp-ledger.ts';
import { requirePostgres, startPostgresCluster, type PostgresCluster } from './helpers/postgres-cluster.ts';

const available = requirePostgres();
const skip = available ? false : 'PostgreSQL is not installed';
const DATABASE = 'stele_spec';
let cluster: PostgresCluster;
const pools: pg.Pool[] = [];

before(async () => {
  if (!available) return;
  // Stopped by the file's own after hook below, once the pools are ended.
  cluster = await startPostgresCluster({ after: () => {} }, { logical: true });
  cluster.psql(`CREATE DATABASE ${DATABASE}`);
});
after(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  cluster?.stop();
});

/** A pool on the spec database as `user` (trust authentication), ended after the file. */
function poolAs(user = 'postgres', database = DATABASE): pg.Pool {
  const pool = new pg.Pool({ connectionString: cluster.url(user, database), max: 3 });
  pools.push(pool);
  return pool;
}

let ledgers = 0;
/** A new ledger in PostgreSQL with a login role for each of its roles: `<name>_replicator` (app), `<name>_auditor` (reader). */
async function newPostgresLedger(prefix = 'ledger'): Promise<{ name: string; app: pg.Pool; reader: pg.Pool; superuser: pg.Pool }> {
  const name = `${prefix}_${++ledgers}`;
  const installation = await installPostgresLedger(cluster.url('postgres', DATABASE), { ledger: name });
  assert.equal(installation.signatures, 'verified', 'plpython3u with nacl is installed here (.ci/run installs it)');
  cluster.psql(`CREATE ROLE ${name}_replicator LOGIN IN ROLE ${name}_app; CREATE ROLE ${name}_auditor LOGIN IN ROLE ${name}_reader;`, DATABASE);
  return { name, app: poolAs(`${name}_replicator`), reader: poolAs(`${name}_auditor`), superuser: poolAs() };
}

async function openPrimary(t: { after(fn: () => unknown): void }, options: LedgerOptions = {}): Promise<{ ledger: Ledger; path: string }> {
  const path = join(tempDir(t as never), 'primary.db');
  const ledger = await openLedger(path, options);
  t.after(() => ledger.close());
  return { ledger, path };
}

/** Every kind of row Stele writes: superjson values, unicode, signed events, keys, a drift warning, a halt and its ceremony. */
async function appendVariety(ledger: Ledger): Promise<void> {
  const agent = generateAgentKeyPair();
  const alice = generateAgentKeyPair();
  const bob = generateAgentKeyPair();
  await ledger.append({ eventId: 'evt-1', streamId: 'order-42', type: 'order_placed', payload: { sku: 'café', qty: 2 }, metadata: { actor: 'ada' } });
  await ledger.append({ streamId: 'order-42', type: 'order_paid', payload: { paidAt: new Date('2023-11-14T22:13:25.000Z'), amount: 950n, tags: new Set(['a']) } });
  await ledger.append({ streamId: 'user-ada', type: 'user_login', payload: { ip: '10.0.0.7' }, metadata: { requestId: 'r-7', retried: undefined }, localTimestamp: new Date(Date.now() - 12_000) });
  await ledger.append({ type: 'no_payload' });
  await ledger.append({ type: 'emoji', payload: { text: 'naïve 👩‍👩‍👧 \\ " \n tab\t' }, streamId: 'ünïcode-stream' });
  await ledger.registerAgentKey('billing-bot', agent.publicKey);
  await ledger.append(signEvent({ streamId: 'invoice-7', type: 'invoice_sent', payload: { invoice: 7, amount: 950n } }, 'billing-bot', agent.secretKey));
  await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
  await ledger.registerAgentKey('bob', bob.publicKey, { role: 'witness' });
  const halt = await ledger.halt('disk check');
  const reason = 'disk replaced, chain verified';
  await ledger.clearHalt({
    reason,
    witnesses: [witnessClearHalt(halt, reason, 'alice', alice.secretKey), witnessClearHalt(halt, reason, 'bob', bob.secretKey)],
  });
  await ledger.revokeAgentKey('billing-bot', ((await ledger.readStream('$agents'))[0]!.payload as { keyId: string }).keyId, 'rotated');
  await ledger.appendBatch(Array.from({ length: 30 }, (_, i) => ({ streamId: `batch-${i % 3}`, type: 'tick', payload: { i } })));
  // A taxonomy recorded, honoured, then lifted: the copy checks each type against the newest '$types' row before it.
  await ledger.setEventTypes(['tick', 'zoë_spoke']);
  await ledger.appendBatch([{ type: 'tick' }, { type: 'zoë_spoke' }]);
  await ledger.setEventTypes([]);
}

function sqliteRows(path: string): { sequence: number; content_hash: string }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT sequence, content_hash FROM events ORDER BY sequence').all() as { sequence: number; content_hash: string }[];
  } finally {
    db.close();
  }
}

function codeOf(error: unknown): string | undefined {
  return isLedgerError(error) ? error.code : undefined;
}

test('stele_event_hash reproduces FORMAT.md worked example, byte for byte', { skip }, async () => {
  const db = poolAs();
  await installPostgresLedger(cluster.url('postgres', DATABASE), { ledger: 'format_vector' });
  const { rows } = await db.query(
    `SELECT stele.stele_event_hash(1, 'evt-1', 'order-42', 0, 'order_placed', '{"sku":"café","qty":2}', NULL, '{"actor":"ada"}', NULL, NULL, NULL,
                                   1700000000000, 1700000000123, repeat('0', 64)) AS hash`,
  );
  assert.equal(rows[0].hash, '7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad');
});

test('rows replicated from a SQLite primary keep their content hashes, and PostgreSQL recomputes the same ones', { skip }, async (t) => {
  const copy = await newPostgresLedger();
  const replicator = new PostgresReplicator(copy.app, { ledger: copy.name });
  // Attached later: every row then arrives in one INSERT, so a key registered, used and revoked
  // within one statement must be seen by the rows after it.
  const { ledger, path } = await openPrimary(t, { replicas: [replicator] });
  await replicator.close();
  await appendVariety(ledger);
  await replicator.attach({ path });
  assert.equal((await replicator.propagate(Number.MAX_SAFE_INTEGER)).status, 'confirmed');
  const receipts = await ledger.replicate();
  assert.deepEqual(receipts.map((r) => [r.status, r.sequence]), [['confirmed', ledger.head()!.sequence]]);

  const { rows } = await copy.reader.query(
    `SELECT sequence::int, content_hash,
            stele.stele_event_hash(sequence, event_id, stream_id, stream_version, type, payload, payload_meta, metadata, metadata_meta,
                                   agent_id, signature, local_timestamp, authority_timestamp, prev_hash) AS recomputed
       FROM ${copy.name}.events ORDER BY sequence`,
  );
  assert.deepEqual(rows.map((r) => ({ sequence: r.sequence, content_hash: r.content_hash })), sqliteRows(path));
  assert.deepEqual(rows.filter((r) => r.recomputed !== r.content_hash), []);
  // The derived tables were rebuilt by the copy's triggers from the copied events.
  const keys = await copy.reader.query(`SELECT agent_id, role FROM ${copy.name}.agent_keys ORDER BY registered_sequence`);
  assert.deepEqual(keys.rows, [{ agent_id: 'billing-bot', role: 'agent' }, { agent_id: 'alice', role: 'witness' }, { agent_id: 'bob', role: 'witness' }]);
  const revoked = await copy.reader.query(`SELECT agent_id, reason FROM ${copy.name}.agent_key_revocations`);
  assert.deepEqual(revoked.rows, [{ agent_id: 'billing-bot', reason: 'rotated' }]);
  const drift = await copy.reader.query(`SELECT sequence::int FROM ${copy.name}.clock_drift_warnings`);
  assert.deepEqual(drift.rows, [{ sequence: 3 }]);

  const verified = await ledger.verifyReplicas();
  assert.deepEqual(verified.map((r) => [r.ok, r.lag, r.headHashMatch, r.schemaVersionMatch, r.errors]), [[true, 0, true, true, []]]);
  const auditor = await copy.reader.query('SELECT * FROM stele.stele_verify($1)', [copy.name]);
  assert.deepEqual(auditor.rows[0], { ok: true, checked: String(ledger.head()!.sequence), sequence: null, reason: null, expected: null, actual: null, detail: null });
});

test('a file restored from PostgreSQL holds the same history, verifies, reads back, and a second restore copies only what is new', { skip }, async (t) => {
  const copy = await newPostgresLedger('restore');
  const replicator = new PostgresReplicator(copy.app, { ledger: copy.name });
  const { ledger, path } = await openPrimary(t, { replicas: [replicator], replication: 'sync' });
  await appendVariety(ledger);
  const restoredPath = join(tempDir(t), 'restored.db');
  const first = await restoreFromPostgres(copy.reader, { ledger: copy.name, path: restoredPath });
  assert.deepEqual(first.verified, { ok: true, checked: ledger.head()!.sequence });
  assert.deepEqual(first.head, ledger.head());
  assert.equal(first.copied, ledger.head()!.sequence);
  assert.deepEqual(historyOf(restoredPath), historyOf(path));
  const restored = await openLedger(restoredPath, { readonly: true });
  t.after(() => restored.close());
  assert.deepEqual(restored.readAll(), ledger.readAll());

  await ledger.append({ type: 'after_restore', payload: { n: 1 } });
  const second = await restoreFromPostgres(copy.reader, { ledger: copy.name, path: restoredPath });
  assert.equal(second.copied, 1);
  assert.deepEqual(second.head, ledger.head());
  assert.deepEqual(historyOf(restoredPath), historyOf(path));
  // Any other file is never written into: a ledger of its own, and the live primary (its writer holds the lock).
  const other = join(tempDir(t), 'other.db');
  const otherLedger = await openLedger(other);
  await otherLedger.append({ type: 'mine' });
  await otherLedger.close();
  await assert.rejects(restoreFromPostgres(copy.reader, { ledger: copy.name, path: other }), (error: unknown) => codeOf(error) === 'NOT_A_REPLICA');
  assert.equal(historyOf(other).length, 1);
  await assert.rejects(restoreFromPostgres(copy.reader, { ledger: copy.name, path }), (error: unknown) => codeOf(error) === 'WRITER_LOCK_HELD');

  // The same from the command line, as an operator with only a database URL runs it.
  const cliPath = join(tempDir(t), 'from-cli.db');
  const cli = runChild(t, new URL('../lib/cli/stele.ts', import.meta.url), ['restore', cliPath, '--from', cluster.url(`${copy.name}_auditor`, DATABASE), '--ledger', copy.name, '--json']);
  const printed = (await cli.next()) as { head: { sequence: number }; verified: { ok: boolean } };
  assert.deepEqual([printed.head.sequence, printed.verified.ok], [ledger.head()!.sequence, true]);
  assert.deepEqual(await cli.exited, { code: 0, signal: null });
  assert.deepEqual(historyOf(cliPath), historyOf(path));
});

test('stored checkpoints replicate: the copy re-checks each, stele_verify replays them, and a file restored from it verifies their roots', { skip }, async (t) => {
  const copy = await newPostgresLedger('checkpoints');
  const origin = 'example.com/stele-spec';
  const log = generateKeyPair(origin);
  const witness = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
  const { ledger, path } = await openPrimary(t, {
    replicas: [new PostgresReplicator(copy.app, { ledger: copy.name })],
    replication: 'sync',
    checkpoint: { origin, secretKey: log.signerKey },
  });
  await appendVariety(ledger);
  const first = await ledger.storeCheckpoint();
  await ledger.appendBatch(Array.from({ length: 20 }, (_, i) => ({ streamId: 'after-checkpoint', type: 'tick', payload: { i } })));
  // A taxonomy does not apply to '$checkpoints', here as in SQLite.
  await ledger.setEventTypes(['tick']);
  const second = await ledger.storeCheckpoint();
  const cosignOf = (note: string) => cosignCheckpoint(note, { secretKey: witness.signerKey, logKey: log.verifierKey }).signedCheckpoint;
  // The same checkpoint again, with the witness's cosignature: a repeated text, not a newer tree.
  const cosigned = await ledger.addCosignatures(cosignOf(second.note), { witnessKeys: [witness.verifierKey] });
  assert.equal(cosigned.treeSize, second.treeSize);
  // A halted ledger can still be checkpointed.
  await ledger.halt('inspection');
  const halted = await ledger.storeCheckpoint();
  assert.ok(first.treeSize < second.treeSize && second.treeSize < halted.treeSize);
  // Cosignatures of the oldest checkpoint, arriving after newer ones.
  const late = await ledger.addCosignatures(cosignOf(first.note), { witnessKeys: [witness.verifierKey] });
  assert.equal(late.treeSize, first.treeSize);
  assert.deepEqual((await ledger.replicate()).map((r) => [r.status, r.sequence]), [['confirmed', ledger.head()!.sequence]]);

  const { rows } = await copy.reader.query(
    `SELECT sequence::int, type, payload::jsonb ->> 'note' AS note FROM ${copy.name}.events WHERE stream_id = '$checkpoints' ORDER BY sequence`,
  );
  const types = ['stele.checkpoint', 'stele.checkpoint', 'stele.checkpoint_cosigned', 'stele.checkpoint', 'stele.checkpoint_cosigned'];
  assert.deepEqual(rows, [first, second, cosigned, halted, late].map(({ sequence, note }, i) => ({ sequence, type: types[i], note })));
  assert.equal(parseNote(rows[2]!.note).signatures.length, 2);
  const auditor = await copy.reader.query('SELECT ok, checked::int FROM stele.stele_verify($1)', [copy.name]);
  assert.deepEqual(auditor.rows[0], { ok: true, checked: ledger.head()!.sequence });
  const [health] = await ledger.verifyReplicas();
  assert.deepEqual([health!.ok, health!.schemaVersionMatch, health!.errors], [true, true, []]);

  // The roots, which the copy does not check, are checked again in the restored file.
  const restoredPath = join(tempDir(t), 'restored.db');
  const restored = await restoreFromPostgres(copy.reader, { ledger: copy.name, path: restoredPath });
  assert.deepEqual(restored.verified, { ok: true, checked: ledger.head()!.sequence });
  assert.deepEqual(historyOf(restoredPath), historyOf(path));
});

test('openPostgresReplica reads back what the primary reads, values decoded the same way', { skip }, async (t) => {
  const copy = await newPostgresLedger();
  const { ledger } = await openPrimary(t, { replicas: [new PostgresReplicator(copy.app, { ledger: copy.name })], replication: 'sync' });
  await appendVariety(ledger);
  const replica = await openPostgresReplica(copy.reader, { ledger: copy.name });
  t.after(() => replica.close());

  assert.deepEqual(await replica.readAll(), ledger.readAll());
  assert.deepEqual(await replica.readAll({ from: 5, limit: 3 }), ledger.readAll({ from: 5, limit: 3 }));
  assert.deepEqual(await replica.readStream('order-42'), ledger.readStream('order-42'));
  assert.deepEqual(await replica.readStream('batch-1', { fromVersion: 2, limit: 2 }), ledger.readStream('batch-1', { fromVersion: 2, limit: 2 }));
  assert.deepEqual(await replica.get(2), ledger.get(2));
  assert.equal(await replica.get(10_000), undefined);
  assert.deepEqual(await replica.getByEventId('evt-1'), ledger.getByEventId('evt-1'));
  assert.deepEqual(await replica.head(), ledger.head());
  assert.equal(await replica.streamVersion('order-42'), 1);
  await assert.rejects(replica.readStream('nothing-here'), (error) => codeOf(error) === 'STREAM_NOT_FOUND');
  assert.deepEqual(await replica.verify(), { ok: true, checked: ledger.head()!.sequence });
  assert.deepEqual(await replica.verify({ to: ledger.head()!.sequence + 2 }), {
    ok: false,
    checked: ledger.head()!.sequence,
    firstBad: { sequence: ledger.head()!.sequence + 1, reason: 'sequence_gap', expected: ledger.head()!.sequence + 1 },
  });
  await assert.rejects(openPostgresReplica(copy.reader, { ledger: 'no_such_ledger' }), (error) => codeOf(error) === 'NOT_A_LEDGER');
});

test('replication is incremental, durable per commit and resumes from the copy head after a restart', { skip }, async (t) => {
  const copy = await newPostgresLedger();
  const dir = tempDir(t);
  const path = join(dir, 'primary.db');
  let ledger = await openLedger(path, { replicas: [new PostgresReplicator(copy.app, { ledger: copy.name, transactionRows: 7, statementRows: 3 })] });
  await ledger.appendBatch(Array.from({ length: 40 }, (_, i) => ({ type: 'tick', streamId: `s-${i % 5}`, payload: { i } })));
  assert.deepEqual((await ledger.replicate()).map((r) => [r.status, r.sequence]), [['confirmed', 40]]);
  assert.deepEqual(ledger.health().replicas.map((r) => [r.confirmedSequence, r.lag, r.status]), [[40, 0, 'confirmed']]);
  await ledger.close();

  // Appends while no replicator runs; a new process (a new replicator) starts from the copy's head.
  ledger = await openLedger(path);
  await ledger.appendBatch(Array.from({ length: 25 }, (_, i) => ({ type: 'tock', payload: { i } })));
  await ledger.close();
  const replicator = new PostgresReplicator(copy.app, { ledger: copy.name });
  ledger = await openLedger(path, { replicas: [replicator], replication: 'sync' });
  t.after(() => ledger.close());
  assert.equal(await replicator.lag(), 25);
  await ledger.append({ type: 'after_restart' });
  assert.equal(await replicator.lag(), 0);
  const replica = await openPostgresReplica(copy.reader, { ledger: copy.name });
  t.after(() => replica.close());
  assert.deepEqual(await replica.head(), ledger.head());
  assert.deepEqual((await replica.readAll()).map((e) => e.sequence), Array.from({ length: 66 }, (_, i) => i + 1));
});

test('a copy holding another history is REPLICA_DIVERGED at the first differing sequence, and never written to', { skip }, async (t) => {
  const copy = await newPostgresLedger();
  const first = await openPrimary(t, { replicas: [new PostgresReplicator(copy.app, { ledger: copy.name })] });
  await first.ledger.appendBatch(Array.from({ length: 10 }, (_, i) => ({ eventId: `same-${i}`, type: 'tick', payload: { i }, localTimestamp: new Date(1_700_000_000_000) })));
  const [firstReceipt] = await first.ledger.replicate();
  assert.equal(firstReceipt!.status, 'confirmed', JSON.stringify(firstReceipt!.error?.details));

  const other = await openPrimary(t, { replicas: [new PostgresReplicator(copy.app, { ledger: copy.name })] });
  await other.ledger.appendBatch(Array.from({ length: 15 }, (_, i) => ({ eventId: `other-${i}`, type: 'tick', payload: { i } })));
  const [receipt] = await other.ledger.replicate();
  assert.equal(receipt!.status, 'failed');
  assert.equal(receipt!.error?.code, 'REPLICA_DIVERGED');
  assert.equal(receipt!.error?.details.sequence, 1);
  const { rows } = await copy.reader.query(`SELECT count(*)::int AS n FROM ${copy.name}.events`);
  assert.equal(rows[0].n, 10);

  // Ahead: the first primary's copy holds 10 rows; a primary with 5 rows of the same history is behind it.
  const behind = await openPrimary(t, { replicas: [new PostgresReplicator(copy.app, { ledger: copy.name })] });
  await behind.ledger.appendBatch(Array.from({ length: 5 }, (_, i) => ({ eventId: `behind-${i}`, type: 'tick' })));
  assert.equal((await behind.ledger.replicate())[0]!.error?.code, 'REPLICA_AHEAD');
});

test('an unreachable PostgreSQL fails receipts with REPLICATION_FAILED; appends still commit', { skip }, async (t) => {
  const replicator = new PostgresReplicator({ connectionString: `postgres://nobody@127.0.0.1:1/none`, connectionTimeoutMillis: 2_000 }, { ledger: 'gone' });
  const { ledger } = await openPrimary(t, { replicas: [replicator] });
  await ledger.append({ type: 'tick' });
  const [receipt] = await ledger.replicate();
  assert.equal(receipt!.status, 'failed');
  assert.equal(receipt!.error?.code, 'REPLICATION_FAILED');
  assert.equal(ledger.head()!.sequence, 1);
});

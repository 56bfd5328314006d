/**
 * Attacks on a ledger in PostgreSQL: what the app role (SELECT + INSERT), the owner's DDL and
 * session_replication_role cannot do, and what stele_verify finds when a superuser goes around
 * every guard. Ends with two clusters: a logical-replication subscriber whose triggers refuse a
 * row forged on the publisher.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { generateAgentKeyPair, isLedgerError, openLedger, signEvent, type Ledger } from '../lib/index.ts';
import { eventHash } from '../lib/format/hash-bytes.ts';
import { installPostgresLedger, openPostgresReplica, PostgresReplicator, restoreFromPostgres } from '../lib/postgres.ts';
import { cosignCheckpoint, generateKeyPair, SIGNATURE_TYPE_COSIGNATURE_V1, signCheckpoint } from '../lib/proofs/index.ts';
import { requirePostgres, startPostgresCluster, type PostgresCluster } from './helpers/postgres-cluster.ts';
import { tempDir } from './helpers/temp-ledger.ts';

const available = requirePostgres();
const skip = available ? false : 'PostgreSQL is not installed';
const DATABASE = 'stele_attacks';
let cluster: PostgresCluster;
const pools: pg.Pool[] = [];
const clusters: PostgresCluster[] = [];

before(async () => {
  if (!available) return;
  cluster = await startPostgresCluster({ after: () => {} }, { logical: true });
  clusters.push(cluster);
  cluster.psql(`CREATE DATABASE ${DATABASE}`);
});
after(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  for (const c of clusters) c.stop();
});

function poolOn(on: PostgresCluster, user: string, database: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: on.url(user, database), max: 2 });
  pools.push(pool);
  return pool;
}

let ledgers = 0;
/** A ledger in PostgreSQL holding 10 rows replicated from a SQLite primary, and pools for its roles. */
async function replicatedLedger(t: { after(fn: () => unknown): void }, on = cluster, database = DATABASE) {
  const name = `attacked_${++ledgers}`;
  await installPostgresLedger(on.url('postgres', database), { ledger: name });
  on.psql(`CREATE ROLE ${name}_replicator LOGIN IN ROLE ${name}_app; CREATE ROLE ${name}_auditor LOGIN IN ROLE ${name}_reader;`, database);
  const app = poolOn(on, `${name}_replicator`, database);
  const ledger: Ledger = await openLedger(join(tempDir(t as never), 'primary.db'), {
    replicas: [new PostgresReplicator(app, { ledger: name })],
    replication: 'sync',
  });
  t.after(() => ledger.close());
  await ledger.appendBatch(Array.from({ length: 10 }, (_, i) => ({ streamId: `s-${i % 2}`, type: 'tick', payload: { i } })));
  return { name, ledger, app, superuser: poolOn(on, 'postgres', database), reader: poolOn(on, `${name}_auditor`, database) };
}

/** SQL that turns every guard of a ledger's events table back on, as installed. */
function guardsOn(name: string): string {
  const always = ['events_lock_appends', 'events_before_insert', 'events_check_inserted', 'events_after_insert', 'events_no_change', 'events_no_truncate'];
  return [...always.map((t) => `ALTER TABLE ${name}.events ENABLE ALWAYS TRIGGER ${t};`), `ALTER TABLE ${name}.events ENABLE REPLICA TRIGGER events_check_row;`].join('\n');
}

/** Rejects with a PostgreSQL error whose message matches. */
async function refused(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.match(error.message, message);
    return true;
  });
}

/** The row at `sequence` as an INSERT would send it, with `change` applied. */
async function rowAt(db: pg.Pool, name: string, sequence: number, change: Record<string, unknown> = {}): Promise<{ columns: string; values: unknown[] }> {
  const row = { ...(await db.query(`SELECT * FROM ${name}.events WHERE sequence = $1`, [sequence])).rows[0], ...change } as Record<string, unknown>;
  return { columns: Object.keys(row).join(', '), values: Object.values(row) };
}

async function insertRow(db: pg.Pool, name: string, row: { columns: string; values: unknown[] }): Promise<void> {
  await db.query(`INSERT INTO ${name}.events (${row.columns}) VALUES (${row.values.map((_, i) => `$${i + 1}`).join(', ')})`, row.values);
}

test('the app role can neither change nor remove rows, nor switch the guards off', { skip }, async (t) => {
  const { name, app } = await replicatedLedger(t);
  await refused(app.query(`UPDATE ${name}.events SET payload = '{"i":99}' WHERE sequence = 3`), /permission denied/);
  await refused(app.query(`DELETE FROM ${name}.events WHERE sequence = 10`), /permission denied/);
  await refused(app.query(`TRUNCATE ${name}.events`), /permission denied/);
  await refused(app.query(`ALTER TABLE ${name}.events DISABLE TRIGGER ALL`), /must be owner/);
  await refused(app.query(`DROP TRIGGER events_before_insert ON ${name}.events`), /must be owner/);
  await refused(app.query(`SET session_replication_role = replica`), /permission denied/);
  await refused(app.query(`INSERT INTO ${name}.agent_keys VALUES ('mallory', 'k', 'AAAA', 'agent', 3)`), /permission denied/);
  await refused(app.query(`INSERT INTO ${name}.event_types VALUES ('x')`), /permission denied/);
  await refused(app.query(`INSERT INTO ${name}.ledger_meta VALUES ('witness_quorum', '1')`), /STELE:APPEND_ONLY_VIOLATION:ledger_meta/);
  await refused(app.query(`CREATE TABLE ${name}.shadow (x int)`), /permission denied/);
  const { rows } = await app.query(`SELECT count(*)::int AS n FROM ${name}.events`);
  assert.equal(rows[0].n, 10);
});

test('the app role cannot insert a row that does not extend the chain exactly', { skip }, async (t) => {
  const { name, app, ledger } = await replicatedLedger(t);
  const head = ledger.head()!;
  const next = async (change: Record<string, unknown>) => {
    const row = await rowAt(app, name, head.sequence, { sequence: String(head.sequence + 1), event_id: 'forged', prev_hash: head.contentHash, stream_version: '5', ...change });
    return insertRow(app, name, row);
  };
  // A replay of the head row (the primary key refuses it first), and rows that break each link of the chain in turn.
  await refused(insertRow(app, name, await rowAt(app, name, head.sequence)), /duplicate key value violates unique constraint "events_pkey"/);
  await refused(next({ sequence: String(head.sequence + 2) }), /STELE:APPEND_ONLY_VIOLATION:sequence/);
  await refused(next({ prev_hash: '0'.repeat(64) }), /STELE:APPEND_ONLY_VIOLATION:prev_hash/);
  await refused(next({ event_id: (await rowAt(app, name, 1)).values[1] }), /STELE:APPEND_ONLY_VIOLATION:event_id/);
  await refused(next({ stream_version: '9' }), /STELE:APPEND_ONLY_VIOLATION:stream_version/);
  // Every link right, the content hash the row had at its old place: not this row's hash.
  await refused(next({}), /STELE:APPEND_ONLY_VIOLATION:content_hash/);
  await refused(next({ stream_id: '$halt', type: 'stele.halted' }), /STELE:APPEND_ONLY_VIOLATION:(stream_version|content_hash)/);
  await refused(next({ stream_id: '$secret', type: 'tick' }), /STELE:INVALID_EVENT:\{"field":"type"\}/);
  await refused(next({ agent_id: 'mallory', signature: 'AAAA' }), /STELE:UNKNOWN_AGENT/);
  await refused(next({ agent_id: 'mallory' }), /STELE:SIGNATURE_REQUIRED/);
  // REPEATABLE READ would read an old head: refused before any check.
  const session = await app.connect();
  try {
    await session.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await refused(session.query(`INSERT INTO ${name}.events SELECT * FROM ${name}.events WHERE sequence = 1`), /READ COMMITTED/);
  } finally {
    await session.query('ROLLBACK');
    session.release();
  }
  // The replicator still extends the chain afterwards.
  await ledger.append({ type: 'still_fine' });
  assert.deepEqual((await ledger.replicate()).map((r) => r.status), ['confirmed']);
});

test('within one INSERT, a row signed with a key revoked by an earlier row of the same statement is refused', { skip }, async (t) => {
  const name = `attacked_${++ledgers}`;
  await installPostgresLedger(cluster.url('postgres', DATABASE), { ledger: name });
  cluster.psql(`CREATE ROLE ${name}_replicator LOGIN IN ROLE ${name}_app;`, DATABASE);
  const app = poolOn(cluster, `${name}_replicator`, DATABASE);
  const path = join(tempDir(t as never), 'primary.db');
  const ledger = await openLedger(path);
  t.after(() => ledger.close());
  const keys = generateAgentKeyPair();
  const registered = await ledger.registerAgentKey('bot', keys.publicKey, { keyId: 'k1' });
  const revoked = await ledger.revokeAgentKey('bot', 'k1', 'leaked');
  const replicator = new PostgresReplicator(app, { ledger: name });
  await replicator.attach({ path });
  assert.equal((await replicator.propagate(registered.sequence)).status, 'confirmed');
  await replicator.close();

  // Row 2 is the primary's revocation; row 3 is signed with the revoked key and chained correctly.
  const signed = signEvent({ eventId: 'forged', streamId: 'pay', type: 'paid', payload: { n: 1 }, localTimestamp: new Date(1_700_000_000_000) }, 'bot', keys.secretKey);
  const forged: unknown[] = [3, 'forged', 'pay', 0, 'paid', '{"n":1}', null, null, null, 'bot', signed.signature, 1_700_000_000_000, 1_700_000_000_000, revoked.contentHash];
  forged.push(eventHash(forged));
  const db = new (await import('better-sqlite3')).default(path, { readonly: true });
  const row2 = db.prepare('SELECT * FROM events WHERE sequence = 2').raw().get() as unknown[];
  db.close();
  const values = [...row2, ...forged];
  const placeholders = [0, 1].map((r) => `(${Array.from({ length: 15 }, (_, i) => `$${r * 15 + i + 1}`).join(', ')})`).join(', ');
  await refused(app.query(`INSERT INTO ${name}.events VALUES ${placeholders}`, values), /STELE:AGENT_KEY_REVOKED/);
  const { rows } = await app.query(`SELECT count(*)::int AS n FROM ${name}.events`);
  assert.equal(rows[0].n, 1);
});

test('the app role cannot insert a stored checkpoint of another log key or origin, a tree no larger than the newest, a later one, cosignatures of one not stored or a bad signature', { skip }, async (t) => {
  const name = `attacked_${++ledgers}`;
  const installation = await installPostgresLedger(cluster.url('postgres', DATABASE), { ledger: name });
  assert.equal(installation.signatures, 'verified', 'plpython3u with nacl is installed here (.ci/run installs it)');
  cluster.psql(`CREATE ROLE ${name}_replicator LOGIN IN ROLE ${name}_app;`, DATABASE);
  const app = poolOn(cluster, `${name}_replicator`, DATABASE);
  const superuser = poolOn(cluster, 'postgres', DATABASE);
  const origin = 'example.com/attacked';
  const log = generateKeyPair(origin);
  const ledger = await openLedger(join(tempDir(t as never), 'primary.db'), {
    replicas: [new PostgresReplicator(app, { ledger: name })],
    replication: 'sync',
    checkpoint: { origin, secretKey: log.signerKey },
  });
  t.after(() => ledger.close());
  await ledger.appendBatch(Array.from({ length: 10 }, (_, i) => ({ type: 'tick', payload: { i } })));
  const stored = await ledger.storeCheckpoint(); // row 11: the tree of 10 events
  await ledger.appendBatch(Array.from({ length: 5 }, (_, i) => ({ type: 'tock', payload: { i } })));
  const head = ledger.head()!;
  assert.equal(head.sequence, 16);

  // Rows 17 on, each chained and hashed correctly: only the checkpoint rules can refuse them.
  let forged = 0;
  const row = (sequence: number, prevHash: string, version: number, payload: string, type = 'stele.checkpoint'): unknown[] => {
    const values: unknown[] = [sequence, `forged-${++forged}`, '$checkpoints', version, type, payload, null, null, null, null, null, 1_700_000_000_000, 1_700_000_000_000, prevHash];
    values.push(eventHash(values));
    return values;
  };
  const insert = (values: unknown[], db = app) => db.query(`INSERT INTO ${name}.events VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')})`, values);
  const next = (payload: string, type?: string) => insert(row(17, head.contentHash, 1, payload, type));
  const checkpointOf = (note: string, logKey = log.verifierKey) => JSON.stringify({ logKey, note });
  const anyRoot = new Uint8Array(32).fill(7);
  const signed = (size: number, signerKey = log.signerKey, at = origin) => signCheckpoint({ origin: at, size, rootHash: anyRoot }, signerKey);
  // The copy's exact refusal, as the primary's trigger words it.
  const refusedAs = (promise: Promise<unknown>, message: string) =>
    assert.rejects(promise, (error: Error) => {
      assert.equal(error.message, message);
      return true;
    });

  await refusedAs(next('{"logKey":"nope","note":"nope"}'), 'STELE:INVALID_EVENT:{"field":"note"}');
  const otherKey = generateKeyPair(origin);
  const otherOrigin = 'STELE:CHECKPOINT_REFUSED:{"reason":"another log key or origin than the first checkpoint of this ledger"}';
  await refusedAs(next(checkpointOf(signed(16, otherKey.signerKey), otherKey.verifierKey)), otherOrigin);
  await refusedAs(next(checkpointOf(signed(16, log.signerKey, 'example.com/elsewhere'))), otherOrigin);
  await refusedAs(next(checkpointOf(signed(17))), 'STELE:CHECKPOINT_REFUSED:{"reason":"a checkpoint covers only the events before it"}');
  const noLarger = 'STELE:CHECKPOINT_REFUSED:{"reason":"a tree no larger than the newest checkpoint"}';
  await refusedAs(next(checkpointOf(signed(5))), noLarger);
  // A 'stele.checkpoint' of the stored size, of another text or of the stored one: a new tree only.
  await refusedAs(next(checkpointOf(signed(10))), noLarger);
  await refusedAs(next(checkpointOf(stored.note)), noLarger);
  // Cosignatures of a text the ledger never stored, larger tree or not.
  const witness = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
  const cosign = (note: string) => cosignCheckpoint(note, { secretKey: witness.signerKey, logKey: log.verifierKey }).signedCheckpoint;
  const notStored = 'STELE:CHECKPOINT_REFUSED:{"reason":"cosignatures of a checkpoint that is not stored"}';
  await refusedAs(next(checkpointOf(cosign(signed(16))), 'stele.checkpoint_cosigned'), notStored);
  await refusedAs(next(checkpointOf(cosign(signed(10))), 'stele.checkpoint_cosigned'), notStored);
  // The log's signature over the tree of 16, under the text of another size.
  const badSignature = (size: number) => checkpointOf(signed(16).replace('\n16\n', `\n${size}\n`));
  await refusedAs(next(badSignature(15)), 'STELE:CHECKPOINT_REFUSED:{"reason":"the note has no valid signature by its log key"}');
  // A well-formed, log-signed checkpoint is still only a '$checkpoints' row of its own type.
  await refusedAs(next(checkpointOf(signed(16)), 'tick'), 'STELE:INVALID_EVENT:{"field":"type"}');
  await refusedAs(next(checkpointOf(signed(16)), 'stele.checkpoint_signed'), 'STELE:INVALID_EVENT:{"field":"type"}');
  // The copy holds every row the primary sent, and nothing forged.
  const count = async () => (await app.query(`SELECT count(*)::int AS n FROM ${name}.events`)).rows[0].n as number;
  assert.equal(await count(), 16);
  assert.equal((await app.query(`SELECT payload::jsonb ->> 'note' AS note FROM ${name}.events WHERE sequence = 11`)).rows[0].note, stored.note);

  // What the copy cannot check is the root: the holder of the log key can store a checkpoint of
  // another tree there. The primary never would, and a file restored from the copy refuses it.
  const wrongRoot = row(17, head.contentHash, 1, checkpointOf(signed(16)));
  await insert(wrongRoot);
  assert.equal((await superuser.query(`SELECT ok FROM stele.stele_verify($1)`, [name])).rows[0].ok, true);
  await assert.rejects(restoreFromPostgres(superuser, { ledger: name, path: join(tempDir(t as never), 'restored.db') }), (error: unknown) => {
    assert.ok(isLedgerError(error, 'REPLICATION_FAILED'));
    assert.deepEqual(error.details, { sequence: 17, guard: 'CHECKPOINT_REFUSED', reason: 'the tree at that size has another root' });
    return true;
  });

  // Cosignatures of the older stored checkpoint, after the newer one: accepted, and the newest
  // checkpoint is still the tree of 16.
  const cosigned = row(18, wrongRoot[14] as string, 2, checkpointOf(cosign(stored.note)), 'stele.checkpoint_cosigned');
  await insert(cosigned);
  assert.deepEqual((await superuser.query(`SELECT ok, checked::int FROM stele.stele_verify($1)`, [name])).rows[0], { ok: true, checked: 18 });
  await refusedAs(insert(row(19, cosigned[14] as string, 3, checkpointOf(signed(12)))), noLarger);
  assert.equal(await count(), 18);

  // A superuser who goes around the guards can store a checkpoint that breaks a rule;
  // stele_verify replays the checkpoint rules and finds it.
  const session = await superuser.connect();
  t.after(() => session.release());
  const behindTheGuards = async (payload: string, type?: string) => {
    await session.query(`BEGIN;
      ALTER EVENT TRIGGER stele_refuse_ddl DISABLE;
      ALTER TABLE ${name}.events DISABLE TRIGGER USER;
      INSERT INTO ${name}.events VALUES (${row(19, cosigned[14] as string, 3, payload, type).map((v) => (v === null ? 'NULL' : `'${String(v).replaceAll("'", "''")}'`)).join(', ')});
      ${guardsOn(name)}
      ALTER EVENT TRIGGER stele_refuse_ddl ENABLE ALWAYS;`);
    return (await session.query(`SELECT ok, checked::int, sequence::int, reason, expected, actual, detail FROM stele.stele_verify($1)`, [name])).rows[0];
  };
  const fault = (detail: string, expected: string | null = null, actual: string | null = null) =>
    ({ ok: false, checked: 18, sequence: 19, reason: 'checkpoint', expected, actual, detail });
  // A tree between the stored ones: the newest is the tree of 16, not the older one cosigned after it.
  assert.deepEqual(await behindTheGuards(checkpointOf(signed(12))), fault('a tree no larger than the newest checkpoint', '17', '12'));
  await session.query('ROLLBACK');
  assert.deepEqual(await behindTheGuards(checkpointOf(cosign(signed(15))), 'stele.checkpoint_cosigned'), fault('cosignatures of a checkpoint that is not stored'));
  await session.query('ROLLBACK');
  assert.deepEqual(await behindTheGuards(badSignature(17)), fault('the note has no valid signature by its log key'));
  await session.query('COMMIT');
  assert.equal(await count(), 19);
});

test('DDL on a ledger schema is refused by the event triggers, superusers included', { skip }, async (t) => {
  const { name, superuser } = await replicatedLedger(t);
  const ddl = /STELE:APPEND_ONLY_VIOLATION:ddl/;
  await refused(superuser.query(`ALTER TABLE ${name}.events DISABLE TRIGGER ALL`), ddl);
  await refused(superuser.query(`ALTER TABLE ${name}.events DISABLE TRIGGER events_no_change`), ddl);
  await refused(superuser.query(`ALTER TABLE ${name}.events ADD COLUMN note text`), ddl);
  await refused(superuser.query(`DROP TRIGGER events_no_change ON ${name}.events`), ddl);
  await refused(superuser.query(`DROP TABLE ${name}.events CASCADE`), ddl);
  await refused(superuser.query(`DROP SCHEMA ${name} CASCADE`), ddl);
  await refused(superuser.query(`CREATE OR REPLACE FUNCTION ${name}.events_before_insert() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'`), ddl);
  await refused(superuser.query(`CREATE OR REPLACE FUNCTION stele.ed25519_verify(public_key text, signature text, message bytea) RETURNS boolean LANGUAGE sql RETURN true`), ddl);
  await refused(superuser.query(`CREATE FUNCTION stele.anything() RETURNS int LANGUAGE sql RETURN 1`), ddl);
  await refused(superuser.query(`CREATE RULE no_delete AS ON DELETE TO ${name}.events DO INSTEAD NOTHING`), ddl);
  await refused(superuser.query(`CREATE POLICY hide ON ${name}.events USING (sequence < 5)`), ddl);
  await refused(superuser.query(`ALTER TABLE ${name}.events ENABLE ROW LEVEL SECURITY`), ddl);
  // The owner role (NOLOGIN; reached only through SET ROLE) is refused the same way.
  const session = await superuser.connect();
  try {
    await session.query(`SET ROLE ${name}_owner`);
    await refused(session.query(`ALTER TABLE ${name}.events DISABLE TRIGGER USER`), ddl);
  } finally {
    await session.query('RESET ROLE').catch(() => {});
    session.release(true);
  }
  // DML by a superuser meets the refusal triggers, which session_replication_role does not skip.
  await refused(superuser.query(`UPDATE ${name}.events SET payload = '{}' WHERE sequence = 2`), /STELE:APPEND_ONLY_VIOLATION:update/);
  await refused(superuser.query(`DELETE FROM ${name}.events WHERE sequence = 10`), /STELE:APPEND_ONLY_VIOLATION:delete/);
  await refused(superuser.query(`TRUNCATE ${name}.events CASCADE`), /STELE:APPEND_ONLY_VIOLATION:truncate/);
  const replica = await superuser.connect();
  try {
    await replica.query('SET session_replication_role = replica');
    await refused(replica.query(`UPDATE ${name}.events SET payload = '{}' WHERE sequence = 2`), /STELE:APPEND_ONLY_VIOLATION:update/);
    await refused(replica.query(`ALTER TABLE ${name}.events DISABLE TRIGGER ALL`), ddl);
  } finally {
    replica.release(true);
  }
});

test('stele_verify and the replicator find a row a superuser rewrote behind every guard', { skip }, async (t) => {
  const { name, superuser, reader, ledger } = await replicatedLedger(t);
  // Going around the guards takes a superuser who first switches the event triggers off.
  const tamper = (sql: string) =>
    superuser.query(`BEGIN;
      ALTER EVENT TRIGGER stele_refuse_ddl DISABLE; ALTER EVENT TRIGGER stele_refuse_drop DISABLE;
      ALTER TABLE ${name}.events DISABLE TRIGGER ALL;
      ${sql};
      ${guardsOn(name)}
      ALTER EVENT TRIGGER stele_refuse_ddl ENABLE ALWAYS; ALTER EVENT TRIGGER stele_refuse_drop ENABLE ALWAYS;
      COMMIT;`);
  await tamper(`UPDATE ${name}.events SET payload = '{"i":300}' WHERE sequence = 3`);
  const replica = await openPostgresReplica(reader, { ledger: name });
  t.after(() => replica.close());
  const verdict = await replica.verify();
  assert.equal(verdict.ok, false);
  assert.equal(verdict.checked, 2);
  assert.equal(verdict.firstBad?.sequence, 3);
  assert.equal(verdict.firstBad?.reason, 'content_hash');
  const psql = (await reader.query(`SELECT sequence::int, reason FROM stele.stele_verify($1)`, [name])).rows[0];
  assert.deepEqual(psql, { sequence: 3, reason: 'content_hash' });
  const [result] = await ledger.verifyReplicas();
  assert.equal(result!.ok, false);
  assert.deepEqual(result!.errors, ['sequence 3: content_hash']);

  // A rewritten link is named as such; a deleted row is a gap.
  await tamper(`UPDATE ${name}.events SET prev_hash = repeat('f', 64) WHERE sequence = 2`);
  assert.equal((await replica.verify()).firstBad?.reason, 'prev_hash');
  await tamper(`DELETE FROM ${name}.events WHERE sequence = 1`);
  assert.deepEqual((await replica.verify()).firstBad, { sequence: 1, reason: 'sequence_gap', expected: 1, actual: 2 });

  // The head rewritten: the replicator sees the copy is not its primary's prefix.
  await tamper(`UPDATE ${name}.events SET content_hash = repeat('e', 64) WHERE sequence = 10`);
  // In sync mode the append commits on the primary and reports the replica that refused it.
  await assert.rejects(ledger.append({ type: 'next' }), (error) => isLedgerError(error, 'REPLICATION_FAILED') && error.details.committed === true);
  const [receipt] = await ledger.replicate();
  assert.equal(receipt!.error?.code, 'REPLICA_DIVERGED');
  assert.ok(isLedgerError(receipt!.error, 'REPLICA_DIVERGED'));
});

test('a logical-replication subscriber re-checks each row: a row forged on the publisher is refused there', { skip }, async (t) => {
  // Edge writer -> hub (publisher) -> regional copy (subscriber), each with the same ledger schema.
  const { name, superuser, ledger } = await replicatedLedger(t);
  const region = await startPostgresCluster({ after: () => {} });
  clusters.push(region);
  region.psql(`CREATE DATABASE ${DATABASE}`);
  await installPostgresLedger(region.url('postgres', DATABASE), { ledger: name });
  await superuser.query(`CREATE PUBLICATION ${name}_pub FOR TABLE ${name}.events`);
  region.psql(
    `CREATE SUBSCRIPTION ${name}_sub CONNECTION 'host=127.0.0.1 port=${cluster.port} user=postgres dbname=${DATABASE}' PUBLICATION ${name}_pub WITH (disable_on_error = true)`,
    DATABASE,
  );
  const regional = poolOn(region, 'postgres', DATABASE);
  const count = async () => (await regional.query(`SELECT count(*)::int AS n FROM ${name}.events`)).rows[0].n as number;
  const waitFor = async (check: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  await waitFor(async () => (await count()) === 10, 'the initial copy');
  await ledger.append({ type: 'live' });
  await ledger.replicate();
  await waitFor(async () => (await count()) === 11, 'a streamed row');

  // A superuser forges row 12 on the hub with its guards off. The subscriber's apply worker runs
  // with session_replication_role = replica, and the ENABLE ALWAYS trigger refuses the row there.
  await superuser.query(`BEGIN;
    ALTER EVENT TRIGGER stele_refuse_ddl DISABLE;
    ALTER TABLE ${name}.events DISABLE TRIGGER USER;
    INSERT INTO ${name}.events SELECT 12, 'forged', stream_id, stream_version + 1, type, '{"i":1000000}', payload_meta, metadata, metadata_meta,
                                      agent_id, signature, local_timestamp, authority_timestamp, content_hash, repeat('a', 64)
      FROM ${name}.events WHERE sequence = 11;
    ${guardsOn(name)}
    ALTER EVENT TRIGGER stele_refuse_ddl ENABLE ALWAYS;
    COMMIT;`);
  await waitFor(async () => (await regional.query(`SELECT subenabled FROM pg_subscription WHERE subname = '${name}_sub'`)).rows[0].subenabled === false, 'the subscription to stop on the refused row');
  assert.equal(await count(), 11);
  const verdict = (await regional.query(`SELECT ok FROM stele.stele_verify($1)`, [name])).rows[0];
  assert.equal(verdict.ok, true);
  region.psql(`ALTER SUBSCRIPTION ${name}_sub SET (slot_name = NONE); DROP SUBSCRIPTION ${name}_sub;`, DATABASE);
  await superuser.query(`SELECT pg_drop_replication_slot('${name}_sub')`).catch(() => {});
});

/**
 * verify replays the rules the triggers enforced, so that a file written past them (look-alike
 * `stele_*` functions on a raw connection, values stored below SQLite's type checks) is caught,
 * while every file Stele writes, halts and ceremonies included, still verifies.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { generateAgentKeyPair, openLedger, verifyLedgerFile, witnessClearHalt } from '../lib/index.ts';
import { systemEvent } from '../lib/format/event-encoding.ts';
import { eventHash } from '../lib/format/hash-bytes.ts';
import { merkleLeafHash, merkleNodeHash, merkleSubtreeHash } from '../lib/format/merkle-hash.ts';
import { APPEND_SQL, appendArgs } from '../lib/sqlite/append-statement.ts';
import { buildLedger, copyLedgerFile, tamper } from './helpers/tamper.ts';
import { tempLedgerPath } from './helpers/temp-ledger.ts';

/** A closed ledger: three events, two witnesses registered, halted; the halt's sequence. */
async function haltedLedger(t: TestContext): Promise<{ path: string; halt: number }> {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  await ledger.appendBatch([{ type: 'a' }, { type: 'b' }, { type: 'c' }]);
  const halted = await ledger.halt('incident');
  await ledger.close();
  return { path, halt: halted.sequence };
}

/** A raw connection with look-alike functions: the hash is real, every check says yes. */
function lookAlike(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    db.pragma('trusted_schema = ON');
    db.pragma('recursive_triggers = ON');
    db.function('stele_event_hash', { varargs: true }, (...values: unknown[]) => eventHash(values));
    db.function('stele_drift_threshold_ms', () => 5_000);
    db.function('stele_public_key_valid', (_key: unknown) => 1);
    db.function('stele_signature_valid', { varargs: true }, () => 1);
    db.function('stele_clear_halt_signature_valid', (_a: unknown, _b: unknown, _c: unknown, _d: unknown, _e: unknown) => 1);
    db.function('stele_promotion_signature_valid', (_a: unknown, _b: unknown, _c: unknown, _d: unknown, _e: unknown, _f: unknown) => 1);
    // The tree's hashes are real too: the forger keeps the Merkle nodes consistent with the rows.
    db.function('stele_merkle_leaf', (contentHash: unknown) => (contentHash === null ? null : merkleLeafHash(contentHash)));
    db.function('stele_merkle_node', (left: unknown, right: unknown) => (left === null || right === null ? null : merkleNodeHash(left, right)));
    db.aggregate('stele_merkle_tile', {
      start: () => [] as Array<[number, string]>,
      step: (rows: Array<[number, string]>, sequence: number, contentHash: string) => void rows.push([sequence, contentHash]),
      result: (rows: Array<[number, string]>) => (rows.length === 16 ? merkleSubtreeHash(rows.sort((a, b) => a[0] - b[0]).map(([, hash]) => hash)) : null),
    } as never);
    // Stored checkpoints: every check says yes, as above.
    db.function('stele_checkpoint_part', (_payload: unknown, _part: unknown) => null);
    db.function('stele_checkpoint_signed', (_payload: unknown) => 1);
    db.aggregate('stele_merkle_root', { start: null, step: (_total: unknown, _start: unknown, _level: unknown, _hash: unknown) => null, result: () => null } as never);
    edit(db);
  } finally {
    db.close();
  }
}

const append = (db: Database.Database, streamId: string, type: string, payload: Record<string, unknown>): void =>
  void db.prepare(APPEND_SQL).run(...appendArgs(systemEvent(streamId, type, payload)));

test('a halted ledger, an agent key registered while halted, and a real ceremony verify', async (t) => {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  await ledger.append({ type: 'a' });
  const alice = generateAgentKeyPair();
  const bob = generateAgentKeyPair();
  await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
  await ledger.registerAgentKey('bob', bob.publicKey, { role: 'witness' });
  const halt = await ledger.halt('incident');
  await ledger.registerAgentKey('bot', generateAgentKeyPair().publicKey);
  const head = { sequence: halt.sequence, contentHash: halt.contentHash };
  const reason = 'disk replaced';
  await ledger.clearHalt({ reason, witnesses: [witnessClearHalt(head, reason, 'alice', alice.secretKey), witnessClearHalt(head, reason, 'bob', bob.secretKey)] });
  await ledger.append({ type: 'after' });
  await ledger.close();
  assert.deepEqual(await verifyLedgerFile(path, { rangeSize: 2 }), { ok: true, checked: 7 });
});

test('look-alike functions: a halt cleared with garbage signatures is a ceremony fault', async (t) => {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  for (const agentId of ['w1', 'w2']) await ledger.registerAgentKey(agentId, generateAgentKeyPair().publicKey, { role: 'witness' });
  const { sequence: halt } = await ledger.halt('incident');
  await ledger.close();
  const garbage = Buffer.alloc(64, 7).toString('base64');
  lookAlike(path, (db) => {
    append(db, '$halt', 'stele.halt_cleared', { reason: 'x', haltSequence: halt, witnesses: [{ witnessId: 'w1', signature: garbage }, { witnessId: 'w2', signature: garbage }] });
    append(db, '$default', 'after', {});
  });
  const result = await verifyLedgerFile(path, { headSidecar: false });
  assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [halt + 1, 'ceremony']);
  assert.match(result.firstBad?.detail ?? '', /^0 valid signatures of distinct witness keys, the quorum is 2$/);
});

test('look-alike functions: a garbage agent key, an event while halted', async (t) => {
  const { path } = await haltedLedger(t);
  lookAlike(path, (db) => append(db, '$agents', 'stele.agent_key_registered', { agentId: 'w1', keyId: 'k', publicKey: 'AAAA', role: 'agent' }));
  assert.deepEqual([(await verifyLedgerFile(path, { headSidecar: false })).firstBad?.reason], ['key_registration']);

  const again = await haltedLedger(t);
  lookAlike(again.path, (db) => {
    // The trigger with the halt rule calls no function: drop it for the moment, as whoever has the file can.
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'events_insert_rules'").pluck().get() as string;
    db.exec('DROP TRIGGER events_insert_rules');
    append(db, '$default', 'while_halted', {});
    db.exec(sql);
  });
  const result = await verifyLedgerFile(again.path, { headSidecar: false });
  assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [again.halt + 1, 'halted']);
});

test('storage classes: an integral REAL where an INTEGER belongs, a BLOB where TEXT belongs', async (t) => {
  for (const [column, value] of [['local_timestamp', 'CAST(local_timestamp AS REAL)'], ['type', 'CAST(type AS BLOB)']] as const) {
    const path = tempLedgerPath(t, `${column}.db`);
    await buildLedger(path, 5);
    // STRICT would refuse the value: removed through writable_schema, then restored as it was.
    const db = new Database(path);
    db.unsafeMode(true);
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'events'").pluck().get() as string;
    const guards = ['events_no_update'].map((name) => db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(name) as string);
    db.pragma('writable_schema = ON');
    // Without STRICT, and with no INTEGER affinity to turn an integral REAL back into an integer.
    const loose = sql.replace(/\)\s*STRICT\s*$/, ')').replace('local_timestamp     INTEGER', 'local_timestamp     BLOB');
    assert.notEqual(loose, sql);
    db.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = 'events'").run(loose);
    db.pragma('writable_schema = OFF');
    db.close();
    const edit = new Database(path);
    edit.exec('DROP TRIGGER events_no_update');
    edit.exec(`UPDATE events SET ${column} = ${value} WHERE sequence = 3`);
    for (const guard of guards) edit.exec(guard);
    edit.unsafeMode(true);
    edit.pragma('writable_schema = ON');
    edit.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = 'events'").run(sql);
    edit.pragma('writable_schema = OFF');
    edit.close();
    const result = await verifyLedgerFile(path);
    assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [3, 'storage_class'], column);
  }
});

test('the tables that are not hashed: an edited agent_keys row, a lowered witness_quorum', async (t) => {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  await ledger.registerAgentKey('alice', generateAgentKeyPair().publicKey, { role: 'witness' });
  await ledger.append({ type: 'a' });
  await ledger.close();
  assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: 2 });

  const keys = `${path}-keys.db`;
  const meta = `${path}-meta.db`;
  copyLedgerFile(path, keys);
  copyLedgerFile(path, meta);
  tamper(keys, (db) => db.prepare("UPDATE agent_keys SET public_key = ? WHERE agent_id = 'alice'").run(generateAgentKeyPair().publicKey));
  const edited = await verifyLedgerFile(keys);
  assert.deepEqual([edited.ok, edited.firstBad?.sequence, edited.firstBad?.reason, edited.firstBad?.detail], [false, 0, 'derived_table', 'agent_keys']);

  tamper(meta, (db) => db.prepare("UPDATE ledger_meta SET value = 'one' WHERE key = 'witness_quorum'").run());
  const lowered = await verifyLedgerFile(meta);
  assert.deepEqual([lowered.firstBad?.sequence, lowered.firstBad?.reason, lowered.firstBad?.actual], [0, 'ledger_meta', 'one']);
});

test('event_id: a copy of an event appended below the UNIQUE index (the index restored without it)', async (t) => {
  const path = tempLedgerPath(t);
  await buildLedger(path, 10);
  // Take the event_id index out of the schema (renaming the other automatic index into its
  // place, as SQLite numbers them), append a re-hashed copy of row 5, then put the index back
  // as it was: the schema is the pinned one again, and the index does not know the copy.
  let db = new Database(path);
  db.unsafeMode(true);
  const tableSql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'events'").pluck().get() as string;
  const index = db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'sqlite_autoindex_events_1'").pluck().get() as number;
  db.pragma('writable_schema = ON');
  db.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = 'events'").run(tableSql.replace('event_id            TEXT    NOT NULL UNIQUE', 'event_id            TEXT    NOT NULL'));
  db.exec("DELETE FROM sqlite_schema WHERE name = 'sqlite_autoindex_events_1'");
  db.exec("UPDATE sqlite_schema SET name = 'sqlite_autoindex_events_1' WHERE name = 'sqlite_autoindex_events_2'");
  db.pragma('writable_schema = OFF');
  db.close();
  lookAlike(path, (raw) => {
    const guard = raw.prepare("SELECT sql FROM sqlite_schema WHERE name = 'events_insert_extends_chain'").pluck().get() as string;
    raw.exec('DROP TRIGGER events_insert_extends_chain');
    const original = raw.prepare('SELECT * FROM events WHERE sequence = 5').get() as Record<string, unknown>;
    const head = raw.prepare('SELECT content_hash FROM events WHERE sequence = 10').pluck().get() as string;
    const version = raw.prepare('SELECT max(stream_version) FROM events WHERE stream_id = ?').pluck().get(original.stream_id) as number;
    const copy: Record<string, unknown> = { ...original, sequence: 11, stream_version: version + 1, prev_hash: head };
    delete copy.content_hash;
    copy.content_hash = eventHash(Object.values(copy));
    const columns = Object.keys(copy);
    raw.prepare(`INSERT INTO events (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`).run(...Object.values(copy));
    raw.exec(guard);
  });
  db = new Database(path);
  db.unsafeMode(true);
  db.pragma('writable_schema = ON');
  db.prepare("UPDATE sqlite_schema SET sql = ? WHERE name = 'events'").run(tableSql);
  db.exec("UPDATE sqlite_schema SET name = 'sqlite_autoindex_events_2' WHERE name = 'sqlite_autoindex_events_1'");
  db.prepare("INSERT INTO sqlite_schema (type, name, tbl_name, rootpage, sql) VALUES ('index', 'sqlite_autoindex_events_1', 'events', ?, NULL)").run(index);
  db.pragma('writable_schema = OFF');
  db.close();
  const result = await verifyLedgerFile(path, { headSidecar: false });
  assert.deepEqual(result, {
    ok: false,
    checked: 10,
    firstBad: { sequence: 11, reason: 'event_id', expected: 11, actual: 5, detail: 'the event_id index holds 10 entries for 11 rows' },
  });
});

/**
 * The pinned schema: a file whose tables, indexes, views or triggers differ from what Stele's own
 * native-sql/ produces for its user_version is refused by the writer (SCHEMA_MISMATCH) and
 * reported by verify (reason `schema`, sequence 0); an unknown user_version is UNSUPPORTED_FORMAT.
 * And verify checks the file against the heads held outside it: the head sidecar and expectedHead.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { openLedger, openReplica, replicateFile, verifyLedgerFile, verifyReplicaFile, type LedgerError } from '../lib/index.ts';
import { currentSchemaVersion } from '../lib/sqlite/migrations.ts';
import { registerNativeFunctions } from '../lib/sqlite/native-functions.ts';
import { expectedSchema, liveSchema, normaliseSql, pinnedSchemaPath } from '../lib/sqlite/schema-pin.ts';
import { headSidecarPath } from '../lib/writer/head-sidecar.ts';
import { buildLedger, tamper } from './helpers/tamper.ts';
import { tempLedgerPath } from './helpers/temp-ledger.ts';

async function ledgerFile(t: TestContext, count = 5): Promise<string> {
  const path = tempLedgerPath(t);
  await buildLedger(path, count);
  return path;
}

function raw(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    edit(db);
  } finally {
    db.close();
  }
}

/** Rewrites a trigger's stored SQL in place, as `PRAGMA writable_schema` lets anyone with the file. */
function rewriteTrigger(path: string, name: string, from: string, to: string): void {
  raw(path, (db) => {
    const sql = db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(name) as string;
    assert.ok(sql.includes(from), `${name} contains ${from}`);
    db.unsafeMode(true); // lifts SQLITE_DBCONFIG_DEFENSIVE, as the sqlite3 shell never sets it
    db.pragma('writable_schema = ON');
    db.prepare('UPDATE sqlite_schema SET sql = ? WHERE name = ?').run(sql.replace(from, to), name);
    db.pragma('writable_schema = OFF');
  });
}

function mismatch(field: 'added' | 'missing' | 'changed', name: string) {
  return (err: LedgerError) => {
    assert.equal(err.code, 'SCHEMA_MISMATCH');
    assert.ok((err.details[field] as string[]).includes(name), `${field} names ${name}: ${JSON.stringify(err.details)}`);
    return true;
  };
}

describe('the pinned schema', () => {
  test('every older version has its record in native-sql/pinned/, and each is what built that version', () => {
    const upgradesDir = new URL('../native-sql/upgrades/', import.meta.url);
    const steps = readdirSync(upgradesDir).filter((file) => /^\d{3}-.*\.sql$/.test(file)).sort();
    for (let version = 1; version < currentSchemaVersion(); version++) {
      assert.ok(existsSync(pinnedSchemaPath(version)), `native-sql/pinned/${version}.json is missing`);
      const pinned = expectedSchema(version);
      // Versions up to 7 were built by their full migrations: replayed here, they give the record.
      if (version <= 7) {
        const db = new Database(':memory:');
        try {
          registerNativeFunctions(db, { driftThresholdMs: 0 });
          for (const file of steps.slice(0, version)) db.exec(readFileSync(new URL(file, upgradesDir), 'utf8'));
          assert.deepEqual(liveSchema(db), pinned, `version ${version}`);
        } finally {
          db.close();
        }
      }
    }
    // A later one is the schema its fixture was written with.
    for (const fixture of readdirSync(new URL('./fixtures/ledgers/', import.meta.url)).filter((file) => /^schema-\d+\.db$/.test(file))) {
      const version = Number(/\d+/.exec(fixture)![0]);
      const db = new Database(new URL(`./fixtures/ledgers/${fixture}`, import.meta.url).pathname, { readonly: true });
      try {
        assert.deepEqual(liveSchema(db), expectedSchema(version), fixture);
      } finally {
        db.close();
      }
    }
  });

  test('whitespace and comments are formatting; every token counts', () => {
    assert.equal(normaliseSql('CREATE  TRIGGER t\n  -- why\n BEGIN SELECT 1; /* x */ END'), normaliseSql('CREATE TRIGGER t BEGIN SELECT 1;END'));
    assert.notEqual(normaliseSql("SELECT 'a  b'"), normaliseSql("SELECT 'a b'"));
    assert.notEqual(normaliseSql('SELECT a + 1'), normaliseSql('SELECT a + 2'));
    assert.notEqual(normaliseSql('x <= 1'), normaliseSql('x < = 1'.replace('< =', '<')));
  });

  test('a reader opens a file with a dropped trigger only with allowSchemaMismatch, and hears of it', async (t) => {
    const path = await ledgerFile(t);
    raw(path, (db) => db.exec('DROP TRIGGER events_insert_rules'));
    await assert.rejects(openLedger(path, { readonly: true }), mismatch('missing', 'events_insert_rules'));
    const logged: Array<Record<string, unknown>> = [];
    const quiet = () => {};
    const logger = { debug: quiet, info: quiet, warn: (fields: object) => void logged.push(fields as Record<string, unknown>), error: quiet, fatal: quiet };
    const reader = await openLedger(path, { readonly: true, allowSchemaMismatch: true, logger });
    t.after(() => reader.close());
    const warning = await new Promise<unknown>((resolve) => reader.once('warning', resolve));
    assert.deepEqual((warning as { kind: string; code: string }).kind, 'schema_mismatch');
    assert.ok(((warning as { details: { missing: string[] } }).details.missing).includes('events_insert_rules'));
    assert.equal(logged[0]?.code, 'SCHEMA_MISMATCH');
    assert.equal(reader.maxSequence(), 5);
    assert.equal((await reader.verify()).firstBad?.reason, 'schema');
    await assert.rejects(openLedger(path, { allowSchemaMismatch: true }), mismatch('missing', 'events_insert_rules'));
  });

  test('a DROP TRIGGER from a raw connection is refused at open and reported by verify', async (t) => {
    const path = await ledgerFile(t);
    raw(path, (db) => db.exec('DROP TRIGGER events_insert_rules'));
    await assert.rejects(openLedger(path), mismatch('missing', 'events_insert_rules'));
    const result = await verifyLedgerFile(path);
    assert.equal(result.ok, false);
    assert.equal(result.checked, 0);
    assert.deepEqual(
      { sequence: result.firstBad?.sequence, reason: result.firstBad?.reason, schema: result.firstBad?.schema },
      { sequence: 0, reason: 'schema', schema: { added: [], missing: ['events_insert_rules'], changed: [] } },
    );
  });

  test("a writable_schema rewrite of append_event_insert (stored payload is not the app's) is refused and reported", async (t) => {
    const path = await ledgerFile(t);
    rewriteTrigger(path, 'append_event_insert', 'a.stream_version, NEW.type, NEW.payload,', "a.stream_version, NEW.type, json_set(NEW.payload, '$.cents', 9100),");
    await assert.rejects(openLedger(path), mismatch('changed', 'append_event_insert'));
    const result = await verifyLedgerFile(path);
    assert.deepEqual(
      { ok: result.ok, sequence: result.firstBad?.sequence, reason: result.firstBad?.reason, changed: result.firstBad?.schema?.changed },
      { ok: false, sequence: 0, reason: 'schema', changed: ['append_event_insert'] },
    );
  });

  test('an added trigger or index is a difference too; a whitespace-only rewrite is not', async (t) => {
    const path = await ledgerFile(t);
    const copy = `${path}-copy.db`;
    copyFileSync(path, copy);
    raw(copy, (db) => db.exec('CREATE INDEX events_by_type ON events (type)'));
    await assert.rejects(openLedger(copy), mismatch('added', 'events_by_type'));
    assert.equal((await verifyLedgerFile(copy)).firstBad?.reason, 'schema');

    rewriteTrigger(path, 'append_event_insert', 'BEGIN', 'BEGIN\n\n   -- reformatted\n');
    assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: 5 });
    const ledger = await openLedger(path);
    await ledger.append({ type: 'after', payload: { ok: true } });
    await ledger.close();
    assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: 6 });
  });

  test('a replica whose trigger was dropped is refused by openReplica and fails replica verification', async (t) => {
    const path = await ledgerFile(t);
    const replica = `${path}-replica.db`;
    assert.equal((await replicateFile(path, replica)).status, 'confirmed');
    raw(replica, (db) => db.exec('DROP TRIGGER signature_rules'));
    await assert.rejects(openReplica(replica), mismatch('missing', 'signature_rules'));
    const result = await verifyReplicaFile(path, replica);
    assert.equal(result.ok, false);
    assert.equal(result.firstBad?.reason, 'schema');
  });

  test('user_version 99 is UNSUPPORTED_FORMAT for the writer and for verify', async (t) => {
    const path = await ledgerFile(t);
    raw(path, (db) => db.pragma('user_version = 99'));
    await assert.rejects(openLedger(path), (err: LedgerError) => err.code === 'UNSUPPORTED_FORMAT' && err.details.userVersion === 99);
    await assert.rejects(verifyLedgerFile(path), (err: LedgerError) => err.code === 'UNSUPPORTED_FORMAT' && err.details.userVersion === 99);
  });
});

describe('verify against the heads held outside the file', () => {
  test('newest rows deleted behind the triggers, with the sidecar present: head_sidecar', async (t) => {
    const path = await ledgerFile(t, 20);
    const hash20 = JSON.parse((await import('node:fs')).readFileSync(headSidecarPath(path), 'utf8')).contentHash as string;
    tamper(path, (db) => db.prepare('DELETE FROM events WHERE sequence > 15').run());
    const result = await verifyLedgerFile(path);
    assert.deepEqual(result, {
      ok: false,
      checked: 15,
      firstBad: { sequence: 20, reason: 'head_sidecar', expected: hash20, actual: 'missing', detail: 'the newest row is 15' },
    });
    assert.deepEqual(await verifyLedgerFile(path, { headSidecar: false }), { ok: true, checked: 15 });
  });

  test('a dropped WAL tail (the file rolled back to an older state) with the sidecar present: head_sidecar', async (t) => {
    const path = await ledgerFile(t, 10);
    const older = `${path}-older.db`;
    copyFileSync(path, older);
    const ledger = await openLedger(path);
    await ledger.appendBatch(Array.from({ length: 10 }, (_, i) => ({ type: 'later', payload: { i } })));
    await ledger.close();
    copyFileSync(older, path); // what SQLite is left with when the WAL holding rows 11-20 is lost
    const result = await verifyLedgerFile(path);
    assert.equal(result.ok, false);
    assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason, result.firstBad?.actual], [20, 'head_sidecar', 'missing']);
  });

  test('expectedHead: the row it names must exist with its hash', async (t) => {
    const path = await ledgerFile(t, 8);
    const db = new Database(path, { readonly: true });
    const hash5 = db.prepare('SELECT content_hash FROM events WHERE sequence = 5').pluck().get() as string;
    db.close();
    assert.deepEqual(await verifyLedgerFile(path, { expectedHead: { sequence: 5, contentHash: hash5 } }), { ok: true, checked: 8 });
    const wrong = await verifyLedgerFile(path, { expectedHead: { sequence: 5, contentHash: 'f'.repeat(64) } });
    assert.deepEqual(wrong, { ok: false, checked: 4, firstBad: { sequence: 5, reason: 'expected_head', expected: 'f'.repeat(64), actual: hash5 } });
    const beyond = await verifyLedgerFile(path, { expectedHead: { sequence: 9, contentHash: hash5 } });
    assert.deepEqual([beyond.checked, beyond.firstBad?.reason, beyond.firstBad?.actual], [8, 'expected_head', 'missing']);
  });
});

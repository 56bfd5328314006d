/**
 * Ledger files written by earlier versions of Stele, one per schema version
 * (spec/fixtures/ledgers/schema-<N>.db, built once by build.ts there and committed): each still
 * verifies, opens (migrated to the current schema), reads back what it holds, and takes appends.
 * Every schema change adds the fixture of the version it replaces; this spec keeps them honest.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openLedger, verifyLedgerFile } from '../lib/index.ts';
import { currentSchemaVersion } from '../lib/sqlite/migrations.ts';
import { chainOf, tempDir } from './helpers/temp-ledger.ts';

const FIXTURES = new URL('./fixtures/ledgers/', import.meta.url).pathname;
/** The first schema version with a committed fixture; every later one but the current has one. */
const FIRST_FIXTURE = 4;
const fixtures = readdirSync(FIXTURES)
  .map((name) => /^schema-(\d+)\.db$/.exec(name))
  .filter((match) => match !== null)
  .map((match) => ({ file: match[0], version: Number(match[1]) }));

test('a fixture exists for every schema version from the first one kept to the current', () => {
  const versions = fixtures.map((f) => f.version);
  for (let version = FIRST_FIXTURE; version < currentSchemaVersion(); version++) {
    assert.ok(versions.includes(version), `spec/fixtures/ledgers/schema-${version}.db is missing`);
  }
  assert.ok(versions.length > 0);
});

/**
 * A file's schema as SQLite holds it: every object's type, table and exact SQL by name, and the
 * triggers of each table in the order they were created, which is the order SQLite runs them in
 * (the newest first) and so decides which error an insert that breaks two rules reports.
 */
function schemaOf(path: string): { objects: Record<string, unknown[]>; triggerOrder: Record<string, string[]> } {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare<[], { type: string; name: string; tbl_name: string; sql: string | null }>('SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid').all();
    const objects: Record<string, unknown[]> = {};
    const triggerOrder: Record<string, string[]> = {};
    for (const row of rows) {
      objects[row.name] = [row.type, row.tbl_name, row.sql];
      if (row.type === 'trigger') (triggerOrder[row.tbl_name] ??= []).push(row.name);
    }
    return { objects, triggerOrder };
  } finally {
    db.close();
  }
}

for (const { file, version } of fixtures) {
  describe(`a schema-${version} ledger`, () => {
    test('upgraded, it has exactly the schema of a new file: the same objects, the same SQL, triggers in the same order', async (t) => {
      const dir = tempDir(t);
      const upgraded = join(dir, file);
      copyFileSync(join(FIXTURES, file), upgraded);
      await (await openLedger(upgraded)).close();
      const fresh = join(dir, 'new.db');
      await (await openLedger(fresh)).close();
      const expected = schemaOf(fresh);
      assert.deepEqual(schemaOf(upgraded), expected);
      assert.ok(Object.keys(expected.objects).length > 60);
      // The derived row the schema creates empty: filled from the file (its halt was cleared).
      const db = new Database(upgraded, { readonly: true });
      t.after(() => db.close());
      assert.deepEqual(db.prepare('SELECT * FROM append_state').all(), [{ id: 1, halted: 0, typed: 0, signatures_required: 0 }]);
    });

    test('verifies as it was written, opens, reads back every value, takes an append and verifies again', async (t) => {
      // A copy: the committed file must never change, even by a migration.
      const path = join(tempDir(t), file);
      copyFileSync(join(FIXTURES, file), path);
      const before = await verifyLedgerFile(path);
      assert.deepEqual(before, { ok: true, checked: 10 });

      const ledger = await openLedger(path);
      t.after(() => ledger.close());
      assert.equal(ledger.maxSequence(), 10);
      const opened = ledger.get(1)!;
      assert.equal(opened.eventId, 'fx-1');
      assert.deepEqual(opened.payload, { owner: 'ada', limit: 500n });
      const [deposit, withdrawal] = ledger.readStream('acct-1', { fromVersion: 1 });
      assert.deepEqual(deposit!.payload, { cents: 1_250, at: new Date(Date.UTC(2026, 10, 1, 12, 1)), tags: new Set(['atm']) });
      assert.deepEqual(withdrawal!.payload, { cents: 300, meta: new Map([['branch', 7]]) });
      assert.deepEqual(withdrawal!.metadata, { traceId: 't-3' });
      const invoice = ledger.getByEventId('fx-4')!;
      assert.equal(invoice.agentId, 'billing-bot');
      assert.equal(typeof invoice.signature, 'string');
      assert.equal(ledger.haltState().halted, false, 'the fixture\'s halt was cleared by its ceremony');

      const appended = await ledger.append({ type: 'after_upgrade', streamId: 'acct-1', expectedVersion: 2, payload: { ok: true } });
      assert.deepEqual([appended.sequence, appended.streamVersion], [11, 3]);
      assert.equal(appended.prevHash, ledger.get(10)!.contentHash);
      assert.deepEqual(ledger.get(11)!.payload, { ok: true });
      await ledger.close();

      assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: 11 });
      assert.equal(chainOf(path).ok, true);
    });
  });
}

/**
 * `append_state` (schema 11): the one row that lets an ordinary append skip the lookups of the
 * halt, the taxonomy and required signatures. It follows the chain, no connection can make it
 * lie, a file without it is checked in full, and verify compares it with the chain.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openLedger, verifyLedgerFile, type LedgerError } from '../lib/index.ts';
import { appendingConnection, rawConnection, tempLedgerPath } from './helpers/temp-ledger.ts';
import { APPEND_SQL, appendArgs } from '../lib/sqlite/append-statement.ts';
import { encodeInput } from '../lib/format/event-encoding.ts';

type Flags = [halted: number, typed: number, signaturesRequired: number];

function flagsOf(path: string): Flags | undefined {
  const db = new Database(path, { readonly: true });
  try {
    const row = db.prepare<[], { halted: number; typed: number; signatures_required: number }>('SELECT * FROM append_state').get();
    return row && [row.halted, row.typed, row.signatures_required];
  } finally {
    db.close();
  }
}

/** `edit` on a raw connection with the guards of append_state out of the way, then put back as they were. */
function behindTheGuards(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    const guards = db.prepare<[], string>("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'append_state'").pluck().all();
    for (const name of ['append_state_only_derived', 'append_state_update_only_derived', 'append_state_no_delete']) db.exec(`DROP TRIGGER ${name}`);
    edit(db);
    for (const sql of guards) db.exec(sql);
  } finally {
    db.close();
  }
}

const codeOf = (error: unknown) => (error as LedgerError).code;

test('the row follows the chain: taxonomy, halt and required signatures', async (t) => {
  const path = tempLedgerPath(t);
  let ledger = await openLedger(path);
  assert.deepEqual(flagsOf(path), [0, 0, 0]);
  await ledger.setEventTypes(['a']);
  assert.deepEqual(flagsOf(path), [0, 1, 0]);
  await ledger.setEventTypes([]);
  assert.deepEqual(flagsOf(path), [0, 0, 0]);
  await ledger.halt('incident');
  assert.deepEqual(flagsOf(path), [1, 0, 0]);
  await ledger.close();
  ledger = await openLedger(path, { requireSignatures: true });
  assert.deepEqual(flagsOf(path), [1, 0, 1]);
  await ledger.close();
  assert.equal((await verifyLedgerFile(path, { headSidecar: false })).ok, true);
});

test('no connection can make the row lie: UPDATE, DELETE, INSERT OR REPLACE and a second row are refused', async (t) => {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  await ledger.halt('incident');
  await ledger.close();
  const db = rawConnection(t, path);
  db.pragma('recursive_triggers = OFF');
  assert.throws(() => db.exec('UPDATE append_state SET halted = 0'), /STELE:APPEND_ONLY_VIOLATION:append_state/);
  assert.throws(() => db.exec('DELETE FROM append_state'), /STELE:APPEND_ONLY_VIOLATION:delete/);
  assert.throws(() => db.exec('INSERT OR REPLACE INTO append_state VALUES (1, 0, 0, 0)'), /STELE:APPEND_ONLY_VIOLATION:append_state/);
  assert.throws(() => db.exec('INSERT INTO append_state VALUES (2, 1, 0, 0)'), /STELE:APPEND_ONLY_VIOLATION:append_state/);
  assert.deepEqual(flagsOf(path), [1, 0, 0]);
});

test('a file without the row is checked in full', async (t) => {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  await ledger.setEventTypes(['known']);
  await ledger.halt('incident');
  await ledger.close();
  behindTheGuards(path, (db) => db.exec('DELETE FROM append_state'));
  assert.equal(flagsOf(path), undefined);
  const db = appendingConnection(t, path);
  const insert = (type: string) => db.prepare(APPEND_SQL).run(...appendArgs(encodeInput({ type }, undefined, 1 << 20)));
  assert.throws(() => insert('unknown'), /STELE:UNKNOWN_EVENT_TYPE/);
  assert.throws(() => insert('known'), /STELE:LEDGER_HALTED/);
  assert.equal((await verifyLedgerFile(path, { headSidecar: false })).ok, true);
});

test('a row that lies, written behind its guards, is a derived_table fault of verify', async (t) => {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  await ledger.append({ type: 'before' });
  await ledger.halt('incident');
  await assert.rejects(ledger.append({ type: 'while halted' }), (error) => codeOf(error) === 'LEDGER_HALTED');
  await ledger.close();
  behindTheGuards(path, (db) => db.exec('UPDATE append_state SET halted = 0'));
  const result = await verifyLedgerFile(path, { headSidecar: false });
  assert.deepEqual([result.ok, result.firstBad?.reason, result.firstBad?.detail], [false, 'derived_table', 'append_state']);
  assert.deepEqual([result.firstBad?.expected, result.firstBad?.actual], ['[1,0,0]', '[0,0,0]']);
});

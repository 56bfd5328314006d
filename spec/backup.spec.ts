/**
 * `ledger.backup(path)`: a consistent, verified copy of a live ledger, with its head sidecar,
 * restorable by openLedger; never over an existing file; a closed ledger refuses.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { isLedgerError, openLedger, verifyLedgerFile } from '../lib/index.ts';
import { readHeadSidecar } from '../lib/writer/head-sidecar.ts';
import { createLedger, tempDir } from './helpers/temp-ledger.ts';

test('a backup taken while appends go on is one commit of the ledger, verified, with its sidecar, and opens as a ledger', async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  await ledger.appendBatch(Array.from({ length: 2_000 }, (_, i) => ({ type: 'paid', streamId: `acct-${i % 7}`, payload: { i, at: new Date(i) } })));
  const target = join(tempDir(t), 'copy.db');
  // Appends racing the copy: the copy holds a prefix of the chain, whole commits only.
  const racing = Promise.all(Array.from({ length: 50 }, (_, i) => ledger.appendBatch([{ type: 'raced', payload: { i } }, { type: 'raced', payload: { i } }])));
  const result = await ledger.backup(target);
  await racing;

  assert.equal(result.path, target);
  assert.ok(result.head && result.head.sequence >= 2_000 && result.head.sequence <= 2_100);
  assert.equal((result.head.sequence - 2_000) % 2, 0, 'a batch is in the copy whole or not at all');
  assert.equal(result.head.contentHash, ledger.get(result.head.sequence)?.contentHash);
  assert.equal(result.checked, result.head.sequence);
  assert.deepEqual(readHeadSidecar(target), result.head);
  assert.deepEqual(readdirSync(dirname(target)).sort(), ['copy.db', 'copy.db-head.json'], 'no temporary file is left');
  assert.deepEqual(await verifyLedgerFile(target), { ok: true, checked: result.head.sequence });

  // Restore: the copy is a ledger of its own, with the same rows, and takes appends.
  const restored = await openLedger(target);
  t.after(() => restored.close());
  assert.deepEqual(restored.head(), result.head);
  assert.deepEqual(restored.get(17), ledger.get(17));
  const next = await restored.append({ type: 'restored' });
  assert.equal(next.sequence, result.head.sequence + 1);
  assert.equal(next.prevHash, result.head.contentHash);
});

test('a backup never overwrites: an existing file, or the ledger itself, is refused; a closed ledger is LEDGER_CLOSED', async (t) => {
  const ledger = await createLedger(t);
  await ledger.append({ type: 'a' });
  const dir = tempDir(t);
  const existing = join(dir, 'taken.db');
  writeFileSync(existing, 'keep me');
  await assert.rejects(ledger.backup(existing), { name: 'TypeError', message: `backup: ${existing} exists; a backup never overwrites a file, choose a new path` });
  await assert.rejects(ledger.backup(ledger.path), { name: 'TypeError' });
  await ledger.close();
  await assert.rejects(ledger.backup(join(dir, 'late.db')), (error) => isLedgerError(error, 'LEDGER_CLOSED'));
  assert.equal(existsSync(join(dir, 'late.db')), false);
});

test('an empty ledger backs up to an empty ledger', async (t) => {
  const ledger = await createLedger(t);
  const target = join(tempDir(t), 'empty.db');
  const result = await ledger.backup(target);
  assert.deepEqual({ head: result.head, checked: result.checked }, { head: undefined, checked: 0 });
  const restored = await openLedger(target);
  t.after(() => restored.close());
  assert.equal(restored.maxSequence(), 0);
});

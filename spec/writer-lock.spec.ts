/**
 * One writer per file across processes: a second process is refused with WRITER_LOCK_HELD while
 * the first lives, and the kernel drops the lock when the holder is SIGKILLed. A read-only open
 * works beside a writer in another process.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { openLedger, type LedgerError } from '../lib/index.ts';
import { runChild } from './helpers/run-child.ts';
import { reopen, tempDir } from './helpers/temp-ledger.ts';

const LOCK_HOLDER = new URL('./fixtures/processes/lock-holder.ts', import.meta.url);

test('another process holding the writer lock is refused at once; after SIGKILL the file opens', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ledger.db');
  const holder = runChild(t, LOCK_HOLDER, [path]);
  assert.equal(await holder.next(), 'ready');
  for (let acks = 0; acks < 3; acks++) await holder.until((line) => String(line).startsWith('ack '));

  const started = Date.now();
  await assert.rejects(openLedger(path), (err: LedgerError) => {
    assert.equal(err.code, 'WRITER_LOCK_HELD');
    return true;
  });
  assert.ok(Date.now() - started < 3000, 'refused without waiting for a timeout');

  // A reader in this process sees the other process's appends as they commit.
  const reader = await reopen(t, path, { readonly: true });
  const seen = reader.maxSequence();
  while (reader.maxSequence() === seen) await holder.until((line) => String(line).startsWith('ack '));
  assert.ok(reader.maxSequence() > seen);
  await reader.close();

  holder.process.kill('SIGKILL');
  await holder.exited;
  const ledger = await reopen(t, path);
  const next = await ledger.append({ type: 'after_kill' });
  assert.equal(next.sequence, ledger.maxSequence());
  assert.deepEqual(ledger.verifyContinuity(1, next.sequence), { continuous: true, missing: [] });
});

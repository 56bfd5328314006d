/**
 * One writer per file across processes: a second process is refused with WRITER_LOCK_HELD while
 * the first lives, and the kernel drops the lock when the holder is SIGKILLed. A read-only open
 * works beside a writer in another process.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync, symlinkSync } from 'node:fs';
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

test('a second writer through a symlink is refused: the lock sits beside the real file', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ledger.db');
  const first = await reopen(t, path);
  await first.append({ type: 'one' });
  const link = join(dir, 'link.db');
  symlinkSync(path, link);
  await assert.rejects(openLedger(link), (err: LedgerError) => err.code === 'WRITER_LOCK_HELD');
  assert.equal(existsSync(`${link}-writer.lock`), false);
});

test('deleting the lock file while a writer runs: the writer puts it back, and a second writer is refused', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ledger.db');
  const first = await reopen(t, path);
  await first.append({ type: 'one' });
  rmSync(`${path}-writer.lock`);
  const deadline = Date.now() + 10_000;
  while (!existsSync(`${path}-writer.lock`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await assert.rejects(openLedger(path), (err: LedgerError) => err.code === 'WRITER_LOCK_HELD');
  assert.equal((await first.append({ type: 'two' })).sequence, 2);
});

test('a second writer that locked a new lock file first: the first writer stops appending with WRITER_LOCK_HELD', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ledger.db');
  const first = await reopen(t, path);
  await first.append({ type: 'one' });
  rmSync(`${path}-writer.lock`);
  const second = await reopen(t, path).catch((error: LedgerError) => error);
  if (second instanceof Error) {
    // The first writer put its lock back before the second opened: refused, as it should be.
    assert.equal((second as LedgerError).code, 'WRITER_LOCK_HELD');
    return;
  }
  const deadline = Date.now() + 10_000;
  let refusal: LedgerError | undefined;
  while (!refusal && Date.now() < deadline) {
    refusal = await first.append({ type: 'from-first' }).then(() => undefined, (error: LedgerError) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(refusal?.code, 'WRITER_LOCK_HELD');
  await second.append({ type: 'from-second' });
  assert.deepEqual(second.verifyContinuity(1, second.maxSequence()), { continuous: true, missing: [] });
});

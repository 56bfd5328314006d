/**
 * One writer per file across processes: a second process is refused with WRITER_LOCK_HELD while
 * the first lives, and the kernel drops the lock when the holder is SIGKILLed. A read-only open
 * works beside a writer in another process.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { openLedger, type LedgerError } from '../lib/index.ts';
import { reopen, tempDir } from './helpers/temp-ledger.ts';

const root = resolve(import.meta.dirname, '..');

/** Starts a child that holds the ledger open for writing and appends one event a tick. */
async function startHolder(dir: string, path: string): Promise<{ child: ChildProcess; lines: AsyncIterator<string> }> {
  const script = join(dir, 'holder.mts');
  writeFileSync(
    script,
    `import { openLedger } from ${JSON.stringify(join(root, 'lib/index.ts'))};
const ledger = await openLedger(process.argv[2]!);
let n = 0;
console.log('ready');
setInterval(async () => { const r = await ledger.append({ type: 'tick', payload: n++ }); console.log('ack ' + r.sequence); }, 5);`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script, path], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  assert.equal((await lines.next()).value, 'ready');
  return { child, lines };
}

test('another process holding the writer lock is refused at once; after SIGKILL the file opens', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'ledger.db');
  const { child, lines } = await startHolder(dir, path);
  t.after(() => child.kill('SIGKILL'));
  let acks = 0;
  while (acks < 3) if ((await lines.next()).value?.startsWith('ack ')) acks++;

  const started = Date.now();
  await assert.rejects(openLedger(path), (err: LedgerError) => {
    assert.equal(err.code, 'WRITER_LOCK_HELD');
    return true;
  });
  assert.ok(Date.now() - started < 3000, 'refused without waiting for a timeout');

  // A reader in this process sees the other process's appends as they commit.
  const reader = await reopen(t, path, { readonly: true });
  const seen = reader.maxSequence();
  while ((await lines.next()).value?.startsWith('ack ') && reader.maxSequence() === seen) {
    /* wait for the next commit */
  }
  assert.ok(reader.maxSequence() > seen);
  await reader.close();

  child.kill('SIGKILL');
  await once(child, 'exit');
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

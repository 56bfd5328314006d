/**
 * A full disk, on a real file system that fills up (a 1 MiB tmpfs, spec/helpers/mounts.ts):
 *   - at open, for a new file and for an existing ledger, at every fill level until the open
 *     fits: DISK_FULL (never WRITE_FAILED), and once space is freed the next open works and
 *     holds every event the file had;
 *   - at append: DISK_FULL for the append that does not fit, nothing of it written, every
 *     acknowledged event kept, and the next append after space frees works.
 */
import assert from 'node:assert/strict';
import { readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openLedger, verifyLedgerFile, type Ledger, type LedgerError } from '../lib/index.ts';
import { smallFilesystem } from './helpers/mounts.ts';

const MiB = 1024 * 1024;

/** Fills the file system at `dir` but for `free` bytes (as statfs counts them). */
function fill(dir: string, free: number): string {
  const filler = join(dir, 'filler');
  rmSync(filler, { force: true });
  const { bavail, bsize } = statfsSync(dir);
  writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - free)));
  return filler;
}

/**
 * Opens `path` with the disk filled but for 0 bytes, then more and more, until it opens: every
 * refusal on the way must be DISK_FULL. Steps of 8 KiB while SQLite's small writes (lock file,
 * header, `-shm`) are what fails, then 32 KiB through the WAL of the schema.
 */
async function openWithLessAndLessFull(dir: string, path: string): Promise<{ ledger: Ledger; refusals: number }> {
  let refusals = 0;
  for (let free = 0; free < MiB / 2; free += free < 64 * 1024 ? 8192 : 32 * 1024) {
    fill(dir, free);
    try {
      return { ledger: await openLedger(path), refusals };
    } catch (error) {
      refusals++;
      assert.equal((error as LedgerError).code, 'DISK_FULL', `with ${free} bytes free: ${(error as Error).message}`);
    }
  }
  assert.fail('the ledger never opened in half a MiB');
}

describe('a full disk', () => {
  test('at open: DISK_FULL at every fill level, for a new file and an existing ledger; once space frees the next open works and loses nothing', async (t) => {
    const dir = smallFilesystem(t, MiB);
    if (!dir) return;
    const path = join(dir, 'audit.db');

    // A new file: from no space at all until the open fits. What a failed open left behind
    // stays, so that the open after it shows it blocks nothing.
    const newFile = await openWithLessAndLessFull(dir, path);
    assert.ok(newFile.refusals > 0, 'some open failed for want of space');
    assert.equal(newFile.ledger.maxSequence(), 0);
    // The open fitted with the least room there was; the appends after it get room again.
    rmSync(join(dir, 'filler'), { force: true });
    const acknowledged = await newFile.ledger.appendBatch(Array.from({ length: 20 }, (_, i) => ({ type: 'kept', eventId: `kept-${i}`, payload: i })));
    await newFile.ledger.close();

    // An existing ledger of 20 events, cleanly closed, then the disk fills up.
    const existing = await openWithLessAndLessFull(dir, path);
    assert.ok(existing.refusals > 0, 'some reopen failed for want of space');
    assert.deepEqual(existing.ledger.readAll().map((e) => e.eventId), acknowledged.map((a) => a.eventId));
    await existing.ledger.close();
    rmSync(join(dir, 'filler'), { force: true });
    assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: 20 });
  });

  test('at append: DISK_FULL for what does not fit, nothing of it written, every acknowledged event kept; the next append after space frees works', async (t) => {
    const dir = smallFilesystem(t, MiB);
    if (!dir) return;
    const path = join(dir, 'audit.db');
    const ledger = await openLedger(path);
    t.after(() => ledger.close());
    const filler = fill(dir, 200 * 1024);
    const acknowledged: string[] = [];
    let error: LedgerError | undefined;
    for (let i = 0; i < 200 && !error; i++) {
      const eventId = `e${i}`;
      await ledger.append({ type: 'filling', eventId, payload: 'x'.repeat(8_000) }).then(
        () => acknowledged.push(eventId),
        (refusal: LedgerError) => (error = refusal),
      );
    }
    assert.ok(error, 'the disk never filled up');
    assert.equal(error.code, 'DISK_FULL', error.message);
    assert.match(String(error.details.sqliteCode), /^SQLITE_FULL|^SQLITE_IOERR/);
    assert.ok(acknowledged.length > 0);
    const refusedId = `e${acknowledged.length}`;
    // A batch does not fit either, and fails whole.
    await assert.rejects(
      ledger.appendBatch([{ type: 'b', eventId: 'b0', payload: 'y'.repeat(8_000) }, { type: 'b', eventId: 'b1', payload: 'y'.repeat(200_000) }]),
      (err: LedgerError) => err.code === 'DISK_FULL',
    );
    assert.equal(ledger.health().writer, 'running');
    assert.equal(ledger.health().failedWriteCount, 2);
    assert.equal(ledger.getByEventId(refusedId), undefined);
    assert.equal(ledger.maxSequence(), acknowledged.length);

    rmSync(filler);
    const after = await ledger.append({ type: 'after', eventId: 'after' });
    assert.equal(after.sequence, acknowledged.length + 1);
    await ledger.close();
    const reopened = await openLedger(path, { readonly: true });
    t.after(() => reopened.close());
    assert.deepEqual(reopened.readAll().map((e) => e.eventId), [...acknowledged, 'after']);
    assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: acknowledged.length + 1 });
  });
});

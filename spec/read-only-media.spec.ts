/**
 * Read-only media: a ledger closed cleanly, seen through a read-only bind mount of its folder
 * (writes fail with EROFS, even for root; spec/helpers/mounts.ts), opens with
 * `openLedger(path, { readonly: true })`, verifies with `verifyLedgerFile` and `stele verify`,
 * and nothing is written there. A ledger last closed while another connection still had it open
 * (so left in WAL mode) cannot be read there without a `-shm`: that is FILE_NOT_WRITABLE saying
 * so, never a raw SqliteError.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { openLedger, verifyLedgerFile, type LedgerError } from '../lib/index.ts';
import { readOnlyView } from './helpers/mounts.ts';
import { runChild } from './helpers/run-child.ts';
import { tempDir } from './helpers/temp-ledger.ts';

const CLI = new URL('../lib/cli/stele.ts', import.meta.url);
const READER = fileURLToPath(new URL('./fixtures/processes/read-only-reader.ts', import.meta.url));

/** Runs the source `stele` with `args`; its exit code and its stdout lines. */
async function stele(t: Parameters<typeof tempDir>[0], ...args: string[]): Promise<{ code: number | null; lines: unknown[]; stderr: string }> {
  const child = runChild(t, CLI, args, { stderr: 'pipe' });
  const lines: unknown[] = [];
  for await (const line of child.lines) lines.push(line);
  const { code } = await child.exited;
  return { code, lines, stderr: child.stderr() };
}

/** The mode in the file's header: bytes 18 and 19 are 2 in WAL mode, 1 in rollback mode. */
function journalMode(path: string): 'wal' | 'rollback' {
  const header = readFileSync(path).subarray(18, 20);
  return header[0] === 2 && header[1] === 2 ? 'wal' : 'rollback';
}

describe('read-only media', () => {
  test('a cleanly closed ledger opens read-only, verifies and passes `stele verify` on a read-only mount; nothing is written there', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const writer = await openLedger(path);
    await writer.appendBatch(Array.from({ length: 30 }, (_, i) => ({ type: 'archived', eventId: `a${i}`, streamId: `s${i % 3}`, payload: { i } })));
    await writer.close();

    const view = readOnlyView(t, dir);
    if (!view) return;
    const files = readdirSync(view).sort();
    const archived = join(view, 'audit.db');

    const ledger = await openLedger(archived, { readonly: true });
    assert.equal(ledger.maxSequence(), 30);
    assert.deepEqual(ledger.readStream('s1').map((e) => e.eventId), Array.from({ length: 10 }, (_, k) => `a${3 * k + 1}`));
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 30 });
    await ledger.close();
    assert.deepEqual(await verifyLedgerFile(archived), { ok: true, checked: 30 });
    const cli = await stele(t, 'verify', archived, '--json');
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal((cli.lines.at(-1) as { ok: boolean }).ok, true);
    assert.deepEqual(readdirSync(view).sort(), files, 'no -shm, -wal or anything else appeared');

    // A writer on the writable path takes the file back to WAL, and leaves it readable again.
    const again = await openLedger(path);
    await again.append({ type: 'later', eventId: 'later' });
    await again.close();
    const reread = await openLedger(archived, { readonly: true });
    t.after(() => reread.close());
    assert.equal(reread.getByEventId('later')?.sequence, 31);
    assert.deepEqual(await verifyLedgerFile(archived), { ok: true, checked: 31 });
  });

  test('in a folder its user cannot write (chmod 555, read as `nobody`), a cleanly closed ledger opens read-only and verifies', async (t) => {
    // A folder of its own inside the temp folder, whose modes this test may change.
    const own = tempDir(t);
    const dir = join(own, 'archive');
    mkdirSync(dir);
    const path = join(dir, 'audit.db');
    const writer = await openLedger(path);
    await writer.appendBatch([{ type: 'a' }, { type: 'b' }, { type: 'c' }]);
    await writer.close();
    assert.equal(journalMode(path), 'rollback', 'the writer, closing last, left the file in rollback mode');
    // Root ignores permissions: the child drops to nobody, who may read the folder but not write it.
    if (process.getuid?.() !== 0) return t.skip('needs root to run the child as nobody (as an ordinary user, chmod alone would do)');
    if (spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv (util-linux) is not installed');
    chmodSync(own, 0o755); // mkdtemp made it 0700
    chmodSync(dir, 0o555);
    const files = readdirSync(dir).sort();
    const run = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '--import', 'tsx', READER, path], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      encoding: 'utf8',
    });
    if (/EACCES|permission denied/i.test(run.stderr) && !run.stdout) return t.skip(`nobody cannot read this checkout: ${run.stderr.split('\n')[0]}`);
    assert.equal(run.status, 0, run.stderr);
    const outcome = JSON.parse(run.stdout) as { uid: number; maxSequence?: number; verified?: unknown; error?: unknown };
    assert.notEqual(outcome.uid, 0);
    assert.deepEqual(outcome, { uid: outcome.uid, maxSequence: 3, verified: { ok: true, checked: 3 } });
    assert.deepEqual(readdirSync(dir).sort(), files, 'nothing was created in the folder');
  });

  test('a ledger a reader closed last keeps its -wal and -shm and reads there too', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const writer = await openLedger(path);
    await writer.append({ type: 'one' });
    // A reader outlives the writer: the file stays in WAL mode, and the reader, read-only,
    // leaves the -wal and -shm it cannot checkpoint.
    const reader = await openLedger(path, { readonly: true });
    await writer.close();
    await reader.close();
    assert.equal(journalMode(path), 'wal', 'the writer did not switch a file another connection had open');
    const view = readOnlyView(t, dir);
    if (!view) return;
    assert.deepEqual(await verifyLedgerFile(join(view, 'audit.db')), { ok: true, checked: 1 });
  });

  test('a file closed in WAL mode without its -shm (an older Stele, SQLite tools) is FILE_NOT_WRITABLE there, saying why and what to do', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const writer = await openLedger(path);
    await writer.append({ type: 'one' });
    await writer.close();
    // What an older Stele left: WAL mode in the header, no -wal or -shm after the last close.
    const raw = new Database(path);
    raw.pragma('journal_mode = WAL');
    raw.close();
    assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('-shm') || name.endsWith('-wal')), []);

    const view = readOnlyView(t, dir);
    if (!view) return;
    const archived = join(view, 'audit.db');
    const refused = (err: LedgerError) => {
      assert.equal(err.code, 'FILE_NOT_WRITABLE');
      assert.equal(err.details.reason, 'wal_index');
      assert.match(err.message, /last closed in WAL mode.*-shm.*open and close it once with a writer/);
      return true;
    };
    await assert.rejects(openLedger(archived, { readonly: true }), refused);
    await assert.rejects(verifyLedgerFile(archived), refused);

    // Opened and closed once by a writer where it is writable, it reads on the mount.
    await (await openLedger(path)).close();
    assert.deepEqual(await verifyLedgerFile(archived), { ok: true, checked: 1 });
  });
});

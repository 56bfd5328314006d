/**
 * What is at a ledger's path when a writer opens it: a ledger is created only where there is no
 * file or an empty one, anything else that is not a ledger is refused untouched, a leftover head
 * sidecar beside a new file is refused without writing into it, and every failure at open has
 * its own code.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { isLedgerError, openLedger, verifyLedgerFile, type LedgerErrorCode } from '../lib/index.ts';
import { headSidecarPath } from '../lib/writer/head-sidecar.ts';
import { reopen, tempDir } from './helpers/temp-ledger.ts';

function coded(code: LedgerErrorCode, message?: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isLedgerError(error), `expected a LedgerError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  };
}

test('deleting a ledger and starting over: the leftover sidecar is refused, nothing is written, deleting it starts a new ledger', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.db');
  const first = await openLedger(path);
  await first.append({ type: 'opened', streamId: 'a' });
  await first.close();
  const sidecar = headSidecarPath(path);
  assert.ok(existsSync(sidecar));
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });

  const refusal = coded('WRITER_INCONSISTENCY', new RegExp(`${sidecar}.*delete ${sidecar}.*nothing was written`));
  await assert.rejects(openLedger(path), refusal);
  assert.equal(existsSync(path), false, 'no file is created');
  writeFileSync(path, '');
  await assert.rejects(openLedger(path), refusal);
  assert.equal(statSync(path).size, 0, 'the empty file stays empty');
  await assert.rejects(openLedger(path), (error) => refusal(error) && (error as { details: { state: string } }).details.state === 'empty');

  rmSync(sidecar);
  const fresh = await reopen(t, path);
  assert.equal(fresh.head(), undefined);
  assert.equal((await fresh.append({ type: 'opened', streamId: 'a' })).sequence, 1);
});

test('a ledger holding no event beside a sidecar that names a head is refused, not halted', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'audit.db');
  const empty = await openLedger(path);
  await empty.close();
  writeFileSync(headSidecarPath(path), JSON.stringify({ sequence: 3, contentHash: 'ab'.repeat(32) }));
  await assert.rejects(openLedger(path), coded('WRITER_INCONSISTENCY', /holds no event/));
  const db = new Database(path, { readonly: true });
  t.after(() => db.close());
  assert.equal(db.prepare('SELECT count(*) FROM events').pluck().get(), 0, 'no halt was written');
});

test('an SQLite database of another application is NOT_A_LEDGER and left as it was', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'app.db');
  const other = new Database(path);
  other.exec("CREATE TABLE users (name TEXT); INSERT INTO users VALUES ('ada');");
  other.close();
  const before = readFileSync(path);
  await assert.rejects(openLedger(path), coded('NOT_A_LEDGER', /another application/));
  await assert.rejects(verifyLedgerFile(path), coded('NOT_A_LEDGER', /without a ledger/));
  await assert.rejects(openLedger(path, { readonly: true }), coded('NOT_A_LEDGER'));
  assert.deepEqual(readFileSync(path), before);
  const check = new Database(path, { readonly: true });
  t.after(() => check.close());
  assert.deepEqual(check.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all(), ['users']);
});

test('create: false opens only an existing ledger', async (t) => {
  const dir = tempDir(t);
  const missing = join(dir, 'missing.db');
  await assert.rejects(openLedger(missing, { create: false }), coded('NOT_A_LEDGER', /create: false/));
  assert.equal(existsSync(missing), false);
  const empty = join(dir, 'empty.db');
  writeFileSync(empty, '');
  await assert.rejects(openLedger(empty, { create: false }), coded('NOT_A_LEDGER', /is empty and create: false/));
  assert.equal(statSync(empty).size, 0);
  const created = await reopen(t, empty);
  await created.append({ type: 'x', streamId: 's' });
  await created.close();
  const again = await reopen(t, empty, { create: false });
  assert.equal(again.head()?.sequence, 1);
  await assert.rejects(openLedger(empty, { create: 'no' as never }), TypeError);
});

test('each failure at open has its own code: text file, corrupt database, directory, missing folder, malformed sidecar', async (t) => {
  const dir = tempDir(t);
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'hello, this is not a database\n'.repeat(10));
  await assert.rejects(openLedger(text), coded('NOT_A_LEDGER', /not an SQLite database/));
  assert.equal(readFileSync(text, 'utf8'), 'hello, this is not a database\n'.repeat(10));

  const corrupt = join(dir, 'corrupt.db');
  const good = await openLedger(corrupt);
  await good.append({ type: 'x', streamId: 's' });
  await good.close();
  rmSync(headSidecarPath(corrupt));
  const bytes = readFileSync(corrupt);
  bytes.fill(0x5a, 100, bytes.length); // keeps the header, destroys every page
  writeFileSync(corrupt, bytes);
  await assert.rejects(openLedger(corrupt), coded('NOT_A_LEDGER'));
  await assert.rejects(verifyLedgerFile(corrupt), coded('NOT_A_LEDGER'));

  const folder = join(dir, 'folder.db');
  mkdirSync(folder);
  await assert.rejects(openLedger(folder), coded('FILE_NOT_WRITABLE', /is a directory/));
  await assert.rejects(openLedger(join(dir, 'no', 'such', 'folder', 'a.db')), coded('FILE_NOT_WRITABLE', /does not exist/));

  const withSidecar = join(dir, 'sidecar.db');
  const ledger = await openLedger(withSidecar);
  await ledger.append({ type: 'x', streamId: 's' });
  await ledger.close();
  writeFileSync(headSidecarPath(withSidecar), '{"sequence":');
  await assert.rejects(openLedger(withSidecar), coded('SIDECAR_UNREADABLE', /is not JSON/));
  writeFileSync(headSidecarPath(withSidecar), '[]');
  await assert.rejects(openLedger(withSidecar), coded('SIDECAR_UNREADABLE', /does not hold/));
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

for (const how of ['renamed over', 'deleted'] as const) {
  test(`a writer whose file is ${how} refuses appends with LEDGER_FILE_REPLACED and health() says so`, async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'audit.db');
    const ledger = await reopen(t, path);
    await ledger.append({ type: 'before', streamId: 's' });
    assert.equal(ledger.health().fileReplaced, false);
    if (how === 'renamed over') {
      writeFileSync(join(dir, 'export.jsonl'), '{}\n');
      renameSync(join(dir, 'export.jsonl'), path);
    } else {
      rmSync(path);
    }
    await until(() => ledger.health().fileReplaced, 'health() to report the replaced file');
    assert.equal(ledger.health().writer, 'failed');
    await assert.rejects(ledger.append({ type: 'after', streamId: 's' }), coded('LEDGER_FILE_REPLACED', new RegExp(`${path} was ${how === 'deleted' ? 'deleted' : 'replaced'}`)));
    const sidecar = () => (existsSync(headSidecarPath(path)) ? readFileSync(headSidecarPath(path), 'utf8') : undefined);
    const sidecarBefore = sidecar();
    await ledger.close();
    assert.equal(sidecar(), sidecarBefore, 'no sidecar is written for a file that is not there');
  });
}

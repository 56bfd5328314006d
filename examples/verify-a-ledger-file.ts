/**
 * Verifying a ledger file: check a file no process has open, find an edit made behind the
 * triggers' back, and see the writer refuse to start on it. Run with
 * `npx tsx examples/verify-a-ledger-file.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { isLedgerError, openLedger, verifyLedgerFile } from 'stele';

const dir = mkdtempSync(join(tmpdir(), 'stele-verify-'));
const path = join(dir, 'audit.db');
const ledger = await openLedger(path);
await ledger.appendBatch(Array.from({ length: 5_000 }, (_, i) => ({ type: 'reading', streamId: `sensor-${i % 8}`, payload: { value: i } })));
await ledger.close();

const clean = await verifyLedgerFile(path, { onProgress: ({ checked, total }) => process.stdout.write(`\rverifying ${checked}/${total}`) });
console.log(`\nuntouched file: ok=${clean.ok}, ${clean.checked} rows`);

// Someone with write access drops the guard trigger and edits a row: the schema is no longer
// the one Stele ships, and verify says so before looking at any row.
const db = new Database(path);
const guard = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'events_no_update'").pluck().get() as string;
db.exec(`DROP TRIGGER events_no_update; UPDATE events SET payload = '{"value":-1}' WHERE sequence = 1234`);
const unguarded = await verifyLedgerFile(path);
console.log(`guard dropped: ok=${unguarded.ok}, ${unguarded.firstBad?.reason} (${JSON.stringify(unguarded.firstBad?.schema)})`);

// A careful forger puts the guard back: the row itself is then what gives the edit away.
db.exec(guard);
db.close();
const tampered = await verifyLedgerFile(path);
console.log(`edited file: ok=${tampered.ok}, first bad row #${tampered.firstBad?.sequence} (${tampered.firstBad?.reason})`);

// verify() finds it anywhere; the writer's own startup check covers the newest rows and the head.
try {
  const reopened = await openLedger(path, { startupVerifyRows: 5_000 });
  await reopened.close();
} catch (error) {
  if (!isLedgerError(error, 'WRITER_INCONSISTENCY')) throw error;
  console.log(`writer refuses to start: ${error.details.check} at #${error.details.sequence}; the file is now halted`);
}
rmSync(dir, { recursive: true, force: true });
if (!clean.ok || unguarded.firstBad?.reason !== 'schema' || tampered.firstBad?.sequence !== 1234) process.exit(1);

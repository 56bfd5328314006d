/**
 * Child process of spec/retry.spec.ts: a second, raw better-sqlite3 connection (no Stele
 * functions, another process) that takes the ledger file's write lock with BEGIN IMMEDIATE and
 * holds it, as a backup tool or the sqlite3 shell would.
 *
 * Usage: node --import tsx spec/helpers/busy-child.ts <ledgerPath> [holdMs]
 *
 * Prints `locked` once the write lock is held. With holdMs it rolls back after that many
 * milliseconds; without, when it reads the line `release` on stdin (or stdin ends). Then it
 * prints `released <heldMs>` and exits 0.
 */
import Database from 'better-sqlite3';
import { createInterface } from 'node:readline';

const [path, holdArg] = process.argv.slice(2);
if (!path) {
  process.stderr.write('usage: busy-child.ts <ledgerPath> [holdMs]\n');
  process.exit(2);
}

const db = new Database(path, { timeout: 5_000 });
db.exec('BEGIN IMMEDIATE');
const lockedAt = performance.now();
process.stdout.write('locked\n');

let released = false;
function release(): void {
  if (released) return;
  released = true;
  db.exec('ROLLBACK');
  db.close();
  process.stdout.write(`released ${Math.round(performance.now() - lockedAt)}\n`);
  process.exit(0);
}

if (holdArg !== undefined) {
  setTimeout(release, Number(holdArg));
} else {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'release') release();
  });
  lines.on('close', release);
}

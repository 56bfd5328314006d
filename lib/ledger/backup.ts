/**
 * `ledger.backup(path)`: a consistent, verified, standalone copy of a live ledger.
 *
 * `VACUUM INTO` on a read-only connection of its own writes the copy from one read transaction,
 * so it is the ledger exactly as of one commit (the main thread waits for it: about as long as
 * reading the file once), while appends go on (WAL: the writer is never
 * blocked). It copies the schema text as it is (triggers included, which a VACUUM never fires)
 * and every row with its sequence, so the copy's pinned schema and chain are the original's.
 * The copy is written beside the target as a temporary file, verified in full by the one
 * verifier, fsynced, then renamed into place and given its head sidecar; a copy that does not
 * verify is removed and reported as BACKUP_FAILED. The copy is an ordinary ledger file:
 * `openLedger(path)` opens it (its first writer converts it to WAL).
 * @internal
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { requireFilePath } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';
import { openReadConnection } from '../sqlite/connections.ts';
import { hashAtStatement, readHead } from '../sqlite/queries.ts';
import { verifyLedgerFile } from '../verify/verify-ledger-file.ts';
import { headSidecarPath, syncDirectory, writeHeadSidecar } from '../writer/head-sidecar.ts';

/**
 * What {@link Ledger.backup} made.
 *
 * @example
 * ```ts
 * const { path, head, checked } = await ledger.backup('/mnt/backup/audit-2026-12-01.db');
 * console.log(`copied and verified ${checked} events up to #${head?.sequence} into ${path}`);
 * ```
 */
export interface BackupResult {
  /** Absolute path of the copy. */
  path: string;
  /** The copy's head: the ledger as of the commit the copy was taken at (undefined when empty). */
  head: LedgerHead | undefined;
  /** Events the verification of the copy checked. */
  checked: number;
}

function fsyncPath(path: string, flags: 'r+'): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Copies the ledger at `source` to `target` (which must not exist), verified. */
export async function backupLedger(source: string, target: string): Promise<BackupResult> {
  requireFilePath('backup: the path', target);
  const absolute = resolve(target);
  if (absolute === source) throw new TypeError(`backup: the path is the ledger itself (${absolute}); choose another file`);
  if (existsSync(absolute)) throw new TypeError(`backup: ${absolute} exists; a backup never overwrites a file, choose a new path`);
  if (existsSync(headSidecarPath(absolute))) throw new TypeError(`backup: ${headSidecarPath(absolute)} exists; remove it or choose a new path`);
  const tmp = join(dirname(absolute), `.${basename(absolute)}.${randomUUID()}.tmp`);
  try {
    const db = openReadConnection(source);
    let sourceHash: string | undefined;
    let head: LedgerHead | undefined;
    try {
      // One statement, one read transaction (VACUUM cannot run inside another one).
      db.prepare('VACUUM INTO ?').run(tmp);
      head = readHeadOf(tmp);
      // The copy's head row is the ledger's own row at that height: the same chain, not a look-alike.
      sourceHash = head && hashAtStatement(db)(head.sequence);
    } finally {
      db.close();
    }
    const verified = await verifyLedgerFile(tmp);
    if (!verified.ok || sourceHash !== head?.contentHash) {
      throw LedgerError.of('BACKUP_FAILED', { path: absolute, firstBad: verified.firstBad, head, sourceHash });
    }
    fsyncPath(tmp, 'r+');
    renameSync(tmp, absolute);
    syncDirectory(dirname(absolute));
    if (head) writeHeadSidecar(absolute, head);
    return { path: absolute, head, checked: verified.checked };
  } finally {
    rmSync(tmp, { force: true });
  }
}

function readHeadOf(path: string): LedgerHead | undefined {
  const db = openReadConnection(path);
  try {
    return readHead(db);
  } finally {
    db.close();
  }
}

/**
 * What is at a ledger's path before a writer opens it, and what a failure to open it means.
 *
 * A ledger is created only where nothing can be lost: no file, or an empty one. Any other file
 * that is not a ledger (another app's database, a text file, a damaged copy) is NOT_A_LEDGER and
 * left as it is; installing the schema into it would convert someone else's data. Failures of
 * the file system get their own codes, so that "the disk is full" never reads "SQLite could not
 * commit the append".
 * @internal
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';

/** `missing`: no file; `empty`: a file of 0 bytes with no WAL beside it; `existing`: anything else. */
export type LedgerFileState = 'missing' | 'empty' | 'existing';

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = 'SQLite format 3\0';

/**
 * What is at `path`. A directory, or a path whose folder does not exist, is FILE_NOT_WRITABLE.
 * A WAL database whose first transaction was never checkpointed has a 0-byte main file and its
 * rows in `-wal`: that file is not empty.
 */
export function ledgerFileState(path: string): LedgerFileState {
  const stats = statSync(path, { throwIfNoEntry: false });
  if (stats === undefined) {
    const folder = statSync(dirname(path), { throwIfNoEntry: false });
    if (!folder?.isDirectory()) {
      throw LedgerError.of('FILE_NOT_WRITABLE', { path, reason: 'no_folder' }, `the folder ${dirname(path)} does not exist`);
    }
    return 'missing';
  }
  if (stats.isDirectory()) throw LedgerError.of('FILE_NOT_WRITABLE', { path, reason: 'directory' }, `${path} is a directory`);
  if (stats.size > 0) return 'existing';
  return (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0 ? 'existing' : 'empty';
}

/** Refuses a non-empty file that does not start with SQLite's header, before SQLite opens it. */
export function requireSqliteHeader(path: string): void {
  if ((statSync(path, { throwIfNoEntry: false })?.size ?? 0) === 0) return;
  const fd = openSync(path, 'r');
  const header = Buffer.alloc(SQLITE_HEADER.length);
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.toString('latin1') !== SQLITE_HEADER) {
    throw LedgerError.of('NOT_A_LEDGER', { path, reason: 'not_sqlite' }, `${path} is not an SQLite database`);
  }
}

/**
 * Refuses an existing SQLite database that is not a ledger. A database holding no schema object
 * at all (a file whose creation stopped before its first migration committed) holds nothing to
 * lose and counts as empty.
 */
export function requireLedgerSchema(db: Database.Database, path: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  const objects = db.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() as number;
  if (version === 0 && objects === 0) return;
  const events = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'events'").pluck().get() as number;
  if (version === 0 || events === 0) {
    throw LedgerError.of('NOT_A_LEDGER', { path, reason: 'foreign_database', userVersion: version }, `${path} is an SQLite database of another application`);
  }
}

/**
 * A failure to open or prepare a ledger file as the coded error it stands for; a LedgerError
 * passes through as it is.
 */
export function openFailure(error: unknown, path: string): LedgerError {
  if (error instanceof LedgerError) return error;
  const code = String((error as { code?: unknown }).code ?? '');
  const message = error instanceof Error ? error.message : String(error);
  const details = { path, sqliteCode: code.startsWith('SQLITE_') ? code : undefined, errno: code.startsWith('SQLITE_') ? undefined : code || undefined };
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) return LedgerError.of('NOT_A_LEDGER', details, message);
  if (isDiskFull(code, message)) return LedgerError.of('DISK_FULL', details, message);
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_PERM') || ['EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOENT'].includes(code)) {
    return LedgerError.of('FILE_NOT_WRITABLE', details, message);
  }
  return LedgerError.of('WRITE_FAILED', details, message);
}

/**
 * Whether an SQLite or file-system error code means the disk (or the user's quota) is full.
 * SQLite turns ENOSPC on a write into SQLITE_FULL, but ENOSPC while growing the `-shm` file
 * (at open, or when the WAL index needs another 32 KiB) into SQLITE_IOERR_SHMSIZE, whose
 * message is only "disk I/O error": SQLite's documentation gives a full volume as its cause.
 * @internal
 */
export function isDiskFull(code: string, message: string): boolean {
  if (code.startsWith('SQLITE_FULL') || code === 'SQLITE_IOERR_SHMSIZE' || code === 'ENOSPC' || code === 'EDQUOT') return true;
  return code.startsWith('SQLITE_IOERR') && /\b(full|no space)\b/i.test(message);
}

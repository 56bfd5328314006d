/**
 * The single-writer lock: an exclusive SQLite lock on a small sidecar file, `<ledger>-writer.lock`.
 *
 * SQLite takes POSIX advisory locks (fcntl), which the kernel drops when the process dies, so a
 * SIGKILLed writer never leaves a stale lock behind, and SQLite tracks them per inode across
 * every connection of the process, so a second writer in another worker thread of the same
 * process is refused too. The ledger file itself stays unlocked for WAL readers.
 * @internal
 */
import Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { ledgerFileState, openFailure } from '../sqlite/ledger-file.ts';

export function writerLockPath(ledgerPath: string): string {
  return `${ledgerPath}-writer.lock`;
}

/** Takes the lock or throws WRITER_LOCK_HELD at once (no waiting). Close the handle to release. */
export function acquireWriterLock(ledgerPath: string): Database.Database {
  const path = writerLockPath(ledgerPath);
  // A missing folder or a directory at the path says so, rather than "unable to open database file".
  ledgerFileState(ledgerPath);
  let lock: Database.Database;
  try {
    lock = new Database(path, { timeout: 0 });
  } catch (error) {
    throw openFailure(error, path);
  }
  try {
    lock.pragma('journal_mode = DELETE');
    // In EXCLUSIVE locking mode a connection keeps every lock it took until it closes.
    lock.pragma('locking_mode = EXCLUSIVE');
    lock.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS writer (pid INTEGER); DELETE FROM writer;');
    lock.prepare('INSERT INTO writer (pid) VALUES (?)').run(process.pid);
    lock.exec('COMMIT');
    return lock;
  } catch (error) {
    lock.close();
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw LedgerError.of('WRITER_LOCK_HELD', { path: ledgerPath, lockPath: path });
    }
    throw openFailure(error, path);
  }
}

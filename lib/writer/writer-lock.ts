/**
 * The single-writer lock: an exclusive SQLite lock on a small sidecar file, `<ledger>-writer.lock`.
 *
 * SQLite takes POSIX advisory locks (fcntl), which the kernel drops when the process dies, so a
 * SIGKILLed writer never leaves a stale lock behind, and SQLite tracks them per inode across
 * every connection of the process, so a second writer in another worker thread of the same
 * process is refused too. The ledger file itself stays unlocked for WAL readers.
 *
 * A lock lives on an inode, and a path can be deleted under it (`rm *.lock`, a cleanup script):
 * the next writer would create a new file there and lock that. So the holder checks once a
 * second (with its file check, off the append path) that the path still names its locked inode.
 * When it does not, it locks a fresh file under a temporary name and links it into place with
 * link(2), which fails if the path exists: either the holder's link wins, and a newcomer opening
 * the path finds it locked (WRITER_LOCK_HELD), or the newcomer's file is there first, and the
 * holder stops appending (WRITER_LOCK_HELD on its side). Two writers can overlap for at most that
 * second, and even then SQLite's own write lock keeps every transaction whole and the chain
 * linked; what the single writer protects (the sidecar, the startup check) is never written by
 * the one that stops. Paths are the real ones (open-ledger.ts), so a symlink shares the lock.
 * @internal
 */
import { linkSync, statSync, unlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { ledgerFileState, openFailure } from '../sqlite/ledger-file.ts';

export function writerLockPath(ledgerPath: string): string {
  return `${ledgerPath}-writer.lock`;
}

/** The inode each lock handle locked, to notice when its path stops naming it. */
const lockedInode = new WeakMap<Database.Database, number>();

/** Takes the lock or throws WRITER_LOCK_HELD at once (no waiting). Close the handle to release. */
export function acquireWriterLock(ledgerPath: string, attempts = 3): Database.Database {
  const path = writerLockPath(ledgerPath);
  // A missing folder or a directory at the path says so, rather than "unable to open database file".
  ledgerFileState(ledgerPath);
  const lock = lockFile(path, ledgerPath);
  const ino = statSync(path, { throwIfNoEntry: false })?.ino;
  if (ino === undefined) {
    // Deleted between our open and our lock: what we locked is no lock at all; try again, a few times.
    lock.close();
    if (attempts <= 1) throw LedgerError.of('WRITER_LOCK_HELD', { path: ledgerPath, lockPath: path }, 'the lock file kept disappearing while it was being locked');
    return acquireWriterLock(ledgerPath, attempts - 1);
  }
  lockedInode.set(lock, ino);
  return lock;
}

/**
 * Checks that the lock path still names the locked file; when it was deleted, puts a locked file
 * back (link(2): only if nothing is there). Returns the handle to keep (the old one, or the new
 * one after closing the old), or throws WRITER_LOCK_HELD when another file took the path.
 */
export function keepWriterLock(ledgerPath: string, lock: Database.Database): Database.Database {
  const path = writerLockPath(ledgerPath);
  const ino = statSync(path, { throwIfNoEntry: false })?.ino;
  if (ino !== undefined && ino === lockedInode.get(lock)) return lock;
  if (ino === undefined) {
    const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
    const fresh = lockFile(temporary, ledgerPath);
    try {
      linkSync(temporary, path);
      lockedInode.set(fresh, statSync(temporary).ino);
      lock.close();
      return fresh;
    } catch (error) {
      fresh.close();
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      unlinkSync(temporary);
    }
  }
  throw LedgerError.of('WRITER_LOCK_HELD', { path: ledgerPath, lockPath: path }, 'the lock file was deleted and another writer locked a new one');
}

function lockFile(path: string, ledgerPath: string): Database.Database {
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
      throw LedgerError.of('WRITER_LOCK_HELD', { path: ledgerPath, lockPath: writerLockPath(ledgerPath) });
    }
    throw openFailure(error, path);
  }
}

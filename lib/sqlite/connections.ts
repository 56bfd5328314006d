/**
 * Every connection Stele opens to a ledger file: read-only ones for reads, verification and
 * subscriptions, and the read-write one of a writer (or of a replica copy being written).
 * @internal
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { ledgerFileState, openFailure, requireLedgerSchema, requireSqliteHeader } from './ledger-file.ts';
import { applyMigrations, schemaVersionOf } from './migrations.ts';
import { registerNativeFunctions, type NativeFunctionSettings } from './native-functions.ts';
import { assertPinnedSchema } from './schema-pin.ts';

/**
 * No memory map on any connection. A ledger file can change under a reader it does not control
 * (truncated by a restore, a cleanup, a `stele export --out` of old, a full disk's repair), and
 * a mapped page past the new end of the file is a SIGBUS that kills the process: no error code,
 * nothing JavaScript can catch (spec/truncate.spec.ts). SQLite checks the size only when a read
 * transaction starts, so no guard of ours can close the window inside one. The cost, measured by
 * bench/read-mmap.ts: point reads ~1.2x slower on a loaded 2-core machine (94 vs 113 µs median;
 * the earlier measure on an idle machine was ~11 vs 14-18 µs at 1M events).
 */
const READ_MMAP_BYTES = 0;

/**
 * A read-only connection to an existing ledger file (reads, verification, subscriptions, the
 * CLI). A file SQLite cannot open is NOT_A_LEDGER.
 */
export function openReadConnection(path: string): Database.Database {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw LedgerError.of('NOT_A_LEDGER', { path, sqliteCode: (error as { code?: string }).code }, String((error as Error).message));
  }
  try {
    // Reading the schema reads page 1: a text file, a damaged header or another application's
    // database fails here, coded, rather than as a raw SqliteError from the first query.
    const events = db.prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'events'").pluck().get();
    if (events !== 1) throw LedgerError.of('NOT_A_LEDGER', { path, reason: 'no_events_table' }, `${path} is an SQLite database without a ledger in it`);
    db.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
  } catch (error) {
    db.close();
    throw walIndexRefusal(error, path) ?? openFailure(error, path);
  }
  return db;
}

/**
 * A WAL-mode file with no `-shm` beside it can be read only where SQLite may create that file
 * (better-sqlite3 is built without URI filenames, so `?immutable=1` is not available). Stele's
 * writer leaves a cleanly closed ledger in rollback mode, which needs none; a file closed in WAL
 * mode (by an older Stele, or by SQLite's own tools) and then put on read-only media gets this.
 */
function walIndexRefusal(error: unknown, path: string): LedgerError | undefined {
  if (!String((error as { code?: unknown }).code).startsWith('SQLITE_CANTOPEN') || !isWalModeFile(path) || existsSync(`${path}-shm`)) return undefined;
  return LedgerError.of(
    'FILE_NOT_WRITABLE',
    { path, reason: 'wal_index', sqliteCode: (error as { code?: string }).code },
    `${path} was last closed in WAL mode, and SQLite must create ${path}-shm to read it, which its folder does not allow: ` +
      'open and close it once with a writer where it is writable (a cleanly closed ledger then needs no -shm), or copy it to writable storage',
  );
}

/** Whether the file's header says WAL mode (bytes 18 and 19, the write and read versions, are 2). */
function isWalModeFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const versions = Buffer.alloc(2);
    return readSync(fd, versions, 0, 2, 18) === 2 && versions[0] === 2 && versions[1] === 2;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Closes the writer's connection, leaving a cleanly closed ledger readable on read-only media.
 * A WAL-mode file can be read only by a connection that can create its `-shm` (or finds one),
 * which a read-only mount or an unwritable folder does not allow. So when this is the file's
 * only connection, it switches the file to rollback mode first: SQLite checkpoints the whole WAL
 * into the file and syncs it, rewrites the header's two mode bytes in a journalled write, and
 * deletes `-wal` and `-shm` (each step crash-safe: SQLite recovers a WAL, or rolls back a hot
 * journal, at the next open). A read then needs no file beside the ledger. While any other
 * connection has the file open SQLite refuses the switch (SQLITE_BUSY, or the mode stays 'wal')
 * and the file stays as it was. The next writer switches back to WAL when it opens.
 */
export function closeWriteConnection(db: Database.Database): void {
  try {
    db.pragma('journal_mode = DELETE');
  } catch {
    // Another connection holds the file: it stays in WAL mode, as it always was before.
  }
  db.close();
}

/**
 * Pragmas of a read-write connection. `trusted_schema` must be ON for triggers to call app
 * functions; `recursive_triggers` ON so INSERT OR REPLACE fires the delete guard.
 */
export function configureWriterConnection(db: Database.Database, durability: 'full' | 'normal'): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('trusted_schema = ON');
  db.pragma('recursive_triggers = ON');
  db.pragma('foreign_keys = ON');
  // Statement journals in memory: a trigger's statement otherwise spills its journal to a temp
  // file, one pwrite per page touched.
  db.pragma('temp_store = MEMORY');
}

/** Settings of a read-write connection. */
export interface WriteConnectionSettings extends NativeFunctionSettings {
  durability: 'full' | 'normal';
  /** Create a ledger where there is no file or an empty one (default true); false: NOT_A_LEDGER. */
  create?: boolean;
}

/**
 * The read-write connection: WAL, the durability's `synchronous`, Stele's functions registered,
 * the file migrated to the current schema. The schema is pinned (schema-pin.ts) before the
 * migrations run, so that none builds on an edited rule, and after. The caller holds the writer lock.
 * A ledger is created only where there is no file or an empty one; any other file that is not a
 * ledger is refused untouched. Every failure is a coded LedgerError (ledger-file.ts `openFailure`).
 */
export function openWriteConnection(path: string, settings: WriteConnectionSettings): { db: Database.Database; schemaVersion: number } {
  let db: Database.Database | undefined;
  try {
    const state = ledgerFileState(path);
    if (state !== 'existing' && settings.create === false) {
      throw LedgerError.of('NOT_A_LEDGER', { path, reason: state }, state === 'missing' ? `no ledger file at ${path} and create: false` : `${path} is empty and create: false`);
    }
    requireSqliteHeader(path);
    db = new Database(path);
    // Read before anything is written: the journal mode pragma below already writes the header.
    requireLedgerSchema(db, path);
    configureWriterConnection(db, settings.durability);
    registerNativeFunctions(db, settings);
    assertPinnedSchema(db, schemaVersionOf(db));
    const schemaVersion = applyMigrations(db);
    assertPinnedSchema(db, schemaVersion);
    return { db, schemaVersion };
  } catch (error) {
    db?.close();
    throw openFailure(error, path);
  }
}

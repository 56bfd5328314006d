/**
 * Every connection Stele opens to a ledger file: read-only ones for reads, verification and
 * subscriptions, and the read-write one of a writer (or of a replica copy being written).
 * @internal
 */
import Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { applyMigrations, schemaVersionOf } from './migrations.ts';
import { registerNativeFunctions, type NativeFunctionSettings } from './native-functions.ts';
import { assertPinnedSchema } from './schema-pin.ts';

/**
 * Up to this many bytes of a ledger file are read through a memory map on read-only
 * connections: a read then costs no copy from the OS page cache into SQLite's own cache (point
 * reads at 1M events went from 14–18 µs to ~11 µs). SQLite caps it at its compile-time maximum
 * (2 GB). The read-write connection keeps ordinary I/O, so that an I/O error while writing is
 * an error code, never a signal.
 */
const READ_MMAP_BYTES = 2 ** 31;

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
    db.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
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
}

/** Settings of a read-write connection. */
export interface WriteConnectionSettings extends NativeFunctionSettings {
  durability: 'full' | 'normal';
}

/**
 * The read-write connection: WAL, the durability's `synchronous`, Stele's functions registered,
 * the file migrated to the current schema. The schema is pinned (schema-pin.ts) before the
 * migrations run, so that none builds on an edited rule, and after. The caller holds the writer lock.
 */
export function openWriteConnection(path: string, settings: WriteConnectionSettings): { db: Database.Database; schemaVersion: number } {
  const db = new Database(path);
  try {
    configureWriterConnection(db, settings.durability);
    registerNativeFunctions(db, settings);
    assertPinnedSchema(db, schemaVersionOf(db));
    const schemaVersion = applyMigrations(db);
    assertPinnedSchema(db, schemaVersion);
    return { db, schemaVersion };
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * Applies `native-sql/` to a ledger file and registers the SQL functions its triggers call.
 * Imported by the writer worker (and by specs that need a raw connection that can append).
 * @internal
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { LedgerErrorCode } from '../errors.ts';
import type { EncodedEvent } from '../writer/protocol.ts';
import { clearHaltBytes, eventHash, promoteReplicaBytes, signedBytesOf } from '../format/hash-bytes.ts';
import { HASHED_COLUMNS, SIGNED_COLUMNS } from '../format/columns.ts';
import { isValidPublicKey, verifyEd25519 } from '../format/ed25519.ts';

/** `lib/` and `dist/` sit at the same depth below the package root, beside `native-sql/`. */
export const NATIVE_SQL_DIR = fileURLToPath(new URL('../../native-sql/', import.meta.url));

/** One file of `native-sql/`: `NNN-name.sql`, applied in order of NNN. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

let cached: Migration[] | undefined;

/** The migrations shipped with this version of Stele, in order. */
export function migrations(): Migration[] {
  cached ??= readdirSync(NATIVE_SQL_DIR)
    .filter((file) => /^\d{3}-[a-z0-9-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 3)),
      name: file.slice(4, -4),
      sql: readFileSync(NATIVE_SQL_DIR + file, 'utf8'),
    }));
  return cached;
}

/** The schema version this build writes: the number of the last migration. */
export function currentSchemaVersion(): number {
  return migrations().at(-1)?.version ?? 0;
}

/**
 * Brings the file up to {@link currentSchemaVersion}, one transaction per migration, recording
 * the version in `PRAGMA user_version`. A file from a newer Stele is refused, never downgraded.
 */
export function applyMigrations(db: Database.Database): number {
  const from = db.pragma('user_version', { simple: true }) as number;
  const latest = currentSchemaVersion();
  if (from > latest) {
    throw new Error(`ledger schema version ${from} is newer than this Stele understands (${latest}); upgrade stele`);
  }
  for (const migration of migrations()) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      db.exec(migration.sql);
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
  }
  return latest;
}

/** Settings the triggers read through registered functions rather than from a table. */
export interface NativeFunctionSettings {
  driftThresholdMs: number;
}

/**
 * Registers the functions that `native-sql/` triggers call. Without them a connection can read
 * but cannot append: inserting into `events` does not even prepare.
 */
export function registerNativeFunctions(db: Database.Database, settings: NativeFunctionSettings): void {
  // One-entry memo: the events guard recomputes the hash the append view's trigger computed a
  // moment before, from the same values. The function is deterministic, so returning the previous
  // result for identical arguments is exactly what recomputing would give, at half the cost.
  let lastValues: unknown[] = [];
  let lastHash = '';
  db.function('stele_event_hash', { deterministic: true, varargs: true }, (...values: unknown[]) => {
    if (values.length === lastValues.length && values.every((value, i) => value === lastValues[i])) return lastHash;
    lastHash = eventHash(values);
    lastValues = values;
    return lastHash;
  });
  db.function('stele_drift_threshold_ms', { deterministic: true }, () => settings.driftThresholdMs);
  db.function('stele_public_key_valid', { deterministic: true }, (key: unknown) => (isValidPublicKey(key) ? 1 : 0));
  db.function('stele_signature_valid', { deterministic: true, varargs: true }, (key: unknown, signature: unknown, ...signed: unknown[]) => {
    if (signed.length !== SIGNED_COLUMNS.length) {
      throw new TypeError(`stele_signature_valid takes ${2 + SIGNED_COLUMNS.length} arguments, got ${2 + signed.length}`);
    }
    return verifyEd25519(key, signedBytesOf(signed), signature) ? 1 : 0;
  });
  db.function(
    'stele_clear_halt_signature_valid',
    { deterministic: true },
    (key: unknown, signature: unknown, haltSequence: unknown, haltHash: unknown, reason: unknown) =>
      verifyEd25519(key, clearHaltBytes(Number(haltSequence), String(haltHash), String(reason)), signature) ? 1 : 0,
  );
  db.function(
    'stele_promotion_signature_valid',
    { deterministic: true },
    (key: unknown, signature: unknown, replicaId: unknown, headSequence: unknown, headHash: unknown, reason: unknown) =>
      verifyEd25519(key, promoteReplicaBytes(String(replicaId), Number(headSequence), String(headHash), String(reason)), signature) ? 1 : 0,
  );
}

/**
 * Pragmas of the one read-write connection. `trusted_schema` must be ON for triggers to call
 * app functions; `recursive_triggers` ON so INSERT OR REPLACE fires the delete guard.
 */
export function configureWriterConnection(db: Database.Database, durability: 'full' | 'normal'): void {
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.pragma('trusted_schema = ON');
  db.pragma('recursive_triggers = ON');
  db.pragma('foreign_keys = ON');
}

/**
 * Up to this many bytes of a ledger file are read through a memory map on read-only
 * connections: a read then costs no copy from the OS page cache into SQLite's own cache (point
 * reads at 1M events went from 14–18 µs to ~11 µs). SQLite caps it at its compile-time maximum
 * (2 GB). The read-write connection keeps ordinary I/O, so that an I/O error while writing is
 * an error code, never a signal.
 */
const READ_MMAP_BYTES = 2 ** 31;

/** A read-only connection to an existing ledger file (reads, verification, subscriptions). */
export function openReadConnection(path: string): Database.Database {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`mmap_size = ${READ_MMAP_BYTES}`);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** The one way in: the append view, whose trigger assigns everything else. */
export const APPEND_SQL = `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
                                              agent_id, signature, local_timestamp, expected_version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Positional parameters bind measurably faster than named ones in better-sqlite3. */
export function appendArgs(event: EncodedEvent): unknown[] {
  return [
    event.eventId,
    event.streamId,
    event.type,
    event.payload,
    event.payloadMeta,
    event.metadata,
    event.metadataMeta,
    event.agentId,
    event.signature,
    event.localTimestamp,
    event.expectedVersion,
  ];
}

/**
 * What a trigger raised: a literal `STELE:CODE` or `STELE:CODE:<details>` (a JSON object, or a
 * bare word naming a field). Literal, because SQLite before 3.47 cannot load a schema whose RAISE
 * has an expression, and FORMAT.md promises the file reads with any SQLite.
 */
export function parseRaised(message: string): { code: LedgerErrorCode; details: Record<string, unknown> } | undefined {
  const match = /^STELE:([A-Z_]+)(?::(.*))?$/s.exec(message);
  if (!match) return undefined;
  const rest = match[2];
  const details: Record<string, unknown> = rest?.startsWith('{') ? (JSON.parse(rest) as Record<string, unknown>) : rest ? { field: rest } : {};
  return { code: match[1] as LedgerErrorCode, details };
}

/**
 * The pinned schema: a ledger file's live `sqlite_schema` must be exactly what Stele's own
 * `native-sql/` holds for the file's `user_version` (`schema/` for the current version, the
 * record in `pinned/` for an older one). Triggers enforce the format only
 * while they are the shipped ones: a `DROP TRIGGER` from the sqlite3 shell, or a `PRAGMA
 * writable_schema` rewrite of a trigger's text, switches a rule off (or makes the database store
 * something other than what the app sent) without touching a single row. So the expected schema
 * is built from the shipped files, never read from the ledger, and compared object by object.
 *
 * FORMAT.md "The pinned schema" describes the comparison for another verifier.
 * @internal
 */
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { registerNativeFunctions } from './native-functions.ts';
import { LedgerError } from '../errors.ts';
import { createSchema, currentSchemaVersion, isKnownSchemaVersion, NATIVE_SQL_DIR } from './migrations.ts';
import type { SchemaDiff } from './schema-diff.ts';

/** One row of `sqlite_schema`, its SQL normalised by {@link normaliseSql}. */
export interface SchemaObject {
  type: string;
  name: string;
  tblName: string;
  sql: string | null;
}

/**
 * Objects SQLite itself may create in any database, which change no rule: the statistics
 * tables `ANALYZE` / `PRAGMA optimize` write. Everything else in `sqlite_schema` is compared.
 */
const IGNORED = /^sqlite_stat\d$/;

/**
 * SQL text as a sequence of tokens separated by single spaces: whitespace and comments outside
 * literals are formatting and vanish; every token (keyword, identifier, literal, operator) is
 * kept verbatim, case included, so any change of a token is a difference.
 */
export function normaliseSql(sql: string): string {
  const tokens: string[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? n : end + 2;
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      // A quoted literal or identifier, doubled quotes included; ']' closes '['.
      const close = c === '[' ? ']' : c;
      let j = i + 1;
      for (;;) {
        if (j >= n) break;
        if (sql[j] === close) {
          if (close !== ']' && sql[j + 1] === close) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      tokens.push(sql.slice(i, j + 1));
      i = j + 1;
    } else if (/[A-Za-z0-9_$\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[j]!)) j++;
      tokens.push(sql.slice(i, j));
      i = j;
    } else {
      const two = sql.slice(i, i + 2);
      const op = ['<=', '>=', '<>', '!=', '==', '||', '<<', '>>', '->'].includes(two) ? (sql.slice(i, i + 3) === '->>' ? '->>' : two) : c;
      tokens.push(op);
      i += op.length;
    }
  }
  return tokens.join(' ');
}

/** The live schema of a connection, normalised, by name. */
export function liveSchema(db: Database.Database): Map<string, SchemaObject> {
  const rows = db
    .prepare<[], { type: string; name: string; tbl_name: string; sql: string | null }>('SELECT type, name, tbl_name, sql FROM sqlite_schema')
    .all();
  const objects = new Map<string, SchemaObject>();
  for (const row of rows) {
    if (IGNORED.test(row.name)) continue;
    objects.set(row.name, { type: row.type, name: row.name, tblName: row.tbl_name, sql: row.sql === null ? null : normaliseSql(row.sql) });
  }
  return objects;
}

const expectedByVersion = new Map<number, Map<string, SchemaObject>>();

/**
 * The schema Stele's own files give for `version`, once per version: for the current one built
 * from `schema/` on an in-memory database (Stele's functions registered, as on a ledger file),
 * for an older one the record `native-sql/pinned/<version>.json` (written by
 * spec/fixtures/pin-schema.ts when `schema/` moved on; a spec checks each against the files that
 * built that version).
 */
export function expectedSchema(version: number): Map<string, SchemaObject> {
  let expected = expectedByVersion.get(version);
  if (expected) return expected;
  if (!isKnownSchemaVersion(version)) throw unsupportedFormat(version);
  if (version === currentSchemaVersion()) {
    const db = new Database(':memory:');
    try {
      registerNativeFunctions(db, { driftThresholdMs: 0 });
      createSchema(db);
      expected = liveSchema(db);
    } finally {
      db.close();
    }
  } else {
    const pinned = JSON.parse(readFileSync(pinnedSchemaPath(version), 'utf8')) as SchemaObject[];
    expected = new Map(pinned.map((object) => [object.name, object]));
  }
  expectedByVersion.set(version, expected);
  return expected;
}

/** Where the schema of an older `version` is recorded. */
export function pinnedSchemaPath(version: number): string {
  return `${NATIVE_SQL_DIR}pinned/${version}.json`;
}

/** How the live schema of `db` differs from the shipped schema of `version`. */
export function schemaDiff(db: Database.Database, version: number): SchemaDiff {
  const expected = expectedSchema(version);
  const live = liveSchema(db);
  const diff: SchemaDiff = { added: [], missing: [], changed: [] };
  for (const [name, object] of live) {
    const want = expected.get(name);
    if (!want) diff.added.push(name);
    else if (want.type !== object.type || want.tblName !== object.tblName || want.sql !== object.sql) diff.changed.push(name);
  }
  for (const name of expected.keys()) if (!live.has(name)) diff.missing.push(name);
  diff.added.sort();
  diff.missing.sort();
  diff.changed.sort();
  return diff;
}

/** True when the diff is empty. */
export function schemaMatches(diff: SchemaDiff): boolean {
  return diff.added.length === 0 && diff.missing.length === 0 && diff.changed.length === 0;
}

/** UNSUPPORTED_FORMAT for a `user_version` no shipped upgrade step has. */
export function unsupportedFormat(version: number): LedgerError {
  return LedgerError.of(
    'UNSUPPORTED_FORMAT',
    { userVersion: version, supported: currentSchemaVersion() },
    `PRAGMA user_version is ${version}; this Stele knows 1 to ${currentSchemaVersion()}`,
  );
}

/**
 * Refuses a file whose schema is not the pinned one for its `user_version`: UNSUPPORTED_FORMAT
 * for a version this Stele does not know, SCHEMA_MISMATCH (details: `userVersion`, `added`,
 * `missing`, `changed`) for any other difference. A new, empty file (version 0, no object) passes.
 */
export function assertPinnedSchema(db: Database.Database, version: number): void {
  if (version === 0 && liveSchema(db).size === 0) return;
  if (!isKnownSchemaVersion(version)) throw unsupportedFormat(version);
  const diff = schemaDiff(db, version);
  if (schemaMatches(diff)) return;
  const names = [...diff.added.map((n) => `+${n}`), ...diff.missing.map((n) => `-${n}`), ...diff.changed.map((n) => `~${n}`)];
  throw LedgerError.of('SCHEMA_MISMATCH', { userVersion: version, ...diff }, names.join(' '));
}

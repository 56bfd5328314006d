/**
 * The schema shipped in `native-sql/`, and bringing a file to it.
 *
 * - `native-sql/schema/N-concern.sql`: the current schema, each table, index, view and trigger
 *   defined once, in the file of its concern, applied in order of N to a new file.
 * - `native-sql/upgrades/NNN-name.sql`: the step that took files from version NNN-1 to NNN.
 *   Steps up to 007 are the full migrations of those versions as they shipped; later steps change
 *   only tables and rows. A file of an older version runs every later step, then has its triggers
 *   and views replaced by `schema/`'s, so an upgraded file and a new one have the same schema (a
 *   spec compares them).
 * - `native-sql/pinned/N.json`: the schema a file of each older version N must have
 *   (schema-pin.ts), recorded when `schema/` moved on from it.
 * @internal
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { packageFile, packageFilesMissing } from '../runtime/worker-script.ts';
import { registerNativeFunctions } from './native-functions.ts';

/** `lib/` and `dist/` sit at the same depth below the package root; no URL in a CommonJS bundle. */
const NATIVE_SQL_URL = packageFile('../native-sql/');

/** `native-sql/` of this package ('' where Stele cannot know it: see {@link upgrades}). */
export const NATIVE_SQL_DIR = NATIVE_SQL_URL === undefined ? '' : fileURLToPath(NATIVE_SQL_URL);

/** One file of `native-sql/upgrades/`: `NNN-name.sql`, applied in order of NNN. */
export interface Upgrade {
  version: number;
  name: string;
  sql: string;
}

let cachedUpgrades: Upgrade[] | undefined;
let cachedSchema: string[] | undefined;

/** The SQL files of one `native-sql/` folder whose names match, in numeric order of their prefix. */
function sqlFiles(folder: string, name: RegExp): { file: string; sql: string }[] {
  // A bundle that inlined Stele has no native-sql/ beside it: say so, not ENOENT.
  if (NATIVE_SQL_URL === undefined || !existsSync(NATIVE_SQL_URL)) throw packageFilesMissing('native-sql/', NATIVE_SQL_URL);
  const dir = `${NATIVE_SQL_DIR}${folder}/`;
  return readdirSync(dir)
    .filter((file) => name.test(file))
    .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
    .map((file) => ({ file, sql: readFileSync(dir + file, 'utf8') }));
}

/** The upgrade steps shipped with this version of Stele, in order. */
export function upgrades(): Upgrade[] {
  cachedUpgrades ??= sqlFiles('upgrades', /^\d{3}-[a-z0-9-]+\.sql$/).map(({ file, sql }) => ({
    version: Number(file.slice(0, 3)),
    name: file.slice(4, -4),
    sql,
  }));
  return cachedUpgrades;
}

/** The files of `native-sql/schema/`, in the order a new file applies them. */
export function schemaSql(): string[] {
  cachedSchema ??= sqlFiles('schema', /^\d+-[a-z0-9-]+\.sql$/).map(({ sql }) => sql);
  return cachedSchema;
}

/** The schema version this build writes: the number of the last upgrade step. */
export function currentSchemaVersion(): number {
  return upgrades().at(-1)?.version ?? 0;
}

/** Whether this Stele knows the schema version: a shipped upgrade step has exactly that number. */
export function isKnownSchemaVersion(version: number): boolean {
  return upgrades().some((upgrade) => upgrade.version === version);
}

/** The file's schema version, as recorded in `PRAGMA user_version` (0 for a new file). */
export function schemaVersionOf(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Builds the current schema, `schema/` in order, on a connection with no objects. */
export function createSchema(db: Database.Database): void {
  for (const sql of schemaSql()) db.exec(sql);
}

/**
 * Brings the file up to {@link currentSchemaVersion}, recording the version in `PRAGMA
 * user_version`: a new file in one transaction from `schema/`; an older one one step per
 * transaction, the last of which also replaces its triggers and views with `schema/`'s. A file
 * from a newer Stele is refused, never downgraded.
 */
export function applyMigrations(db: Database.Database): number {
  const from = schemaVersionOf(db);
  const latest = currentSchemaVersion();
  if (from > latest) {
    throw LedgerError.of('UNSUPPORTED_FORMAT', { userVersion: from, supported: latest }, `ledger schema version ${from} is newer than this Stele understands (${latest}); upgrade stele`);
  }
  if (from === latest) return latest;
  if (from === 0) {
    db.transaction(() => {
      createSchema(db);
      fillAppendState(db);
      db.pragma(`user_version = ${latest}`);
    }).immediate();
    return latest;
  }
  for (const upgrade of upgrades()) {
    if (upgrade.version <= from) continue;
    db.transaction(() => {
      db.exec(upgrade.sql);
      if (upgrade.version === latest) {
        replaceRules(db);
        fillAppendState(db);
      }
      db.pragma(`user_version = ${upgrade.version}`);
    }).immediate();
  }
  return latest;
}

/**
 * The one row of `append_state` (schema/11-append-rules.sql), derived from the tables it
 * describes; its guard refuses any other. A table holds rows, not rules, so `schema/` creates it
 * empty and this fills it, for a new file and an upgraded one alike.
 */
function fillAppendState(db: Database.Database): void {
  db.prepare(
    `INSERT INTO append_state (id, halted, typed, signatures_required)
     SELECT 1, halted, typed, signatures_required FROM append_state_derived WHERE NOT EXISTS (SELECT 1 FROM append_state)`,
  ).run();
}

/**
 * The last step of an upgrade: every trigger and view of the file is dropped, and `schema/`'s
 * created in its order (the order SQLite fires triggers in: the newest first), with any table or
 * index of `schema/` the file lacks. Their text is taken from a new schema built in memory, so
 * it is byte for byte what a new file holds.
 */
function replaceRules(db: Database.Database): void {
  const fresh = new Database(':memory:');
  let objects: { type: string; name: string; sql: string }[];
  try {
    registerNativeFunctions(fresh, { driftThresholdMs: 0 });
    createSchema(fresh);
    objects = fresh.prepare<[], { type: string; name: string; sql: string }>('SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid').all();
  } finally {
    fresh.close();
  }
  const existing = db.prepare<[], { type: string; name: string }>('SELECT type, name FROM sqlite_schema').all();
  // A view's INSTEAD OF triggers go with it: IF EXISTS.
  for (const { type, name } of existing) {
    if (type === 'trigger' || type === 'view') db.exec(`DROP ${type.toUpperCase()} IF EXISTS "${name.replaceAll('"', '""')}"`);
  }
  const kept = new Set(existing.filter(({ type }) => type === 'table' || type === 'index').map(({ name }) => name));
  for (const { name, sql } of objects) if (!kept.has(name)) db.exec(sql);
}

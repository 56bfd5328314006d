/**
 * The schema shipped in `native-sql/`: its migrations, in order, and applying them to a file.
 * @internal
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { packageFile, packageFilesMissing } from '../runtime/worker-script.ts';

/** `lib/` and `dist/` sit at the same depth below the package root; no URL in a CommonJS bundle. */
const NATIVE_SQL_URL = packageFile('../native-sql/');

/** `native-sql/` of this package ('' where Stele cannot know it: see {@link migrations}). */
export const NATIVE_SQL_DIR = NATIVE_SQL_URL === undefined ? '' : fileURLToPath(NATIVE_SQL_URL);

/** One file of `native-sql/`: `NNN-name.sql`, applied in order of NNN. */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

let cached: Migration[] | undefined;

/** The migrations shipped with this version of Stele, in order. */
export function migrations(): Migration[] {
  // A bundle that inlined Stele has no native-sql/ beside it: say so, not ENOENT.
  if (cached === undefined && (NATIVE_SQL_URL === undefined || !existsSync(NATIVE_SQL_URL))) throw packageFilesMissing('native-sql/', NATIVE_SQL_URL);
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

/** The file's schema version, as recorded in `PRAGMA user_version` (0 for a new file). */
export function schemaVersionOf(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the file up to {@link currentSchemaVersion}, one transaction per migration, recording
 * the version in `PRAGMA user_version`. A file from a newer Stele is refused, never downgraded.
 */
export function applyMigrations(db: Database.Database): number {
  const from = schemaVersionOf(db);
  const latest = currentSchemaVersion();
  if (from > latest) {
    throw LedgerError.of('UNSUPPORTED_FORMAT', { userVersion: from, supported: latest }, `ledger schema version ${from} is newer than this Stele understands (${latest}); upgrade stele`);
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

/**
 * {@link installPostgresLedger}: native-sql/postgres/stele.sql and one ledger's schema, from
 * TypeScript. The same as `psql -f native-sql/postgres/stele.sql -c "SELECT stele.create_ledger('name')"`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NATIVE_SQL_DIR } from '../sqlite/migrations.ts';
import { poolFor, requireLedgerName, type PostgresConnection } from './postgres-client.ts';

/**
 * Options of {@link installPostgresLedger}.
 *
 * @example
 * ```ts
 * await installPostgresLedger(superuserUrl, { ledger: 'edge_berlin', appRole: 'stele_app' });
 * ```
 */
export interface InstallPostgresLedgerOptions {
  /** The ledger's name, which is also its schema: a lowercase SQL identifier. */
  ledger: string;
  /** NOLOGIN role that owns the ledger's objects; default `<ledger>_owner`. Created when missing. */
  ownerRole?: string;
  /** Role that may SELECT and INSERT (what a replicator needs); default `<ledger>_app`. */
  appRole?: string;
  /** Role that may SELECT (auditors, {@link openPostgresReplica}); default `<ledger>_reader`. */
  readerRole?: string;
}

/**
 * What {@link installPostgresLedger} set up. `signatures` is `verified` when the database checks
 * ed25519 (plpython3u with PyNaCl); `unavailable` means every row that needs a signature or key
 * check (signed events, key registrations, ceremonies, stored checkpoints) will be refused by
 * this database.
 *
 * @example
 * ```ts
 * const { signatures } = await installPostgresLedger(url, { ledger: 'audit' });
 * if (signatures === 'unavailable') console.warn('install postgresql-plpython3-15 and python3-nacl to replicate signed events');
 * ```
 */
export interface PostgresLedgerInstallation {
  ledger: string;
  ownerRole: string;
  appRole: string;
  readerRole: string;
  signatures: 'verified' | 'unavailable';
  /** False when schema `stele` was there already (another ledger of the same database installed it). */
  installedShared: boolean;
}

/** Path of the SQL file that creates schema `stele` (once per database). */
export const POSTGRES_SQL_PATH = join(NATIVE_SQL_DIR, 'postgres', 'stele.sql');

/**
 * Creates a ledger in a PostgreSQL database, as a superuser: schema `stele` (shared functions,
 * stele_verify, the DDL guard) when the database does not have it yet, then the ledger's own
 * schema, tables, triggers and roles. A ledger's name is its schema; several ledgers share one
 * database. Grant the roles to login roles afterwards, e.g. `GRANT edge_berlin_app TO replicator`.
 *
 * @example
 * ```ts
 * import { installPostgresLedger } from 'stele/postgres';
 * await installPostgresLedger('postgres://postgres@db.internal/audit', { ledger: 'edge_berlin' });
 * // psql: GRANT edge_berlin_app TO replicator; GRANT edge_berlin_reader TO auditor;
 * ```
 */
export async function installPostgresLedger(connection: PostgresConnection, options: InstallPostgresLedgerOptions): Promise<PostgresLedgerInstallation> {
  if (typeof options !== 'object' || options === null) throw new TypeError("installPostgresLedger options must be an object, e.g. { ledger: 'audit' }");
  const ledger = requireLedgerName(options.ledger, 'installPostgresLedger');
  for (const name of ['ownerRole', 'appRole', 'readerRole'] as const) {
    const role = options[name];
    if (role !== undefined && (typeof role !== 'string' || role.length === 0 || role.length > 63)) throw new TypeError(`${name} must be a role name (1 to 63 characters)`);
  }
  const { pool, owned } = await poolFor(connection, 'installPostgresLedger');
  try {
    const session = await pool.connect();
    try {
      const present = (await session.query(`SELECT to_regnamespace('stele') IS NOT NULL AS present`)).rows[0]!.present === true;
      // Simple-query protocol: the file is several statements in one transaction of its own.
      if (!present) await session.query(readFileSync(POSTGRES_SQL_PATH, 'utf8'));
      await session.query('SELECT stele.create_ledger($1, $2, $3, $4)', [ledger, options.ownerRole ?? null, options.appRole ?? null, options.readerRole ?? null]);
      const facts = (
        await session.query(
          'SELECT owner_role, app_role, reader_role, stele.crypto_available() AS crypto FROM stele.ledgers WHERE name = $1',
          [ledger],
        )
      ).rows[0]!;
      return {
        ledger,
        ownerRole: facts.owner_role as string,
        appRole: facts.app_role as string,
        readerRole: facts.reader_role as string,
        signatures: facts.crypto === true ? 'verified' : 'unavailable',
        installedShared: !present,
      };
    } finally {
      session.release();
    }
  } finally {
    if (owned) await pool.end();
  }
}

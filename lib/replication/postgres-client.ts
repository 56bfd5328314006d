/**
 * The slice of node-postgres (`pg`) that Stele's PostgreSQL replicas use, loaded on first use so
 * that SQLite-only users install nothing more (`pg` is an optional peer dependency), plus what
 * the replicator, the replica reader and the installer share: naming a ledger's schema, turning
 * rows into {@link EventRow}s and errors raised by the triggers into {@link LedgerError}s.
 * @internal
 */
import type { EventRow } from '../format/columns.ts';
import { LedgerError } from '../errors.ts';
import { raisedError } from '../sqlite/append-statement.ts';

/** What Stele asks of a connection: kysely-style, the subset of `pg.Pool` it calls. */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}

/** A pooled session, for a transaction. */
export interface PostgresSession extends PostgresQueryable {
  release(destroy?: boolean | Error): void;
}

/** A pool (`pg.Pool` or anything shaped like it). */
export interface PostgresPool extends PostgresQueryable {
  connect(): Promise<PostgresSession>;
  end(): Promise<void>;
}

/**
 * Where a PostgreSQL ledger lives: a connection string (`postgres://user@host:5432/db`), the
 * options of a `pg.Pool`, or a pool you made and keep (Stele then never ends it).
 *
 * @example
 * ```ts
 * const replica = await openPostgresReplica('postgres://auditor@db.internal/audit', { ledger: 'edge_berlin' });
 * const same = await openPostgresReplica({ host: 'db.internal', user: 'auditor', database: 'audit' }, { ledger: 'edge_berlin' });
 * ```
 */
export type PostgresConnection = string | PostgresConnectionOptions | PostgresPool;

/** The `pg.Pool` options Stele passes through (any other `pg.Pool` option works too). */
export interface PostgresConnectionOptions {
  connectionString?: string;
  host?: string;
  port?: number;
  user?: string;
  password?: string;
  database?: string;
  /** Sessions in the pool; Stele needs at most 2. */
  max?: number;
  [option: string]: unknown;
}

/** A pool for `connection`, and whether Stele made it (and so ends it on close). */
export async function poolFor(connection: PostgresConnection, what: string): Promise<{ pool: PostgresPool; owned: boolean }> {
  if (isPool(connection)) return { pool: connection, owned: false };
  const config = typeof connection === 'string' ? { connectionString: connection } : connection;
  let pg: { Pool: new (config: object) => PostgresPool };
  try {
    const module = (await import('pg')) as unknown as { default?: typeof pg } & typeof pg;
    pg = module.default ?? module;
  } catch (error) {
    throw new Error(`${what} needs the 'pg' package (node-postgres), an optional peer dependency of stele: npm install pg`, { cause: error });
  }
  const pool = new pg.Pool({ max: 2, ...config });
  // An idle session that the server drops must not crash the process: the next query reconnects.
  (pool as unknown as { on?: (event: string, listener: (error: Error) => void) => void }).on?.('error', () => {});
  return { pool, owned: true };
}

function isPool(value: unknown): value is PostgresPool {
  return typeof value === 'object' && value !== null && typeof (value as PostgresPool).query === 'function' && typeof (value as PostgresPool).connect === 'function';
}

const LEDGER_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

/** Throws a TypeError unless `ledger` can name a ledger's schema (what stele.create_ledger accepts). */
export function requireLedgerName(ledger: unknown, what: string): string {
  if (typeof ledger !== 'string' || !LEDGER_NAME.test(ledger) || ledger === 'stele' || ledger === 'public' || ledger.startsWith('pg_')) {
    throw new TypeError(`${what}: ledger must be a lowercase SQL identifier (a-z, 0-9, _; at most 48 characters, not stele, public or pg_*), e.g. { ledger: 'edge_berlin' }`);
  }
  return ledger;
}

/** The column list of `events` in hash order, then content_hash, as in SQLite. */
export const PG_EVENT_COLUMNS =
  'sequence, event_id, stream_id, stream_version, type, payload, payload_meta, metadata, metadata_meta, agent_id, signature, local_timestamp, authority_timestamp, prev_hash, content_hash';

/** The PostgreSQL type of each column of {@link PG_EVENT_COLUMNS}, for unnest(). */
export const PG_EVENT_TYPES = ['bigint', 'text', 'text', 'bigint', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'bigint', 'bigint', 'text', 'text'];

const INTEGER_COLUMNS = ['sequence', 'stream_version', 'local_timestamp', 'authority_timestamp'] as const;

/** A row as pg returns it (bigint as text) as the {@link EventRow} SQLite would give. */
export function eventRowOf(row: Record<string, unknown>): EventRow {
  const out = { ...row } as Record<string, unknown>;
  for (const column of INTEGER_COLUMNS) out[column] = Number(row[column]);
  return out as unknown as EventRow;
}

/** The sequence a trigger named in its error's DETAIL, if any. */
export function raisedSequence(error: unknown): number | undefined {
  const detail = (error as { detail?: unknown }).detail;
  if (typeof detail !== 'string' || !detail.startsWith('{')) return undefined;
  try {
    const sequence = (JSON.parse(detail) as { sequence?: unknown }).sequence;
    return typeof sequence === 'number' ? sequence : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A row the copy's triggers refused: one that does not extend the copy's chain (its sequence or
 * link is not the copy's next) is divergence; anything else a failed replication naming the row
 * and the guard, as for replica files.
 */
export function refusalOf(error: unknown, sequence: number | undefined, replicaId: string): LedgerError {
  const message = error instanceof Error ? error.message : String(error);
  const raised = raisedError(error);
  if (raised?.code === 'APPEND_ONLY_VIOLATION' && (raised.details.field === 'prev_hash' || raised.details.field === 'sequence')) {
    return LedgerError.of('REPLICA_DIVERGED', { replicaId, sequence, guard: raised.details.field });
  }
  if (raised) return LedgerError.of('REPLICATION_FAILED', { replicaId, sequence, guard: raised.code, ...raised.details });
  return LedgerError.of('REPLICATION_FAILED', { replicaId, ...(sequence !== undefined ? { sequence } : {}) }, message);
}

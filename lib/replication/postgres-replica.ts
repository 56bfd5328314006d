/**
 * {@link openPostgresReplica}: reading and verifying a ledger copied into PostgreSQL.
 */
import { requireInteger } from '../arguments.ts';
import { describeValue, LedgerError } from '../errors.ts';
import type { LedgerEvent, LedgerHead } from '../event.ts';
import type { EventRow } from '../format/columns.ts';
import { decodeRow } from '../format/event-decoding.ts';
import type { VerifyFault, VerifyFaultReason } from '../verify/verify-fault.ts';
import type { VerifyResult } from '../verify/verify-ledger-file.ts';
import { eventRowOf, PG_EVENT_COLUMNS, poolFor, requireLedgerName, type PostgresConnection, type PostgresPool } from './postgres-client.ts';

/**
 * Options of {@link openPostgresReplica}.
 *
 * @example
 * ```ts
 * const replica = await openPostgresReplica(process.env.AUDIT_DB_URL!, { ledger: 'edge_berlin' });
 * ```
 */
export interface PostgresReplicaOptions {
  /** The ledger's name in that database (its schema). */
  ledger: string;
}

/**
 * A ledger copied into PostgreSQL, read-only: the read API of a ledger (asynchronous here, as
 * every read is a query) and a verification that runs inside PostgreSQL (`stele.stele_verify`).
 * A role granted `<ledger>_reader` is enough. Values decode exactly as from the SQLite primary.
 *
 * @example
 * ```ts
 * const replica = await openPostgresReplica('postgres://auditor@hub.internal/audit', { ledger: 'edge_berlin' });
 * const { ok, firstBad } = await replica.verify();
 * for (const event of await replica.readStream('order-42')) console.log(event.streamVersion, event.type, event.payload);
 * await replica.close();
 * ```
 */
export class PostgresReplica {
  /** The ledger's schema in PostgreSQL. */
  readonly ledger: string;
  readonly #pool: PostgresPool;
  readonly #owned: boolean;
  readonly #select: string;
  #closed = false;

  /** @internal Use {@link openPostgresReplica}. */
  constructor(pool: PostgresPool, owned: boolean, ledger: string) {
    this.#pool = pool;
    this.#owned = owned;
    this.ledger = ledger;
    this.#select = `SELECT ${PG_EVENT_COLUMNS} FROM "${ledger}".events`;
  }

  /** @internal The stored rows after `after`, at most `limit`, in sequence order: what a restore copies verbatim. */
  async rowsAfter(after: number, limit: number): Promise<EventRow[]> {
    return (await this.#query(`${this.#select} WHERE sequence > $1 ORDER BY sequence LIMIT $2`, [after, limit])).map(eventRowOf);
  }

  /** The event at `sequence`, or undefined. */
  async get(sequence: number): Promise<LedgerEvent | undefined> {
    requireInteger('sequence', sequence, 1);
    return (await this.#rows(`${this.#select} WHERE sequence = $1`, [sequence]))[0];
  }

  /** The event with this `eventId`, or undefined. */
  async getByEventId(eventId: string): Promise<LedgerEvent | undefined> {
    if (typeof eventId !== 'string') throw new TypeError(`eventId must be a string, got ${describeValue(eventId)}`);
    return (await this.#rows(`${this.#select} WHERE event_id = $1`, [eventId]))[0];
  }

  /** Events in sequence order, from `from` (default 1), at most `limit` (default all). */
  async readAll(options: { from?: number; limit?: number } = {}): Promise<LedgerEvent[]> {
    const from = options.from === undefined ? 1 : requireInteger('from', options.from, 1);
    const limit = options.limit === undefined ? null : requireInteger('limit', options.limit, 0);
    return this.#rows(`${this.#select} WHERE sequence >= $1 ORDER BY sequence LIMIT $2`, [from, limit]);
  }

  /** A stream's events in version order; STREAM_NOT_FOUND when the stream has none. */
  async readStream(streamId: string, options: { fromVersion?: number; limit?: number } = {}): Promise<LedgerEvent[]> {
    if (typeof streamId !== 'string') throw new TypeError(`streamId must be a string, got ${describeValue(streamId)}`);
    const fromVersion = options.fromVersion === undefined ? 0 : requireInteger('fromVersion', options.fromVersion, 0);
    const limit = options.limit === undefined ? null : requireInteger('limit', options.limit, 0);
    const events = await this.#rows(`${this.#select} WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3`, [
      streamId,
      fromVersion,
      limit,
    ]);
    if (events.length === 0 && (await this.streamVersion(streamId)) === undefined) throw LedgerError.of('STREAM_NOT_FOUND', { streamId });
    return events;
  }

  /** The version of a stream's newest event, or undefined for a stream with none. */
  async streamVersion(streamId: string): Promise<number | undefined> {
    const row = (await this.#query(`SELECT max(stream_version) AS v FROM "${this.ledger}".events WHERE stream_id = $1`, [streamId]))[0];
    return row?.v == null ? undefined : Number(row.v);
  }

  /** The newest event's place in the chain; undefined while the copy is empty. */
  async head(): Promise<LedgerHead | undefined> {
    const row = (await this.#query(`SELECT sequence, content_hash FROM "${this.ledger}".events ORDER BY sequence DESC LIMIT 1`))[0];
    return row ? { sequence: Number(row.sequence), contentHash: row.content_hash as string } : undefined;
  }

  /**
   * Verifies the copy inside PostgreSQL, as `SELECT * FROM stele.stele_verify(ledger, to)` does
   * from psql: continuity, links, stream versions, content hashes and signatures (against the
   * keys the chain itself registered), with the reasons {@link verifyLedgerFile} gives. `to`
   * claims that rows up to it exist, e.g. the primary's head.
   */
  async verify(options: { to?: number } = {}): Promise<VerifyResult> {
    const to = options.to === undefined ? null : requireInteger('to', options.to, 1);
    const row = (await this.#query('SELECT * FROM stele.stele_verify($1, $2)', [this.ledger, to]))[0]!;
    if (row.ok === true) return { ok: true, checked: Number(row.checked) };
    const firstBad: VerifyFault = {
      sequence: Number(row.sequence),
      reason: row.reason as VerifyFaultReason,
      ...(row.expected !== null ? { expected: numeric(row.expected as string) } : {}),
      ...(row.actual !== null ? { actual: numeric(row.actual as string) } : {}),
      ...(row.detail !== null ? { detail: row.detail as string } : {}),
    };
    return { ok: false, checked: Number(row.checked), firstBad };
  }

  /** Ends the connections Stele opened (a pool passed in stays open). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#owned) await this.#pool.end();
  }

  async #query(text: string, values?: unknown[]): Promise<Record<string, unknown>[]> {
    if (this.#closed) throw LedgerError.of('LEDGER_CLOSED', { ledger: this.ledger });
    return (await this.#pool.query(text, values)).rows;
  }

  async #rows(text: string, values: unknown[]): Promise<LedgerEvent[]> {
    return (await this.#query(text, values)).map((row) => decodeRow(eventRowOf(row)));
  }
}

/**
 * Opens a ledger copied into PostgreSQL (by a {@link PostgresReplicator}) for reading and
 * verifying. Fails with NOT_A_LEDGER when the database holds no ledger of that name.
 *
 * @example
 * ```ts
 * import { openPostgresReplica } from 'stele/postgres';
 * const replica = await openPostgresReplica('postgres://auditor@hub.internal/audit', { ledger: 'edge_berlin' });
 * console.log(await replica.head(), await replica.verify());
 * ```
 */
export async function openPostgresReplica(connection: PostgresConnection, options: PostgresReplicaOptions): Promise<PostgresReplica> {
  if (typeof options !== 'object' || options === null) throw new TypeError("openPostgresReplica options must be an object, e.g. { ledger: 'audit' }");
  const ledger = requireLedgerName(options.ledger, 'openPostgresReplica');
  const { pool, owned } = await poolFor(connection, 'openPostgresReplica');
  try {
    const installed = (await pool.query(`SELECT to_regclass('stele.ledgers') IS NOT NULL AS installed`)).rows[0]!.installed === true;
    const known = installed && (await pool.query('SELECT 1 FROM stele.ledgers WHERE name = $1', [ledger])).rows.length === 1;
    if (!known) throw LedgerError.of('NOT_A_LEDGER', { ledger }, `the database has no Stele ledger '${ledger}'`);
  } catch (error) {
    if (owned) await pool.end();
    throw error;
  }
  return new PostgresReplica(pool, owned, ledger);
}

/** stele_verify reports values as text; sequences and versions read back as numbers, as verifyLedgerFile gives them. */
function numeric(text: string): string | number {
  return /^-?\d{1,15}$/.test(text) ? Number(text) : text;
}

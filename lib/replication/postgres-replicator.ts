/**
 * {@link PostgresReplicator}: a copy of the ledger in PostgreSQL, whose own triggers
 * (native-sql/postgres/stele.sql) re-check every row it receives.
 */
import { resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { EVENT_COLUMNS, GENESIS_HASH } from '../format/columns.ts';
import { describeValue, LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';
import {
  PG_EVENT_COLUMNS,
  PG_EVENT_TYPES,
  poolFor,
  raisedSequence,
  refusalOf,
  requireLedgerName,
  type PostgresConnection,
  type PostgresPool,
  type PostgresQueryable,
} from './postgres-client.ts';
import type { VerifyFault, VerifyFaultReason } from '../verify/verify-fault.ts';
import type { PrimarySource, ReplicationReceipt, Replicator, VerificationResult } from './replicator.ts';

/**
 * Options of {@link PostgresReplicator}.
 *
 * @example
 * ```ts
 * new PostgresReplicator('postgres://replicator@hub.internal/audit', { ledger: 'edge_berlin', id: 'hub' });
 * ```
 */
export interface PostgresReplicatorOptions {
  /** The ledger's name in that database (its schema), as given to {@link installPostgresLedger}. */
  ledger: string;
  /** Names the copy in receipts and health; defaults to `postgres:<ledger>`. */
  id?: string;
  /** Rows per transaction (one durable COMMIT each; a crash loses at most the one in progress). Default 10,000. */
  transactionRows?: number;
  /** Rows per INSERT statement within a transaction. Default 1,000. */
  statementRows?: number;
}

/** The advisory-lock namespace the trigger uses ('Stel'), with the events table's oid as key. */
const LOCK_NAMESPACE = 1400136044;

/**
 * SQLite schema versions whose rows a PostgreSQL copy of a given version can hold: schema 5 added
 * only the Merkle nodes, which are derived from the rows (a PostgreSQL copy keeps the rows and the
 * chain; its tree is not mirrored yet); schema 6 added ceremony rules (independent witnesses) that
 * the primary enforces before a row reaches the copy, while the copy re-checks the schema-4 rules;
 * schema 7 added only an index. Schema 8 added the taxonomy in the chain ('$types' rows), which a
 * copy of version 4 would refuse: a primary of schema 8 needs a copy of version 8. Schema 9 changed
 * only which Merkle nodes the file keeps. Schema 10 added stored checkpoints ('$checkpoints'
 * rows), which a copy of version 8 would refuse: a primary of schema 10 needs a copy of version 10,
 * which also holds the rows of primaries of schema 8 and 9 (they never write that stream). The
 * copy checks a checkpoint's shape, log key, origin, size and log signature; its root at that
 * size is the primary's check, as the copy keeps no Merkle tree (and verifyLedgerFile's on a
 * file restored from the copy). Schema 11 changed only how the triggers reach the same rules.
 */
const SAME_EVENT_RULES: ReadonlyMap<number, readonly number[]> = new Map([
  [4, [4, 5, 6, 7]],
  [8, [8, 9]],
  [10, [8, 9, 10, 11]],
]);

/**
 * Keeps a copy of the ledger in a PostgreSQL database, in the ledger's own schema there (install
 * it first with {@link installPostgresLedger}). Rows arrive verbatim, hashes included, and the
 * copy's triggers recompute each content hash and re-check the chain, stream versions, reserved
 * streams, halts, ceremonies and signatures, so the copy can only ever be a
 * prefix of its primary. Each propagation starts from the copy's head as PostgreSQL holds it
 * (so it resumes after a crash of either side), copies the newer rows in transactions and
 * confirms only after COMMIT with `synchronous_commit = on`. A copy whose row differs from the
 * primary's is REPLICA_DIVERGED (the first differing sequence, found by bisection) and is never
 * written to; one ahead of its primary is REPLICA_AHEAD; a row the copy's triggers refuse is
 * REPLICA_DIVERGED when it does not extend the copy's chain, and REPLICATION_FAILED naming the
 * guard otherwise. Connect as a role granted `<ledger>_app` (SELECT and INSERT only).
 *
 * Requires the optional peer dependency `pg` (node-postgres), loaded on first use.
 *
 * @example
 * ```ts
 * import { openLedger } from 'stele';
 * import { PostgresReplicator } from 'stele/postgres';
 * const ledger = await openLedger('edge.db', {
 *   replicas: [new PostgresReplicator('postgres://replicator@hub.internal/audit', { ledger: 'edge_berlin' })],
 *   replication: 'async', // or 'sync': append() resolves once PostgreSQL committed the event
 * });
 * ```
 */
export class PostgresReplicator implements Replicator {
  readonly id: string;
  /** The ledger's schema in PostgreSQL. */
  readonly ledger: string;
  readonly #connection: PostgresConnection;
  readonly #transactionRows: number;
  readonly #statementRows: number;
  readonly #table: string;
  #primaryPath: string | undefined;
  #primary: Database.Database | undefined;
  #pool: Promise<{ pool: PostgresPool; owned: boolean }> | undefined;
  #lastSequence = 0;

  constructor(connection: PostgresConnection, options: PostgresReplicatorOptions) {
    if (typeof connection !== 'string' && (typeof connection !== 'object' || connection === null)) {
      throw new TypeError('PostgresReplicator needs a connection string, pg.Pool options or a pg.Pool');
    }
    if (typeof options !== 'object' || options === null) throw new TypeError("PostgresReplicator options must be an object, e.g. { ledger: 'audit' }");
    this.ledger = requireLedgerName(options.ledger, 'PostgresReplicator');
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) throw new TypeError('id must be a non-empty string');
    this.#transactionRows = positive('transactionRows', options.transactionRows, 10_000);
    this.#statementRows = positive('statementRows', options.statementRows, 1_000);
    this.#connection = connection;
    this.#table = `"${this.ledger}".events`;
    this.id = options.id ?? `postgres:${this.ledger}`;
  }

  async attach(primary: PrimarySource): Promise<void> {
    this.#primaryPath = resolvePath(primary.path);
  }

  async propagate(upTo: number): Promise<ReplicationReceipt> {
    if (this.#primaryPath === undefined) return this.#receipt('not_configured', this.#lastSequence);
    try {
      const head = await this.#propagate(upTo);
      this.#lastSequence = head.sequence;
      return this.#receipt('confirmed', head.sequence);
    } catch (error) {
      const coded =
        error instanceof LedgerError ? error : LedgerError.of('REPLICATION_FAILED', { replicaId: this.id }, error instanceof Error ? error.message : String(error));
      if (!(error instanceof LedgerError)) this.#closePrimary(); // reopen the primary on the next attempt
      return this.#receipt('failed', this.#lastSequence, coded);
    }
  }

  /** Rows of the primary the copy does not hold yet (negative when the copy is ahead), for monitoring. */
  async lag(): Promise<number> {
    const primary = this.#openPrimary();
    const { pool } = await this.#connect();
    return headOf(primary).sequence - (await this.#copyHead(pool)).sequence;
  }

  async verify(): Promise<VerificationResult> {
    if (this.#primaryPath === undefined) throw new TypeError('PostgresReplicator.verify: not attached to a primary');
    const primary = this.#openPrimary();
    const { pool } = await this.#connect();
    const errors: string[] = [];
    const registered = (await pool.query('SELECT schema_version FROM stele.ledgers WHERE name = $1', [this.ledger])).rows[0];
    if (!registered) throw LedgerError.of('NOT_A_LEDGER', { replicaId: this.id, ledger: this.ledger }, 'no such ledger in this database');
    const schemaVersion = Number(registered.schema_version);
    const primaryVersion = primary.pragma('user_version', { simple: true }) as number;
    const schemaVersionMatch = schemaVersion === primaryVersion || SAME_EVENT_RULES.get(schemaVersion)?.includes(primaryVersion) === true;
    if (!schemaVersionMatch) errors.push(`schema version ${schemaVersion} differs from the primary's ${primaryVersion}`);
    const head = await this.#copyHead(pool);
    const primaryHead = headOf(primary);
    const primaryHash = head.sequence === 0 ? head.contentHash : hashAt(primary, head.sequence);
    const headHashMatch = primaryHash === head.contentHash;
    if (head.sequence > primaryHead.sequence) errors.push(`the copy is ahead of its primary: ${head.sequence} > ${primaryHead.sequence}`);
    else if (!headHashMatch) errors.push(`head ${head.sequence}: hash ${head.contentHash} differs from the primary's ${primaryHash}`);
    const chain = (await pool.query('SELECT * FROM stele.stele_verify($1, $2)', [this.ledger, head.sequence === 0 ? null : head.sequence])).rows[0]!;
    const firstBad: VerifyFault | undefined =
      chain.ok === true
        ? undefined
        : {
            sequence: Number(chain.sequence),
            reason: chain.reason as VerifyFaultReason,
            ...(chain.expected !== null ? { expected: chain.expected as string } : {}),
            ...(chain.actual !== null ? { actual: chain.actual as string } : {}),
            ...(chain.detail !== null ? { detail: chain.detail as string } : {}),
          };
    if (firstBad) errors.push(`sequence ${firstBad.sequence}: ${firstBad.reason}${firstBad.detail ? ` (${firstBad.detail})` : ''}`);
    return {
      replicaId: this.id,
      ok: errors.length === 0,
      sequence: head.sequence,
      lag: primaryHead.sequence - head.sequence,
      headHashMatch,
      signatureValid: firstBad?.reason !== 'signature',
      schemaVersionMatch,
      continuous: firstBad?.reason !== 'sequence_gap',
      ...(firstBad ? { firstBad } : {}),
      errors,
    };
  }

  async close(): Promise<void> {
    this.#primaryPath = undefined;
    this.#closePrimary();
    const pending = this.#pool;
    this.#pool = undefined;
    const opened = await pending?.catch(() => undefined);
    if (opened?.owned) await opened.pool.end();
  }

  #receipt(status: ReplicationReceipt['status'], sequence: number, error?: LedgerError): ReplicationReceipt {
    return { replicaId: this.id, sequence, status, at: new Date(), ...(error ? { error } : {}) };
  }

  #connect(): Promise<{ pool: PostgresPool; owned: boolean }> {
    const pending = (this.#pool ??= poolFor(this.#connection, 'PostgresReplicator'));
    pending.catch(() => {
      if (this.#pool === pending) this.#pool = undefined;
    });
    return pending;
  }

  #openPrimary(): Database.Database {
    if (this.#primaryPath === undefined) throw new TypeError('PostgresReplicator: not attached to a primary');
    return (this.#primary ??= new Database(this.#primaryPath, { readonly: true, fileMustExist: true }));
  }

  #closePrimary(): void {
    this.#primary?.close();
    this.#primary = undefined;
  }

  async #copyHead(db: PostgresQueryable): Promise<LedgerHead> {
    const row = (await db.query(`SELECT sequence, content_hash FROM ${this.#table} ORDER BY sequence DESC LIMIT 1`)).rows[0];
    return row ? { sequence: Number(row.sequence), contentHash: row.content_hash as string } : { sequence: 0, contentHash: GENESIS_HASH };
  }

  async #copyHashAt(db: PostgresQueryable, sequence: number): Promise<string | undefined> {
    return (await db.query(`SELECT content_hash FROM ${this.#table} WHERE sequence = $1`, [sequence])).rows[0]?.content_hash as string | undefined;
  }

  async #propagate(upTo: number): Promise<LedgerHead> {
    const primary = this.#openPrimary();
    const { pool } = await this.#connect();
    // One read transaction on the primary: its head and rows come from one snapshot.
    primary.exec('BEGIN');
    try {
      const primaryHead = headOf(primary);
      let head = await this.#copyHead(pool);
      await this.#checkPrefix(pool, primary, head, primaryHead);
      const target = Math.min(upTo, primaryHead.sequence);
      const read = primary.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE sequence > ? AND sequence <= ? ORDER BY sequence`).raw();
      while (head.sequence < target) {
        const end = Math.min(target, head.sequence + this.#transactionRows);
        head = await this.#copyTransaction(pool, primary, head, read.all(head.sequence, end) as unknown[][]);
      }
      await this.#copySettings(pool, primary);
      return head;
    } finally {
      primary.exec('COMMIT');
    }
  }

  /** REPLICA_AHEAD, or REPLICA_DIVERGED with the first differing sequence, unless the copy is a prefix. */
  async #checkPrefix(db: PostgresQueryable, primary: Database.Database, head: LedgerHead, primaryHead: LedgerHead): Promise<void> {
    if (head.sequence > primaryHead.sequence) {
      throw LedgerError.of('REPLICA_AHEAD', { replicaId: this.id, replicaSequence: head.sequence, primarySequence: primaryHead.sequence });
    }
    if (head.sequence === 0 || hashAt(primary, head.sequence) === head.contentHash) return;
    // Equal hashes at k mean equal chains up to k: search for the first sequence that differs.
    let low = 1;
    let high = head.sequence;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if (hashAt(primary, mid) === (await this.#copyHashAt(db, mid))) low = mid + 1;
      else high = mid;
    }
    throw LedgerError.of('REPLICA_DIVERGED', {
      replicaId: this.id,
      sequence: low,
      replicaHash: await this.#copyHashAt(db, low),
      primaryHash: hashAt(primary, low),
    });
  }

  /**
   * One durable transaction of rows after `head`. The head is re-read under the trigger's lock,
   * so a concurrent copier (another process replicating the same primary) is waited for, and rows
   * it copied meanwhile are skipped. When a row is refused, the rows before it still land.
   */
  async #copyTransaction(pool: PostgresPool, primary: Database.Database, head: LedgerHead, rows: unknown[][]): Promise<LedgerHead> {
    const session = await pool.connect();
    let broken = false;
    try {
      await session.query('BEGIN ISOLATION LEVEL READ COMMITTED');
      // Acknowledged means durable: COMMIT waits for the WAL flush whatever the role's default.
      await session.query('SET LOCAL synchronous_commit = on');
      await session.query('SELECT pg_advisory_xact_lock($1, $2::regclass::oid::integer)', [LOCK_NAMESPACE, this.#table]);
      const locked = await this.#copyHead(session);
      if (locked.sequence !== head.sequence) await this.#checkPrefix(session, primary, locked, headOf(primary));
      const pending = rows.filter((row) => (row[0] as number) > locked.sequence);
      try {
        for (let start = 0; start < pending.length; start += this.#statementRows) {
          await this.#insert(session, pending.slice(start, start + this.#statementRows));
        }
      } catch (error) {
        await session.query('ROLLBACK');
        const sequence = raisedSequence(error);
        const refusedAt = sequence === undefined ? -1 : pending.findIndex((row) => row[0] === sequence);
        if (refusedAt > 0) await this.#copyTransaction(pool, primary, locked, pending.slice(0, refusedAt));
        throw refusalOf(error, sequence, this.id);
      }
      await session.query('COMMIT');
      const last = pending.at(-1);
      return last ? { sequence: last[0] as number, contentHash: last[14] as string } : locked;
    } catch (error) {
      // After a coded error the session is reusable once rolled back; anything else may have broken it.
      await session.query('ROLLBACK').catch(() => (broken = true));
      if (!(error instanceof LedgerError)) broken = true;
      throw error;
    } finally {
      session.release(broken);
    }
  }

  /** One INSERT of many rows: one array per column, unnested in sequence order. */
  async #insert(db: PostgresQueryable, rows: unknown[][]): Promise<void> {
    const columns = PG_EVENT_TYPES.map((_, i) => rows.map((row) => row[i] ?? null));
    const arrays = PG_EVENT_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
    await db.query(`INSERT INTO ${this.#table} (${PG_EVENT_COLUMNS}) SELECT * FROM unnest(${arrays})`, columns);
  }

  /** Settings the primary recorded that the copy lacks (e.g. require_signatures), as replica files do. */
  async #copySettings(db: PostgresQueryable, primary: Database.Database): Promise<void> {
    const mine = new Set((await db.query(`SELECT key FROM "${this.ledger}".ledger_meta`)).rows.map((row) => row.key as string));
    const settings = primary.prepare('SELECT key, value FROM ledger_meta').all() as { key: string; value: string }[];
    for (const setting of settings) {
      if (mine.has(setting.key) || setting.key === 'replica_id' || setting.key === 'replica_of' || setting.key === 'created_at') continue;
      await db.query(`INSERT INTO "${this.ledger}".ledger_meta (key, value) VALUES ($1, $2)`, [setting.key, setting.value]);
    }
  }
}

function headOf(db: Database.Database): LedgerHead {
  const row = db.prepare('SELECT sequence, content_hash AS contentHash FROM events ORDER BY sequence DESC LIMIT 1').get() as LedgerHead | undefined;
  return row ?? { sequence: 0, contentHash: GENESIS_HASH };
}

function hashAt(db: Database.Database, sequence: number): string | undefined {
  return db.prepare('SELECT content_hash FROM events WHERE sequence = ?').pluck().get(sequence) as string | undefined;
}

function positive(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${describeValue(value)}`);
  return value;
}

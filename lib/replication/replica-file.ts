/**
 * A replica file opened for copying: creates it, finds where it stands against its primary, and
 * copies rows verbatim through the replica's own guards (native-sql/004). Synchronous, for a
 * worker thread or a CLI process; never used on an app's main thread.
 * @internal
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';
import { EVENT_COLUMNS, GENESIS_HASH, ROW_COLUMNS } from '../format/columns.ts';
import { raisedError } from '../sqlite/append-statement.ts';
import { openReadConnection, openWriteConnection } from '../sqlite/connections.ts';
import { HASH_AT_SQL, readHead } from '../sqlite/queries.ts';
import { acquireWriterLock } from '../writer/writer-lock.ts';

/** Rows per replica transaction: one fsync per chunk, and a crash loses at most the chunk in progress. */
const CHUNK_ROWS = 10_000;
/** The replica keeps the default drift threshold; its warnings are information, as on the primary. */
const DRIFT_THRESHOLD_MS = 5_000;
/** The schema version that introduced replica files (native-sql/004-replication.sql). */
export const REPLICA_SCHEMA_VERSION = 4;

/** Where a replica stands, and what identifies it. */
export interface ReplicaState {
  replicaId: string;
  replicaOf: string;
  /** False once its promotion ceremony is in the file: it is a primary of its own. */
  unpromoted: boolean;
  head: LedgerHead;
}

/** Reads a replica's identity and head; undefined when the file is not (or no longer) a replica. */
export function readReplicaState(db: Database.Database): ReplicaState | undefined {
  const meta = db
    .prepare(
      `SELECT (SELECT value FROM ledger_meta WHERE key = 'replica_id') AS replicaId,
              (SELECT value FROM ledger_meta WHERE key = 'replica_of') AS replicaOf,
              EXISTS (SELECT 1 FROM replica_mode) AS unpromoted`,
    )
    .get() as { replicaId: string | null; replicaOf: string | null; unpromoted: number };
  if (meta.replicaId === null) return undefined;
  return { replicaId: meta.replicaId, replicaOf: meta.replicaOf ?? '', unpromoted: meta.unpromoted === 1, head: headOf(db) };
}

/**
 * Where a copy stands: its newest row, or the genesis position (sequence 0, the genesis hash)
 * before its first row, the point from which it copies and which witnesses can sign.
 */
export function headOf(db: Database.Database): LedgerHead {
  return readHead(db) ?? { sequence: 0, contentHash: GENESIS_HASH };
}

/**
 * Opens `path` for appending with Stele's functions registered and the writer lock held, as the
 * writer would. The caller closes both.
 */
export function openForAppend(path: string): { db: Database.Database; lock: Database.Database } {
  const lock = acquireWriterLock(path);
  try {
    const { db } = openWriteConnection(path, { durability: 'full', driftThresholdMs: DRIFT_THRESHOLD_MS });
    db.pragma('busy_timeout = 5000');
    return { db, lock };
  } catch (error) {
    lock.close();
    throw error;
  }
}

/** What one propagation did. */
export interface CopyOutcome {
  head: LedgerHead;
  copied: number;
}

/**
 * A replica being written, with its primary open read-only. Holds the replica's writer lock, so
 * no second replicator (nor a writer) can write the copy meanwhile.
 */
export class ReplicaFile {
  readonly #db: Database.Database;
  readonly #lock: Database.Database;
  readonly #primary: Database.Database;
  readonly #readRows: Database.Statement<[number, number], unknown[]>;
  readonly #insertRow: Database.Statement<unknown[]>;
  readonly #primaryHashAt: Database.Statement<[number], string>;
  readonly #replicaHashAt: Database.Statement<[number], string>;

  private constructor(db: Database.Database, lock: Database.Database, primary: Database.Database) {
    this.#db = db;
    this.#lock = lock;
    this.#primary = primary;
    this.#readRows = primary.prepare<[number, number], unknown[]>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE sequence > ? AND sequence <= ? ORDER BY sequence`,
    ).raw();
    this.#insertRow = db.prepare(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (${ROW_COLUMNS.map(() => '?').join(', ')})`);
    this.#primaryHashAt = primary.prepare<[number], string>(HASH_AT_SQL).pluck();
    this.#replicaHashAt = db.prepare<[number], string>(HASH_AT_SQL).pluck();
  }

  /**
   * Opens the copy at `path` of the primary at `primaryPath`, creating it (schema, identity) when
   * the file is new or empty. A file with events of its own, or a promoted replica, is NOT_A_REPLICA.
   */
  static open(path: string, primaryPath: string): ReplicaFile {
    const primary = openReadConnection(primaryPath);
    let opened: { db: Database.Database; lock: Database.Database } | undefined;
    try {
      opened = openForAppend(path);
      const { db } = opened;
      let state = readReplicaState(db);
      if (state === undefined && headOf(db).sequence === 0) {
        // The triggers of 004 and 006 let these settings in only while the file holds no event:
        // the replica judges the primary's ceremonies by the primary's quorum and rules.
        const insert = db.prepare('INSERT INTO ledger_meta (key, value) VALUES (?, ?)');
        const update = db.prepare('UPDATE ledger_meta SET value = ? WHERE key = ? AND value IS NOT ?');
        const settings = primaryWitnessSettings(primary);
        db.transaction(() => {
          insert.run('replica_id', randomUUID());
          insert.run('replica_of', primaryPath);
          for (const [key, value] of settings) update.run(value, key, value);
        }).immediate();
        state = readReplicaState(db);
      }
      if (state === undefined || !state.unpromoted) {
        throw LedgerError.of('NOT_A_REPLICA', { path, promoted: state !== undefined });
      }
      return new ReplicaFile(db, opened.lock, primary);
    } catch (error) {
      opened?.db.close();
      opened?.lock.close();
      primary.close();
      throw error;
    }
  }

  head(): LedgerHead {
    return headOf(this.#db);
  }

  /**
   * Copies the primary's rows after the replica's head, up to `upTo` (or the primary's head),
   * in chunks of one durable transaction each. Refuses to touch a replica that is ahead of the
   * primary or holds a different row at some sequence.
   */
  propagate(upTo: number = Number.MAX_SAFE_INTEGER): CopyOutcome {
    // One read transaction: the primary's rows and head come from one snapshot.
    this.#primary.exec('BEGIN');
    try {
      const primaryHead = headOf(this.#primary);
      let head = this.head();
      this.#checkPrefix(head, primaryHead);
      const target = Math.min(upTo, primaryHead.sequence);
      let copied = 0;
      while (head.sequence < target) {
        const end = Math.min(target, head.sequence + CHUNK_ROWS);
        copied += this.#copyChunk(head.sequence, end);
        head = this.head();
      }
      this.#copySettings();
      return { head, copied };
    } finally {
      this.#primary.exec('COMMIT');
    }
  }

  /** REPLICA_AHEAD or REPLICA_DIVERGED (with the first differing sequence) unless the replica is a prefix. */
  #checkPrefix(head: LedgerHead, primaryHead: LedgerHead): void {
    if (head.sequence > primaryHead.sequence) {
      throw LedgerError.of('REPLICA_AHEAD', { replicaSequence: head.sequence, primarySequence: primaryHead.sequence });
    }
    if (head.sequence === 0 || this.#primaryHashAt.get(head.sequence) === head.contentHash) return;
    // Equal hashes at k mean equal chains up to k: search for the first sequence that differs.
    let low = 1;
    let high = head.sequence;
    while (low < high) {
      const mid = Math.floor((low + high) / 2);
      if (this.#primaryHashAt.get(mid) === this.#replicaHashAt.get(mid)) low = mid + 1;
      else high = mid;
    }
    throw LedgerError.of('REPLICA_DIVERGED', {
      sequence: low,
      replicaHash: this.#replicaHashAt.get(low),
      primaryHash: this.#primaryHashAt.get(low),
    });
  }

  /** Copies (after, end] in one transaction; when a row is refused, the rows before it still land. */
  #copyChunk(after: number, end: number): number {
    const rows = this.#readRows.all(after, end);
    let refused = -1;
    try {
      this.#db.transaction(() => {
        for (refused = 0; refused < rows.length; refused++) this.#insertRow.run(rows[refused]);
      }).immediate();
      return rows.length;
    } catch (error) {
      if (refused < 0) throw error;
      if (refused > 0) this.#copyChunk(after, after + refused);
      throw refusal(error, rows[refused]![0] as number);
    }
  }

  /** Settings the primary recorded that the copy lacks (e.g. require_signatures), for after promotion. */
  #copySettings(): void {
    const mine = new Set(this.#db.prepare('SELECT key FROM ledger_meta').pluck().all() as string[]);
    const missing = (this.#primary.prepare('SELECT key, value FROM ledger_meta').all() as { key: string; value: string }[]).filter(
      (setting) => !mine.has(setting.key) && setting.key !== 'replica_id' && setting.key !== 'replica_of',
    );
    if (missing.length === 0) return;
    const insert = this.#db.prepare('INSERT INTO ledger_meta (key, value) VALUES (?, ?)');
    this.#db.transaction(() => missing.forEach((setting) => insert.run(setting.key, setting.value))).immediate();
  }

  close(): void {
    this.#db.close();
    this.#lock.close();
    this.#primary.close();
  }
}

/**
 * A row the replica's guards refused: a broken link is divergence (the primary's history is not
 * the replica's), anything else a failed replication naming the row and the guard.
 */
function refusal(error: unknown, sequence: number): LedgerError {
  const raised = raisedError(error);
  if (raised?.code === 'APPEND_ONLY_VIOLATION' && raised.details.field === 'prev_hash') {
    return LedgerError.of('REPLICA_DIVERGED', { sequence, guard: 'prev_hash' });
  }
  const guard = raised?.code ?? (error instanceof Error ? error.message : String(error));
  return LedgerError.of('REPLICATION_FAILED', { sequence, guard, ...raised?.details });
}

/**
 * The primary's witness quorum and the first sequence of its independent-witness rules; a primary
 * written before schema 6 has the rules from its next row on.
 */
function primaryWitnessSettings(primary: Database.Database): Array<[key: string, value: string]> {
  const meta = primary.prepare<[string], string>('SELECT value FROM ledger_meta WHERE key = ?').pluck();
  return [
    ['witness_quorum', meta.get('witness_quorum') ?? '2'],
    ['independent_witnesses_since', meta.get('independent_witnesses_since') ?? String(headOf(primary).sequence + 1)],
  ];
}

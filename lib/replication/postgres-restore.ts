/**
 * Restoring a ledger file from its copy in PostgreSQL: the rows copied verbatim, in chunks of
 * one durable transaction each, through the new file's own guards (it is created as a replica,
 * so its triggers take rows as they are and check that each extends its chain), then the whole
 * file verified. Like any replica it reads and verifies as a ledger, and becomes writable only
 * through the witnessed promotion ceremony (`promoteReplica`).
 */
import { resolve as resolvePath } from 'node:path';
import { requireFilePath } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';
import { EVENT_COLUMNS, HASHED_COLUMNS, ROW_COLUMNS } from '../format/columns.ts';
import { raisedError } from '../sqlite/append-statement.ts';
import { verifyLedgerFile, type VerifyResult } from '../verify/verify-ledger-file.ts';
import { type PostgresConnection } from './postgres-client.ts';
import { openPostgresReplica } from './postgres-replica.ts';
import { headOf, openForAppend, readReplicaState } from './replica-file.ts';

const CHUNK_ROWS = 10_000;

/** What {@link restoreFromPostgres} did. */
export interface PostgresRestore {
  /** Absolute path of the restored file. */
  path: string;
  /** Its newest row (sequence 0 for an empty ledger). */
  head: LedgerHead;
  /** Rows copied by this call (a second call on the same file copies only what is new). */
  copied: number;
  /** verifyLedgerFile of the whole restored file. */
  verified: VerifyResult;
}

/**
 * Restores the PostgreSQL ledger `ledger` into the SQLite file at `path` (new, or a replica of
 * that same ledger restored earlier, which is brought up to date), then verifies the file.
 * A row the file's guards refuse is REPLICA_DIVERGED (it does not extend the chain) or
 * REPLICATION_FAILED (another guard), naming its sequence; the rows before it stay.
 *
 * @example
 * ```ts
 * import { restoreFromPostgres } from 'stele/postgres';
 * const { head, verified } = await restoreFromPostgres('postgres://auditor@hub.internal/audit', { ledger: 'edge_berlin', path: 'berlin.db' });
 * if (!verified.ok) throw new Error(`restored file does not verify at #${verified.firstBad?.sequence}`);
 * ```
 */
export async function restoreFromPostgres(connection: PostgresConnection, options: { ledger: string; path: string }): Promise<PostgresRestore> {
  if (typeof options !== 'object' || options === null) throw new TypeError("restoreFromPostgres options must be an object, e.g. { ledger: 'audit', path: 'audit.db' }");
  const path = resolvePath(requireFilePath('restoreFromPostgres: the path', options.path));
  const source = await openPostgresReplica(connection, { ledger: options.ledger });
  const origin = `postgres:${source.ledger}`;
  let copied = 0;
  let head: LedgerHead;
  try {
    const { db, lock } = openForAppend(path);
    try {
      let state = readReplicaState(db);
      if (state === undefined && headOf(db).sequence === 0) {
        const insert = db.prepare('INSERT INTO ledger_meta (key, value) VALUES (?, ?)');
        // The copy does not record where its primary's independent-witness rules began: the rows
        // it holds are judged as the copy judged them, and rows appended after the restore by
        // schema 6's rules (006-independent-witnesses.sql).
        const since = String(((await source.head())?.sequence ?? 0) + 1);
        db.transaction(() => {
          insert.run('replica_id', path);
          insert.run('replica_of', origin);
          db.prepare("UPDATE ledger_meta SET value = ? WHERE key = 'independent_witnesses_since' AND value IS NOT ?").run(since, since);
        }).immediate();
        state = readReplicaState(db);
      }
      if (!state?.unpromoted || state.replicaOf !== origin) {
        throw LedgerError.of('NOT_A_REPLICA', { path, replicaOf: state?.replicaOf }, `a restore writes a new file, or one restored earlier from ${origin}`);
      }
      const insertRow = db.prepare(`INSERT INTO events (${EVENT_COLUMNS}) VALUES (${ROW_COLUMNS.map(() => '?').join(', ')})`);
      for (let after = headOf(db).sequence; ; ) {
        const rows = await source.rowsAfter(after, CHUNK_ROWS);
        if (rows.length === 0) break;
        let at = 0;
        try {
          db.transaction(() => {
            for (at = 0; at < rows.length; at++) insertRow.run(ROW_COLUMNS.map((column) => rows[at]![column]));
          }).immediate();
        } catch (error) {
          throw refusal(error, rows[at]?.sequence ?? after + 1);
        }
        copied += rows.length;
        after = rows.at(-1)!.sequence;
      }
      head = headOf(db);
    } finally {
      db.close();
      lock.close();
    }
  } finally {
    await source.close();
  }
  return { path, head, copied, verified: await verifyLedgerFile(path) };
}

/** A row the new file's guards refused: divergence when it does not extend the chain, else a failed restore. */
function refusal(error: unknown, sequence: number): LedgerError {
  const raised = raisedError(error);
  if (raised?.code === 'APPEND_ONLY_VIOLATION' && HASHED_COLUMNS.includes(raised.details.field as never)) {
    return LedgerError.of('REPLICA_DIVERGED', { sequence, guard: raised.details.field });
  }
  return LedgerError.of('REPLICATION_FAILED', { sequence, guard: raised?.code ?? String(error), ...raised?.details });
}

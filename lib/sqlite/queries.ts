/**
 * SQL that more than one file runs against `events`, written once.
 * @internal
 */
import type Database from 'better-sqlite3';
import type { LedgerHead } from '../event.ts';

/** The newest row's place in the chain. */
export const HEAD_SQL = 'SELECT sequence, content_hash AS contentHash FROM events ORDER BY sequence DESC LIMIT 1';
/** The content hash of the row at a sequence (one positional parameter). */
export const HASH_AT_SQL = 'SELECT content_hash FROM events WHERE sequence = ?';
/** The highest sequence; 0 when the ledger is empty. */
export const MAX_SEQUENCE_SQL = 'SELECT coalesce(max(sequence), 0) FROM events';

/** `ledger_meta.witness_quorum`: the signatures a ceremony needs (2 in a file before schema 2 wrote it). */
export function witnessQuorumOf(db: Database.Database): number {
  return Number(db.prepare<[], string>("SELECT value FROM ledger_meta WHERE key = 'witness_quorum'").pluck().get() ?? 2);
}

/** The newest event's sequence and content hash, or undefined when the ledger is empty. */
export function readHead(db: Database.Database): LedgerHead | undefined {
  return db.prepare<[], LedgerHead>(HEAD_SQL).get();
}

/** A prepared lookup of the content hash at a sequence (undefined when there is no such row). */
export function hashAtStatement(db: Database.Database): (sequence: number) => string | undefined {
  const statement = db.prepare<[number], string>(HASH_AT_SQL).pluck();
  return (sequence) => statement.get(sequence);
}

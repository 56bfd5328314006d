/**
 * Spec helpers for verification: building a closed ledger file quickly, copying it, and editing a
 * copy the way an attacker with the file would: behind the triggers, with a raw connection.
 */
import { copyFileSync, existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openLedger, type AppendInput } from '../../lib/index.ts';
import { EVENT_COLUMNS, type EventRow } from '../../lib/format/columns.ts';
import { rowHash } from '../../lib/format/hash-bytes.ts';

/** Appends `count` events round-robin over `streams` streams (in batches), then closes the ledger. */
export async function buildLedger(path: string, count: number, streams = 3): Promise<void> {
  const ledger = await openLedger(path);
  try {
    for (let start = 0; start < count; start += 1_000) {
      const inputs: AppendInput[] = [];
      for (let i = start; i < Math.min(count, start + 1_000); i++) {
        inputs.push({
          type: i % 7 === 0 ? 'checkpoint' : 'tick',
          streamId: `stream-${i % streams}`,
          payload: { i, text: 'x'.repeat(i % 40) },
          metadata: i % 5 === 0 ? { by: 'spec' } : undefined,
        });
      }
      await ledger.appendBatch(inputs);
    }
  } finally {
    await ledger.close();
  }
}

/** Copies a closed ledger file (and its WAL, if one was left behind). */
export function copyLedgerFile(from: string, to: string): void {
  copyFileSync(from, to);
  for (const suffix of ['-wal', '-shm']) if (existsSync(from + suffix)) copyFileSync(from + suffix, to + suffix);
}

/** The guards an edit behind the triggers drops for a moment. */
const GUARDS = ['events_no_update', 'events_no_delete', 'agent_keys_no_update', 'agent_keys_no_delete', 'agent_key_revocations_no_update', 'agent_key_revocations_no_delete', 'ledger_meta_no_update', 'ledger_meta_no_delete', 'event_types_only_from_events', 'events_insert_extends_chain'];

/**
 * Runs `edit` on a raw read-write connection to `path` with the guards that forbid updates,
 * deletes and out-of-chain inserts dropped, then recreates them exactly as they were, as a
 * careful attacker would: the schema is the pinned one again, only the rows tell.
 */
export function tamper(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    const definitions = GUARDS.map((name) => db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?").pluck().get(name) as string | undefined);
    for (const name of GUARDS) db.exec(`DROP TRIGGER IF EXISTS ${name}`);
    try {
      edit(db);
    } finally {
      for (const sql of definitions) if (sql) db.exec(sql);
    }
  } finally {
    db.close();
  }
}

/** One row of `events`. */
export function rowAt(db: Database.Database, sequence: number): EventRow {
  const row = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE sequence = ?`).get(sequence) as EventRow | undefined;
  if (!row) throw new Error(`no row ${sequence}`);
  return row;
}

/** One row of the `events` table of a file, read over a short-lived read-only connection. */
export function readRow(path: string, sequence: number): EventRow {
  const db = new Database(path, { readonly: true });
  try {
    return rowAt(db, sequence);
  } finally {
    db.close();
  }
}

/**
 * What an attacker who rewrites history does after editing row `from`: recomputes its content
 * hash and every later row's prev_hash and content_hash, so that the chain links up again.
 */
export function rechain(db: Database.Database, from: number): void {
  const rows = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE sequence >= ? ORDER BY sequence`).all(from) as EventRow[];
  const update = db.prepare('UPDATE events SET prev_hash = ?, content_hash = ? WHERE sequence = ?');
  let prev = from === 1 ? '0'.repeat(64) : rowAt(db, from - 1).content_hash;
  db.transaction(() => {
    for (const row of rows) {
      row.prev_hash = prev;
      prev = rowHash(row);
      update.run(row.prev_hash, prev, row.sequence);
    }
  })();
}

/** `hex` with the digit at `index` changed to another hex digit. */
export function flipHexDigit(hex: string, index: number): string {
  const i = index % hex.length;
  const digit = hex[i] === '0' ? '1' : '0';
  return hex.slice(0, i) + digit + hex.slice(i + 1);
}

/**
 * `stele stats <file>`: what a ledger file holds, in one screen.
 * @internal
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { LedgerHead } from '../../index.ts';
import { ExitCode } from '../cli-error.ts';
import { defineCommand, print, withReadonlyLedger } from '../command.ts';

/** What `stele stats --json` prints. */
export interface LedgerStats {
  path: string;
  events: number;
  /** Distinct stream ids, Stele's own (`$agents`, `$halt`) included. */
  streams: number;
  /** The database file plus its write-ahead log, in bytes. */
  sizeBytes: number;
  /** Authority timestamps of the first and the newest event (ISO 8601), null when empty. */
  firstTimestamp: string | null;
  lastTimestamp: string | null;
  head: LedgerHead | null;
  halted: boolean;
  /** Reason of the current halt, null when not halted. */
  haltReason: string | null;
  /** `PRAGMA user_version`: the last `native-sql/` migration applied. */
  schemaVersion: number;
  /** When the file was created (ISO 8601, from `ledger_meta`). */
  createdAt: string | null;
  requireSignatures: boolean;
  clockDriftWarnings: number;
}

export const statsCommand = defineCommand({
  name: 'stats',
  summary: 'Print what a ledger holds: events, streams, size on disk, time span, halt state, schema version.',
  positionals: ['file'],
  options: {},
  help: `
Options:
  --json   print {"path","events","streams","sizeBytes","firstTimestamp","lastTimestamp","head",
           "halted","haltReason","schemaVersion","createdAt","requireSignatures","clockDriftWarnings"}

Counts rows as stored: it does not verify them (use "stele verify").`,
  async run({ args, json }) {
    const stats = await withReadonlyLedger(args.file, (ledger): LedgerStats => {
      const head = ledger.head() ?? null;
      const first = ledger.readAll({ limit: 1 })[0];
      const last = head && ledger.get(head.sequence);
      const halt = ledger.haltState();
      const rows = countRows(ledger.path);
      return {
        path: ledger.path,
        events: rows.events,
        streams: rows.streams,
        sizeBytes: fileSize(ledger.path) + fileSize(`${ledger.path}-wal`),
        firstTimestamp: first?.authorityTimestamp.toISOString() ?? null,
        lastTimestamp: last?.authorityTimestamp.toISOString() ?? null,
        head,
        halted: halt.halted,
        haltReason: halt.halted ? (halt.reason ?? null) : null,
        schemaVersion: rows.schemaVersion,
        createdAt: rows.createdAt,
        requireSignatures: rows.requireSignatures,
        clockDriftWarnings: rows.clockDriftWarnings,
      };
    });
    print(json, stats, describeStats);
    return ExitCode.ok;
  },
});

/** Aggregates the Ledger API does not offer, over a short-lived read-only connection of their own. */
function countRows(path: string): Pick<LedgerStats, 'events' | 'streams' | 'schemaVersion' | 'createdAt' | 'requireSignatures' | 'clockDriftWarnings'> {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const counts = db.prepare('SELECT count(*) AS events, count(DISTINCT stream_id) AS streams FROM events').get() as { events: number; streams: number };
    const meta = new Map(db.prepare('SELECT key, value FROM ledger_meta').raw().all() as [string, string][]);
    return {
      ...counts,
      schemaVersion: db.pragma('user_version', { simple: true }) as number,
      createdAt: meta.get('created_at') ?? null,
      requireSignatures: meta.get('require_signatures') === '1',
      clockDriftWarnings: db.prepare('SELECT count(*) FROM clock_drift_warnings').pluck().get() as number,
    };
  } finally {
    db.close();
  }
}

function fileSize(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.size ?? 0;
}

function describeStats(stats: LedgerStats): string {
  const rows: [string, string | number | boolean][] = [
    ['path', stats.path],
    ['events', stats.events],
    ['streams', stats.streams],
    ['size on disk', `${stats.sizeBytes} bytes`],
    ['first event', stats.firstTimestamp ?? '-'],
    ['last event', stats.lastTimestamp ?? '-'],
    ['head', stats.head ? `#${stats.head.sequence} ${stats.head.contentHash}` : '-'],
    ['halted', stats.halted ? `yes: ${stats.haltReason}` : 'no'],
    ['schema version', stats.schemaVersion],
    ['created', stats.createdAt ?? '-'],
    ['signatures required', stats.requireSignatures ? 'yes' : 'no'],
    ['clock drift warnings', stats.clockDriftWarnings],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}

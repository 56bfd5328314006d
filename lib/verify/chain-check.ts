/**
 * The hash chain as rows on disk: the column list, recomputing a row's hash, and a sequential
 * check of a range. Shared by the writer's startup check, verification and specs.
 * @internal
 */
import type Database from 'better-sqlite3';
import { EVENT_COLUMNS, GENESIS_HASH, type EventRow } from '../format/columns.ts';
import { rowHash } from '../format/hash-bytes.ts';

/** Why a row fails verification. */
export type ChainFaultReason = 'content_hash' | 'prev_hash' | 'sequence_gap' | 'stream_version';

export interface ChainFault {
  sequence: number;
  reason: ChainFaultReason;
  expected?: string | number;
  actual?: string | number;
}

export interface ChainCheck {
  ok: boolean;
  checked: number;
  firstBad?: ChainFault;
}

/**
 * Walks the rows of [from, to] (default: all) in sequence order and checks sequence continuity,
 * prev_hash links, stream versions and content hashes; stops at the first fault. The range is
 * seeded from the row before `from` and each stream's last version before it, so a range check
 * trusts those rows (a check of the earlier range covers them). Needs no registered functions.
 */
export function checkChain(db: Database.Database, range: { from?: number; to?: number } = {}): ChainCheck {
  const from = range.from ?? 1;
  const to = range.to ?? Number.MAX_SAFE_INTEGER;
  const rows = db
    .prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE sequence BETWEEN ? AND ? ORDER BY sequence`)
    .iterate(from, to) as IterableIterator<EventRow>;
  const priorVersion = db.prepare<[string, number], { v: number | null }>(
    'SELECT max(stream_version) AS v FROM events WHERE stream_id = ? AND sequence < ?',
  );
  const streamVersions = new Map<string, number>();
  let expectedSequence = from;
  let prevHash =
    from === 1
      ? GENESIS_HASH
      : ((db.prepare('SELECT content_hash FROM events WHERE sequence = ?').pluck().get(from - 1) as string | undefined) ?? '');
  let checked = 0;
  for (const row of rows) {
    if (from > 1 && !streamVersions.has(row.stream_id)) {
      streamVersions.set(row.stream_id, priorVersion.get(row.stream_id, from)?.v ?? -1);
    }
    const fault = faultOf(row, expectedSequence, prevHash, streamVersions);
    if (fault) return { ok: false, checked, firstBad: fault };
    streamVersions.set(row.stream_id, row.stream_version);
    expectedSequence = row.sequence + 1;
    prevHash = row.content_hash;
    checked++;
  }
  return { ok: true, checked };
}

function faultOf(row: EventRow, sequence: number, prevHash: string, versions: Map<string, number>): ChainFault | undefined {
  if (row.sequence !== sequence) return { sequence, reason: 'sequence_gap', expected: sequence, actual: row.sequence };
  // Structural faults first, so an edited link or version is named as such rather than as the
  // content hash mismatch it also causes.
  if (row.prev_hash !== prevHash) return { sequence, reason: 'prev_hash', expected: prevHash, actual: row.prev_hash };
  const version = (versions.get(row.stream_id) ?? -1) + 1;
  if (row.stream_version !== version) {
    return { sequence, reason: 'stream_version', expected: version, actual: row.stream_version };
  }
  const actualHash = rowHash(row);
  if (actualHash !== row.content_hash) {
    return { sequence, reason: 'content_hash', expected: row.content_hash, actual: actualHash };
  }
  return undefined;
}

/** The newest row's place in the chain, and a fault when its stored hash is not its content's. */
export function checkHead(db: Database.Database): {
  head: { sequence: number; contentHash: string } | null;
  fault?: { sequence: number; expected: string; actual: string };
} {
  const row = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY sequence DESC LIMIT 1`).get() as EventRow | undefined;
  if (!row) return { head: null };
  const head = { sequence: row.sequence, contentHash: row.content_hash };
  const actual = rowHash(row);
  return actual === row.content_hash ? { head } : { head, fault: { sequence: row.sequence, expected: row.content_hash, actual } };
}

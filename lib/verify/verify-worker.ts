/**
 * One range of {@link verifyLedgerFile}, run on a piscina thread over its own read-only
 * connection: the chain check of chain-check.ts, nothing else. Imports only its protocol, the
 * check and the SQLite glue, never main-side classes.
 * @internal
 */
import { openReadConnection } from '../sqlite/connections.ts';
import { checkRange } from './chain-check.ts';
import { treeRangeMatches } from './merkle-check.ts';
import type { RangeResult, RangeTask } from './verify-protocol.ts';

/** Checks one range; the piscina task handler. */
export default function verifyRange(task: RangeTask): RangeResult {
  const db = openReadConnection(task.path);
  try {
    const result = checkRange(db, task);
    // The tree matters only when the chain passed; a chain fault is reported first anyway.
    return { ...result, treeMatches: result.fault !== undefined || treeRangeMatches(db, task.from, task.to) };
  } finally {
    db.close();
  }
}

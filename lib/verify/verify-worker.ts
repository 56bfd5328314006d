/**
 * One range of {@link verifyLedgerFile}, run on a piscina thread over its own read-only
 * connection: the chain check of chain-check.ts and, on the pages it passes, the tree check of
 * merkle-check.ts. Imports only its protocol, the checks and the SQLite glue, never main-side
 * classes.
 * @internal
 */
import { openReadConnection } from '../sqlite/connections.ts';
import { checkRange } from './chain-check.ts';
import { TreeRangeCheck } from './merkle-check.ts';
import type { RangeResult, RangeTask } from './verify-protocol.ts';

/** Checks one range; the piscina task handler. */
export default function verifyRange(task: RangeTask): RangeResult {
  const db = openReadConnection(task.path);
  try {
    // The tree is checked page by page as the chain passes them. It matters only when the whole
    // chain passed; a chain fault is reported first anyway.
    const tree = TreeRangeCheck.of(db);
    const result = checkRange(db, task, tree?.page);
    return { ...result, treeMatches: result.fault !== undefined || (tree?.matches ?? true) };
  } finally {
    db.close();
  }
}

/**
 * What the writer checks before it accepts an append: that its view of the head agrees with the
 * file. Each check names itself in the WRITER_INCONSISTENCY it causes. The rows themselves go
 * through the one chain check of verify/chain-check.ts.
 * @internal
 */
import type Database from 'better-sqlite3';
import type { LedgerHead } from '../event.ts';
import { hashAtStatement, readHead } from '../sqlite/queries.ts';
import { checkChain, checkRange } from '../verify/chain-check.ts';
import { checkpointFault } from './checkpoint-check.ts';
import { readHeadSidecar } from './head-sidecar.ts';

export interface StartupFault {
  check: 'head_hash' | 'recent_rows' | 'head_sidecar' | 'expected_head' | 'checkpoint';
  sequence: number;
  expected: string | number | undefined;
  actual: string | number | undefined;
  reason?: string;
}

export interface StartupCheckSettings {
  path: string;
  startupVerifyRows: number;
  expectedHead: LedgerHead | undefined;
  trustedCheckpoint?: string | undefined;
}

/**
 * The head the writer starts from, and the first fault, if any: the newest row's own hash
 * (`head_hash`), then the newest `startupVerifyRows` rows (`recent_rows`), then the anchors kept
 * outside the file. Signatures are left to `verify()`: replaying every key of `$agents` would make
 * each start pay for the whole history.
 */
export function startupFault(db: Database.Database, settings: StartupCheckSettings): { head: LedgerHead | undefined; fault?: StartupFault } {
  const head = readHead(db);
  if (head) {
    // The newest row alone: is its stored hash its content's (its link is checked with the recent rows).
    const own = checkRange(db, { from: head.sequence, to: head.sequence, openBelow: false, signatures: false }).fault;
    if (own?.reason === 'content_hash') {
      return { head, fault: { check: 'head_hash', sequence: head.sequence, expected: own.expected, actual: own.actual } };
    }
    if (settings.startupVerifyRows > 0) {
      const from = Math.max(1, head.sequence - settings.startupVerifyRows + 1);
      const recent = checkChain(db, { from, to: head.sequence, signatures: false }).firstBad;
      if (recent) {
        const { sequence, reason, expected, actual } = recent;
        return { head, fault: { check: 'recent_rows', sequence, reason, expected, actual } };
      }
    }
  }
  const hashAt = hashAtStatement(db);
  const anchors: Array<[StartupFault['check'], LedgerHead | undefined]> = [
    ['head_sidecar', readHeadSidecar(settings.path)],
    ['expected_head', settings.expectedHead],
  ];
  for (const [check, anchor] of anchors) {
    if (!anchor) continue;
    const actual = hashAt(anchor.sequence);
    if (actual !== anchor.contentHash) {
      return { head, fault: { check, sequence: anchor.sequence, expected: anchor.contentHash, actual: actual ?? 'missing' } };
    }
  }
  const checkpoint = settings.trustedCheckpoint === undefined ? undefined : checkpointFault(db, settings.trustedCheckpoint);
  return checkpoint ? { head, fault: { check: 'checkpoint', ...checkpoint } } : { head };
}

/**
 * What the writer checks before it accepts an append: that its view of the head agrees with the
 * file. Each check names itself in the WRITER_INCONSISTENCY it causes. The rows themselves go
 * through the one chain check of verify/chain-check.ts.
 * @internal
 */
import type Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';
import { ledgerFileState } from '../sqlite/ledger-file.ts';
import { hashAtStatement, readHead } from '../sqlite/queries.ts';
import { checkChain, checkRange } from '../verify/chain-check.ts';
import { checkpointFault, newestStoredCheckpointFault } from './checkpoint-check.ts';
import { headSidecarPath, readHeadSidecar } from './head-sidecar.ts';

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
  logKey?: string | undefined;
}

/**
 * The head the writer starts from, and the first fault, if any: the newest row's own hash
 * (`head_hash`), then the newest `startupVerifyRows` rows (`recent_rows`), then the anchors kept
 * outside the file, then the newest stored checkpoint (`checkpoint`). Signatures are left to `verify()`: replaying every key of `$agents` would make
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
  if (!head) refuseOrphanedSidecar(settings.path, 'no_event');
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
  const checkpoint =
    (settings.trustedCheckpoint === undefined ? undefined : checkpointFault(db, settings.trustedCheckpoint)) ??
    newestStoredCheckpointFault(db, settings.logKey);
  return checkpoint ? { head, fault: { check: 'checkpoint', ...checkpoint } } : { head };
}

/**
 * A head sidecar beside a file that is missing, empty or holds no event: that is what deleting a
 * ledger (and starting over, or restoring nothing) looks like to the writer. Refused before
 * anything is written into the file: a halt in a new file could only be cleared by witnesses
 * that a new file does not have. Starting over on purpose means deleting the sidecar too.
 */
export function refuseOrphanedSidecar(path: string, known?: 'no_event'): void {
  const state = known ?? ledgerFileState(path);
  if (state === 'existing') return; // its events are checked against the sidecar by startupFault
  const recorded = readHeadSidecar(path);
  if (!recorded || recorded.sequence === 0) return;
  const sidecar = headSidecarPath(path);
  const file = state === 'missing' ? 'does not exist' : state === 'empty' ? 'is empty' : 'holds no event';
  throw LedgerError.of(
    'WRITER_INCONSISTENCY',
    { check: 'head_sidecar', sequence: recorded.sequence, expected: recorded.contentHash, actual: 'missing', sidecar, state },
    `${sidecar} records a head at sequence ${recorded.sequence}, but ${path} ${file}: the ledger was deleted or replaced. ` +
      `Restore it, or to start a new ledger on purpose delete ${sidecar}; nothing was written`,
  );
}

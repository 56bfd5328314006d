/**
 * What the writer checks before it accepts an append: that its view of the head agrees with the
 * file. Each check names itself in the WRITER_INCONSISTENCY it causes.
 * @internal
 */
import type Database from 'better-sqlite3';
import { checkChain, checkHead } from '../verify/chain-check.ts';
import type { Head } from './protocol.ts';
import { readHeadSidecar } from './head-sidecar.ts';

export interface StartupFault {
  check: 'head_hash' | 'recent_rows' | 'head_sidecar' | 'expected_head';
  sequence: number;
  expected: string | number | undefined;
  actual: string | number | undefined;
  reason?: string;
}

export interface StartupCheckSettings {
  path: string;
  startupVerifyRows: number;
  expectedHead: Head | undefined;
}

export function startupFault(db: Database.Database, settings: StartupCheckSettings): { head: Head | null; fault?: StartupFault } {
  const { head, fault } = checkHead(db);
  if (fault) return { head, fault: { check: 'head_hash', ...fault } };

  if (head && settings.startupVerifyRows > 0) {
    const recent = checkChain(db, { from: Math.max(1, head.sequence - settings.startupVerifyRows + 1) });
    if (recent.firstBad) {
      const { sequence, reason, expected, actual } = recent.firstBad;
      return { head, fault: { check: 'recent_rows', sequence, reason, expected, actual } };
    }
  }

  const hashAt = db.prepare<[number], string>('SELECT content_hash FROM events WHERE sequence = ?').pluck();
  const anchors: Array<[StartupFault['check'], Head | undefined]> = [
    ['head_sidecar', readHeadSidecar(settings.path)],
    ['expected_head', settings.expectedHead],
  ];
  for (const [check, anchor] of anchors) {
    if (!anchor) continue;
    const actual = hashAt.get(anchor.sequence);
    if (actual !== anchor.contentHash) {
      return { head, fault: { check, sequence: anchor.sequence, expected: anchor.contentHash, actual: actual ?? 'missing' } };
    }
  }
  return { head };
}

/**
 * What crosses between {@link verifyLedgerFile} and its pool threads: one range to check, and
 * what the range found.
 * @internal
 */
import type { ChainRange, ChainRangeResult } from './chain-check.ts';

/** One range of a ledger file to check. */
export interface RangeTask extends ChainRange {
  path: string;
}

/** What a range found: the chain's verdict, and whether the Merkle nodes its appends completed match. */
export interface RangeResult extends ChainRangeResult {
  treeMatches: boolean;
}

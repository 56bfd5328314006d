/**
 * What verification reports about a faulty row: types only, so that the public declarations
 * that name them (`VerifyResult`, `ReplicaHealth`, ...) reach no module that touches
 * better-sqlite3, whose types a user of the package does not have.
 * @internal
 */
import type { SchemaDiff } from '../sqlite/schema-diff.ts';

/**
 * Why a row fails verification.
 *
 * @example
 * ```ts
 * // `to` claims that the rows up to a head signed earlier exist, so a truncated tail is caught.
 * const { firstBad } = await verifyLedgerFile('audit.db', { to: signedHead.sequence });
 * if (firstBad?.reason === 'sequence_gap') console.error('rows missing from', firstBad.sequence);
 * ```
 */
export type VerifyFaultReason =
  | 'schema'
  | 'sequence_gap'
  | 'prev_hash'
  | 'stream_version'
  | 'content_hash'
  | 'storage_class'
  | 'halted'
  | 'reserved_stream'
  | 'event_type'
  | 'key_registration'
  | 'key_revocation'
  | 'ceremony'
  | 'signature'
  | 'ledger_meta'
  | 'derived_table'
  | 'event_id'
  | 'head_sidecar'
  | 'expected_head'
  | 'merkle_node'
  | 'checkpoint';

/**
 * The first row that fails verification, and why.
 *
 * @example
 * ```ts
 * const { firstBad } = await ledger.verify();
 * if (firstBad) console.error(`#${firstBad.sequence} ${firstBad.reason}`, firstBad.expected, firstBad.actual, firstBad.detail);
 * ```
 */
export interface VerifyFault {
  /**
   * Sequence of the faulty (or, for `sequence_gap`, missing) row; for `head_sidecar` and
   * `expected_head` the sequence the outside head names; 0 for a fault of the file as a whole
   * (`schema`, an unreadable sidecar), reported before any row.
   */
  sequence: number;
  reason: VerifyFaultReason;
  /** What the row should hold: the expected sequence, link, version or stored hash. */
  expected?: string | number;
  /** What it holds: the sequence found instead, the stored link or version, the recomputed hash. */
  actual?: string | number;
  /** A sentence for rule faults (`signature`, `ceremony`, `checkpoint`, ...): which rule the row breaks. */
  detail?: string;
  /** For `schema`: the objects added, missing or changed against the shipped schema of the file's version. */
  schema?: SchemaDiff;
}

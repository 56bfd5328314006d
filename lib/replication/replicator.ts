/**
 * The replication port: what a ledger needs from any backend that keeps a copy of it.
 * {@link FileCopyReplicator} is the one Stele ships; another backend (object storage, a remote
 * service) implements the same four members.
 */
import type { LedgerError } from '../errors.ts';
import type { VerifyFault } from '../verify/verify-fault.ts';

/**
 * The primary a replicator copies from.
 *
 * @example
 * ```ts
 * class BucketReplicator implements Replicator {
 *   readonly id = 's3://audit-backup';
 *   #source: string | undefined;
 *   async attach(primary: PrimarySource) { this.#source = primary.path; } // the file to copy rows from
 *   // propagate(upTo), verify() and close() ...
 * }
 * ```
 */
export interface PrimarySource {
  /** Absolute path of the primary ledger file. */
  path: string;
}

/**
 * The outcome of one propagation. `confirmed` means the copy holds every row up to `sequence`
 * durably (committed and synced on its side); nothing less earns a receipt.
 *
 * @example
 * ```ts
 * for (const receipt of await ledger.replicate()) {
 *   if (receipt.status !== 'confirmed') console.error(receipt.replicaId, receipt.status, receipt.error?.code);
 * }
 * ```
 */
export interface ReplicationReceipt {
  /** The replicator's {@link Replicator.id}. */
  replicaId: string;
  /** The copy's head after this propagation (its last confirmed sequence, also when it failed). */
  sequence: number;
  /** `not_configured`: the replicator is not attached to a primary (or is closed). */
  status: 'confirmed' | 'failed' | 'not_configured';
  at: Date;
  /** Why it failed: REPLICA_DIVERGED, REPLICA_AHEAD, NOT_A_REPLICA, REPLICATION_FAILED. */
  error?: LedgerError;
}

/**
 * A copy checked against its primary. `ok` is the conjunction of the checks; `errors` says in
 * words what failed, and `firstBad` is the copy's first bad row when its own chain is broken.
 *
 * @example
 * ```ts
 * for (const r of await ledger.verifyReplicas()) {
 *   console.log(r.replicaId, r.ok ? `ok, lag ${r.lag}` : r.errors.join('; '));
 * }
 * ```
 */
export interface VerificationResult {
  replicaId: string;
  ok: boolean;
  /** The copy's head sequence. */
  sequence: number;
  /** Rows the primary has that the copy does not yet (negative when the copy is ahead). */
  lag: number;
  /** The copy's head hash equals the primary's row at the same sequence (true for an empty copy). */
  headHashMatch: boolean;
  /** Every signed row of the copy verifies against the key history the copy itself holds. */
  signatureValid: boolean;
  /** Both files are at the same schema version (`PRAGMA user_version`). */
  schemaVersionMatch: boolean;
  /** No sequence is missing from the copy below its head. */
  continuous: boolean;
  /** The copy's first faulty row, from a full verification of its chain. */
  firstBad?: VerifyFault;
  errors: string[];
}

/**
 * A backend that keeps a copy of a ledger. The ledger attaches it once, then asks it to
 * propagate up to a sequence; propagation is incremental and idempotent (asking again for rows
 * the copy holds confirms at once). A replicator never throws for a replication failure: the
 * receipt says `failed` and carries the coded error.
 *
 * @example
 * ```ts
 * const ledger = await openLedger('audit.db', {
 *   replicas: [new FileCopyReplicator('/mnt/backup/audit.db')],
 *   replication: 'sync',
 * });
 * ```
 */
export interface Replicator {
  /** Names the copy in receipts, results and `health()`. */
  readonly id: string;
  /** Connects to the primary; called once by `openLedger` before any propagation. */
  attach(primary: PrimarySource): Promise<void>;
  /** Copies the primary's rows up to `upTo` (at most the primary's head) and confirms them durably. */
  propagate(upTo: number): Promise<ReplicationReceipt>;
  /** Checks the copy in full against the primary. */
  verify(): Promise<VerificationResult>;
  /** Releases the copy; later calls answer `not_configured`. */
  close(): Promise<void>;
}

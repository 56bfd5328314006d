/**
 * A ledger's replicas: one lane per replicator that coalesces requests (while a propagation runs,
 * every later request waits for the next one, which covers them all), tracks the confirmed
 * sequence, and answers each request with the receipt that covered it.
 * @internal
 */
import { LedgerError } from '../errors.ts';
import type { ReplicationReceipt, Replicator, VerificationResult } from './replicator.ts';

/**
 * A replica's condition in {@link Ledger.health}.
 *
 * @example
 * ```ts
 * for (const r of ledger.health().replicas) {
 *   if (r.status === 'failed' || r.lag > 1_000) console.warn(r.replicaId, r.confirmedSequence, r.lag, r.errorCode);
 * }
 * ```
 */
export interface ReplicaHealth {
  replicaId: string;
  /** Highest sequence the replica confirmed. */
  confirmedSequence: number;
  /** Rows of the primary the replica has not confirmed yet. */
  lag: number;
  /** Outcome of the last propagation; `pending` before the first. */
  status: ReplicationReceipt['status'] | 'pending';
  lastConfirmedAt: Date | undefined;
  /** Code of the last failure, while the replica is failing. */
  errorCode: string | undefined;
}

class Lane {
  readonly replicator: Replicator;
  confirmed = 0;
  last: ReplicationReceipt | undefined;
  lastConfirmedAt: Date | undefined;
  #wanted = 0;
  #running = false;
  #waiters: { sequence: number; resolve: (receipt: ReplicationReceipt) => void }[] = [];

  constructor(replicator: Replicator) {
    this.replicator = replicator;
  }

  /** The receipt of the propagation that brought the replica to `sequence`, or of the one that failed trying. */
  reach(sequence: number): Promise<ReplicationReceipt> {
    if (sequence <= this.confirmed && this.last) return Promise.resolve(this.last);
    this.#wanted = Math.max(this.#wanted, sequence);
    const receipt = new Promise<ReplicationReceipt>((resolve) => this.#waiters.push({ sequence, resolve }));
    if (!this.#running) void this.#drive();
    return receipt;
  }

  async #drive(): Promise<void> {
    this.#running = true;
    try {
      while (this.#waiters.length > 0) {
        const asked = this.#wanted;
        const receipt = await this.#propagate(asked);
        this.last = receipt;
        const confirmed = receipt.status === 'confirmed';
        if (confirmed) {
          this.confirmed = Math.max(this.confirmed, receipt.sequence);
          this.lastConfirmedAt = receipt.at;
        } else {
          this.#wanted = this.confirmed;
        }
        // A request is answered by the first attempt asked to cover it, whatever its outcome (a
        // receipt short of the request is a failure to the caller), or by any that covered it.
        const answered = (w: { sequence: number }) => w.sequence <= asked || (confirmed && w.sequence <= receipt.sequence);
        const settled = this.#waiters.filter(answered);
        this.#waiters = this.#waiters.filter((w) => !answered(w));
        for (const waiter of settled) waiter.resolve(receipt);
      }
    } finally {
      this.#running = false;
    }
  }

  async #propagate(upTo: number): Promise<ReplicationReceipt> {
    try {
      return await this.replicator.propagate(upTo);
    } catch (error) {
      // A third-party replicator that throws is treated like one that reported the failure.
      const failure = error instanceof LedgerError ? error : LedgerError.of('REPLICATION_FAILED', { replicaId: this.replicator.id }, String(error));
      return { replicaId: this.replicator.id, sequence: this.confirmed, status: 'failed', at: new Date(), error: failure };
    }
  }
}

/** The replicas of one primary, each in its own lane (one propagation at a time per replica). */
export class ReplicaSet {
  readonly mode: 'sync' | 'async';
  readonly #lanes: Lane[];
  #onFailure: ((receipt: ReplicationReceipt) => void) | undefined;
  readonly #reported = new WeakSet<ReplicationReceipt>();

  constructor(replicators: readonly Replicator[], mode: 'sync' | 'async') {
    this.mode = mode;
    this.#lanes = replicators.map((replicator) => new Lane(replicator));
  }

  /** Hears of each failed receipt, once. */
  onFailure(listener: (receipt: ReplicationReceipt) => void): void {
    this.#onFailure = listener;
  }

  async attach(primaryPath: string): Promise<void> {
    await Promise.all(this.#lanes.map((lane) => lane.replicator.attach({ path: primaryPath })));
  }

  /** Every replica brought to `sequence`; failures are reported through `onFailure` too. */
  async reach(sequence: number): Promise<ReplicationReceipt[]> {
    const receipts = await Promise.all(this.#lanes.map((lane) => lane.reach(sequence)));
    for (const receipt of receipts) {
      // Every request a failed attempt answers hears of it; the failure is reported once.
      if (receipt.status !== 'failed' || this.#reported.has(receipt)) continue;
      this.#reported.add(receipt);
      this.#onFailure?.(receipt);
    }
    return receipts;
  }

  /**
   * After an acknowledged append: in sync mode, a promise that resolves once every replica
   * confirmed `sequence` and rejects with REPLICATION_FAILED naming those that did not; in async
   * mode the propagation starts and nothing is returned, nor without replicas: the caller's
   * append then pays for nothing here.
   */
  afterAppend(sequence: number, eventId: string): Promise<void> | undefined {
    if (this.#lanes.length === 0) return undefined;
    if (this.mode === 'async') {
      void this.reach(sequence);
      return undefined;
    }
    return this.#confirmed(sequence, eventId);
  }

  async #confirmed(sequence: number, eventId: string): Promise<void> {
    const failed = (await this.reach(sequence)).filter((receipt) => receipt.status !== 'confirmed' || receipt.sequence < sequence);
    if (failed.length === 0) return;
    throw LedgerError.of('REPLICATION_FAILED', {
      sequence,
      eventId,
      committed: true,
      failed: failed.map((receipt) => ({ replicaId: receipt.replicaId, sequence: receipt.sequence, code: receipt.error?.code })),
    });
  }

  verify(): Promise<VerificationResult[]> {
    return Promise.all(this.#lanes.map((lane) => lane.replicator.verify()));
  }

  health(head: number): ReplicaHealth[] {
    return this.#lanes.map((lane) => ({
      replicaId: lane.replicator.id,
      confirmedSequence: lane.confirmed,
      lag: Math.max(0, head - lane.confirmed),
      status: lane.last?.status ?? 'pending',
      lastConfirmedAt: lane.lastConfirmedAt,
      errorCode: lane.last?.status === 'failed' ? lane.last.error?.code : undefined,
    }));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#lanes.map((lane) => lane.replicator.close()));
  }
}

/**
 * Working with a replica file directly: reading it, one-off copies, and the witnessed ceremony
 * that promotes it to a primary when the primary is lost.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { systemEvent } from '../format/event-encoding.ts';
import { openLedger, type Ledger } from '../ledger/ledger.ts';
import { APPEND_SQL, appendArgs, parseRaised } from '../sqlite/native-sql.ts';
import type { LedgerOptions } from '../options.ts';
import { checkWitnesses, type WitnessSignature } from '../format/signing.ts';
import { verifyLedgerFile } from '../verify/verify-ledger-file.ts';
import { openForAppend, readReplicaState, ReplicaFile, type Head } from './replica-file.ts';
import type { ReplicationReceipt } from './replicator.ts';

/**
 * What a replica file says about itself.
 *
 * @example
 * ```ts
 * const info = replicaInfo('/mnt/backup/audit.db');
 * console.log(info.replicaId, info.replicaOf, info.promoted, info.head.sequence);
 * ```
 */
export interface ReplicaInfo {
  /** The copy's own identity, written once when it was created; witnesses sign it to promote it. */
  replicaId: string;
  /** Path of the primary the copy was created from (informational). */
  replicaOf: string;
  /** True once its promotion ceremony is in the file: it is a primary of its own. */
  promoted: boolean;
  /** The copy's newest row (sequence 0 and 64 zeros when empty). */
  head: Head;
}

/**
 * Reads a replica's identity and head, e.g. for witnesses to sign its promotion. Throws
 * NOT_A_REPLICA for a file that never was one.
 *
 * @example
 * ```ts
 * const { replicaId, head, promoted } = replicaInfo('/mnt/backup/audit.db');
 * ```
 */
export function replicaInfo(path: string): ReplicaInfo {
  const db = openReadOnly(path);
  try {
    let state;
    try {
      const hasReplicaMode = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'view' AND name = 'replica_mode'").get() !== undefined;
      state = hasReplicaMode ? readReplicaState(db) : undefined;
    } catch (error) {
      throw LedgerError.of('NOT_A_LEDGER', { path, sqliteCode: (error as { code?: string }).code }, String((error as Error).message));
    }
    if (!state) throw LedgerError.of('NOT_A_REPLICA', { path });
    return { replicaId: state.replicaId, replicaOf: state.replicaOf, promoted: !state.unpromoted, head: state.head };
  } finally {
    db.close();
  }
}

/**
 * Opens a replica for reading: the same read API as a ledger opened with `readonly: true`.
 * A replica is eventually consistent: it holds a prefix of its primary, up to the last
 * propagation (in sync mode, every acknowledged event). Appending to it is refused until it is
 * promoted. Throws NOT_A_REPLICA for a file that is not a replica.
 *
 * @example
 * ```ts
 * const copy = await openReplica('/mnt/backup/audit.db');
 * console.log(copy.maxSequence(), copy.readStream('acct-1'));
 * await copy.close();
 * ```
 */
export async function openReplica(path: string, options: Pick<LedgerOptions, 'logger'> = {}): Promise<Ledger> {
  replicaInfo(path);
  return openLedger(path, { ...options, readonly: true });
}

/**
 * Copies the primary at `primaryPath` into the replica at `replicaPath` once, creating the copy
 * when it does not exist, and returns the receipt. Runs on the calling thread: meant for scripts
 * and the CLI, while a running ledger replicates through its `replicas` option. Takes the copy's
 * writer lock, so it fails with WRITER_LOCK_HELD while a ledger is replicating into it.
 *
 * @example
 * ```ts
 * const receipt = await replicateFile('audit.db', '/mnt/backup/audit.db');
 * if (receipt.status !== 'confirmed') throw receipt.error;
 * ```
 */
export async function replicateFile(primaryPath: string, replicaPath: string): Promise<ReplicationReceipt> {
  const primary = requireLedgerFile('primaryPath', primaryPath);
  const replicaId = resolvePath(replicaPath);
  const replica = ReplicaFile.open(replicaId, primary);
  try {
    const { head } = replica.propagate();
    return { replicaId, sequence: head.sequence, status: 'confirmed', at: new Date() };
  } catch (error) {
    if (!(error instanceof LedgerError)) throw error;
    return { replicaId, sequence: replica.head().sequence, status: 'failed', at: new Date(), error };
  } finally {
    replica.close();
  }
}

/**
 * The witnessed decision to make a replica a primary.
 *
 * @example
 * ```ts
 * const ceremony: PromotionCeremony = { reason: 'primary disk lost', witnesses: [w1, w2] }; // from witnessPromotion
 * await promoteReplica('/mnt/backup/audit.db', ceremony);
 * ```
 */
export interface PromotionCeremony {
  /** Why; each witness signs it (see {@link witnessPromotion}). */
  reason: string;
  /** At least the ledger's witness quorum (2) of signatures by distinct registered witnesses. */
  witnesses: WitnessSignature[];
}

/**
 * Failover, never automatic: verifies the replica in full, then appends the promotion ceremony
 * (naming the replica's id and head, signed by a quorum of the witnesses registered in its
 * history) through the replica's own guards. Only then can the copy be opened with
 * {@link openLedger} for writing; until then that fails with REPLICA_NOT_PROMOTED. Refused with
 * CEREMONY_REFUSED when the copy does not verify or the signatures fall short of the quorum,
 * NOT_A_REPLICA when the file is not an unpromoted replica. Returns the ceremony's place in the chain.
 *
 * @example
 * ```ts
 * const subject = replicaInfo('/mnt/backup/audit.db');
 * const reason = 'primary disk failed; backup verified';
 * await promoteReplica('/mnt/backup/audit.db', {
 *   reason,
 *   witnesses: [witnessPromotion(subject, reason, 'alice', alice.secretKey), witnessPromotion(subject, reason, 'bob', bob.secretKey)],
 * });
 * const ledger = await openLedger('/mnt/backup/audit.db');
 * ```
 */
export async function promoteReplica(path: string, ceremony: PromotionCeremony): Promise<Head> {
  const absolute = requireLedgerFile('path', path);
  const witnesses = checkWitnesses('promoteReplica', ceremony);
  const info = replicaInfo(absolute);
  if (info.promoted) throw LedgerError.of('NOT_A_REPLICA', { path: absolute, promoted: true });
  const check = await verifyLedgerFile(absolute);
  if (!check.ok) throw LedgerError.of('CEREMONY_REFUSED', { reason: 'the replica does not verify', firstBad: check.firstBad });
  const { db, lock } = openForAppend(absolute);
  try {
    const state = readReplicaState(db);
    if (!state?.unpromoted) throw LedgerError.of('NOT_A_REPLICA', { path: absolute, promoted: state !== undefined });
    const event = systemEvent('$replication', 'stele.replica_promoted', {
      replicaId: state.replicaId,
      headSequence: state.head.sequence,
      headHash: state.head.contentHash,
      reason: ceremony.reason,
      witnesses,
    });
    try {
      db.prepare(APPEND_SQL).run(...appendArgs(event));
    } catch (error) {
      const raised = parseRaised(error instanceof Error ? error.message : String(error));
      if (raised) throw LedgerError.of(raised.code, { ...raised.details, replicaId: state.replicaId });
      throw error;
    }
    return db.prepare('SELECT sequence, content_hash AS contentHash FROM events WHERE event_id = ?').get(event.eventId) as Head;
  } finally {
    db.close();
    lock.close();
  }
}

function requireLedgerFile(name: string, path: unknown): string {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) throw new TypeError(`${name} must be a file path`);
  const absolute = resolvePath(path);
  if (!existsSync(absolute)) throw LedgerError.of('NOT_A_LEDGER', { path: absolute }, 'no such file');
  return absolute;
}

function openReadOnly(path: string): Database.Database {
  const absolute = requireLedgerFile('path', path);
  try {
    return new Database(absolute, { readonly: true, fileMustExist: true });
  } catch (error) {
    throw LedgerError.of('NOT_A_LEDGER', { path: absolute, sqliteCode: (error as { code?: string }).code }, String((error as Error).message));
  }
}

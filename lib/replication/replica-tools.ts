/**
 * Working with a replica file directly: reading it, one-off copies, checking it against its
 * primary, and the witnessed ceremony that promotes it to a primary when the primary is lost.
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import type Database from 'better-sqlite3';
import { requireFilePath, requireKnownKeys, requireOptions, requirePublicKeys, requireString } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import type { LedgerHead } from '../event.ts';
import { systemEvent } from '../format/event-encoding.ts';
import { promoteReplicaBytes } from '../format/hash-bytes.ts';
import { checkWitnesses, type WitnessSignature } from '../format/signing.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { openLedger } from '../ledger/open-ledger.ts';
import type { LedgerOptions } from '../options.ts';
import { APPEND_SQL, appendArgs, raisedError } from '../sqlite/append-statement.ts';
import { openReadConnection } from '../sqlite/connections.ts';
import { schemaVersionOf } from '../sqlite/migrations.ts';
import { assertPinnedSchema } from '../sqlite/schema-pin.ts';
import { HASH_AT_SQL } from '../sqlite/queries.ts';
import { requireTrustedQuorum } from '../sqlite/witness-trust.ts';
import { verifyLedgerFile, type VerifyOptions } from '../verify/verify-ledger-file.ts';
import { headOf, openForAppend, readReplicaState, REPLICA_SCHEMA_VERSION, ReplicaFile } from './replica-file.ts';
import type { ReplicationReceipt, VerificationResult } from './replicator.ts';

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
  head: LedgerHead;
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
    // A copy whose rules were edited is not read as one (SCHEMA_MISMATCH, UNSUPPORTED_FORMAT).
    assertPinnedSchema(db, schemaVersionOf(db));
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
  // A copy opens read-only with the logger only: any other option would be silently dropped.
  requireKnownKeys(requireOptions('openReplica(options)', options), ['logger'], 'openReplica');
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
  /** At least the ledger's witness quorum (default 2) of signatures by distinct registered witnesses with distinct keys. */
  witnesses: WitnessSignature[];
}

/**
 * Options of {@link promoteReplica}.
 *
 * @example
 * ```ts
 * await promoteReplica('/mnt/backup/audit.db', ceremony, { trustedWitnesses: [alice.publicKey, bob.publicKey] });
 * ```
 */
export interface PromoteReplicaOptions {
  /**
   * Public keys (base64) of the witnesses the operator trusts, held outside the file: only their
   * signatures count toward the quorum, and the replica must verify with the same list (see
   * {@link VerifyOptions.trustedWitnesses}). Without it every witness key the copy registered counts.
   */
  trustedWitnesses?: readonly string[];
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
export async function promoteReplica(path: string, ceremony: PromotionCeremony, options: PromoteReplicaOptions = {}): Promise<LedgerHead> {
  const absolute = requireLedgerFile('path', path);
  const witnesses = checkWitnesses('promoteReplica', ceremony);
  requireKnownKeys(requireOptions('promoteReplica(path, ceremony, options)', options), ['trustedWitnesses'], 'promoteReplica');
  const trusted = options.trustedWitnesses === undefined ? undefined : requirePublicKeys('trustedWitnesses', options.trustedWitnesses);
  const info = replicaInfo(absolute);
  if (info.promoted) throw LedgerError.of('NOT_A_REPLICA', { path: absolute, promoted: true });
  const check = await verifyLedgerFile(absolute, trusted ? { trustedWitnesses: trusted } : {});
  if (!check.ok) throw LedgerError.of('CEREMONY_REFUSED', { reason: 'the replica does not verify', firstBad: check.firstBad });
  const { db, lock } = openForAppend(absolute);
  try {
    const state = readReplicaState(db);
    if (!state?.unpromoted) throw LedgerError.of('NOT_A_REPLICA', { path: absolute, promoted: state !== undefined });
    if (trusted) {
      requireTrustedQuorum(db, trusted, witnesses, promoteReplicaBytes(state.replicaId, state.head.sequence, state.head.contentHash, ceremony.reason));
    }
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
      throw raisedError(error, () => ({ replicaId: state.replicaId })) ?? error;
    }
    return db.prepare('SELECT sequence, content_hash AS contentHash FROM events WHERE event_id = ?').get(event.eventId) as LedgerHead;
  } finally {
    db.close();
    lock.close();
  }
}

function requireLedgerFile(name: string, path: unknown): string {
  const absolute = resolvePath(requireFilePath(name, path));
  if (!existsSync(absolute)) throw LedgerError.of('NOT_A_LEDGER', { path: absolute }, 'no such file');
  return absolute;
}

function openReadOnly(path: string, name = 'path'): Database.Database {
  return openReadConnection(requireLedgerFile(name, path));
}

/**
 * Verifies the copy at `replicaPath` against the primary at `primaryPath`: the copy's whole chain
 * (links, hashes, stream versions, continuity, and each signature re-verified against the key
 * history the copy holds), its head hash against the primary's row at the same sequence, both
 * schema versions, and how far it lags. The chain check stops at the copy's first bad row, which
 * `firstBad` names; `signatureValid` and `continuous` speak for the rows before it.
 *
 * @example
 * ```ts
 * import { verifyReplicaFile } from 'stele';
 * const result = await verifyReplicaFile('audit.db', '/mnt/backup/audit.db');
 * if (!result.ok) console.error(result.errors); // e.g. [ 'sequence 42: content_hash ...' ]
 * ```
 */
export async function verifyReplicaFile(primaryPath: string, replicaPath: string, replicaId: string = replicaPath): Promise<VerificationResult> {
  requireString('verifyReplicaFile: replicaId', replicaId);
  const primary = openReadOnly(primaryPath, 'verifyReplicaFile: primaryPath');
  const replica = openReadOnly(replicaPath, 'verifyReplicaFile: replicaPath');
  const errors: string[] = [];
  let facts: { sequence: number; lag: number; headHashMatch: boolean; schemaVersionMatch: boolean };
  try {
    // Both heads from one moment of each file; the primary may move on while the chain is checked.
    const schema = schemaVersionOf;
    const schemaVersionMatch = schema(primary) === schema(replica);
    if (!schemaVersionMatch) errors.push(`schema version ${schema(replica)} differs from the primary's ${schema(primary)}`);
    if (schema(replica) >= REPLICA_SCHEMA_VERSION && readReplicaState(replica) === undefined) errors.push('the file is not a replica (no replica_id)');
    const head = headOf(replica);
    const primaryHead = headOf(primary);
    const primaryHash =
      head.sequence === 0 ? head.contentHash : (primary.prepare(HASH_AT_SQL).pluck().get(head.sequence) as string | undefined);
    const headHashMatch = primaryHash === head.contentHash;
    if (head.sequence > primaryHead.sequence) errors.push(`the copy is ahead of its primary: ${head.sequence} > ${primaryHead.sequence}`);
    else if (!headHashMatch) errors.push(`head ${head.sequence}: hash ${head.contentHash} differs from the primary's ${primaryHash}`);
    facts = { sequence: head.sequence, lag: primaryHead.sequence - head.sequence, headHashMatch, schemaVersionMatch };
  } finally {
    primary.close();
    replica.close();
  }
  const chain = await verifyLedgerFile(replicaPath, { to: facts.sequence === 0 ? undefined : facts.sequence });
  const fault = chain.firstBad;
  if (fault) {
    const said = [fault.expected !== undefined ? `expected ${fault.expected}` : '', fault.actual !== undefined ? `found ${fault.actual}` : '', fault.detail ?? '']
      .filter(Boolean)
      .join(', ');
    errors.push(`sequence ${fault.sequence}: ${fault.reason}${said ? ` (${said})` : ''}`);
  }
  return {
    replicaId,
    ok: errors.length === 0,
    ...facts,
    signatureValid: fault?.reason !== 'signature',
    continuous: fault?.reason !== 'sequence_gap',
    ...(fault ? { firstBad: fault } : {}),
    errors,
  };
}

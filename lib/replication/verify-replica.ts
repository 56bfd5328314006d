/**
 * Checking a copy against its primary: the copy's own chain in full (on the verification pool),
 * then its head against the primary's row at the same height.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { verifyLedgerFile } from '../verify/verify-ledger-file.ts';
import { headOf, readReplicaState } from './replica-file.ts';
import type { VerificationResult } from './replicator.ts';

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
  for (const [name, path] of [['primaryPath', primaryPath], ['replicaPath', replicaPath]] as const) {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) throw new TypeError(`verifyReplicaFile: ${name} must be a file path`);
    if (!existsSync(path)) throw LedgerError.of('NOT_A_LEDGER', { path }, 'no such file');
  }
  const errors: string[] = [];
  const primary = new Database(primaryPath, { readonly: true, fileMustExist: true });
  const replica = new Database(replicaPath, { readonly: true, fileMustExist: true });
  let facts: { sequence: number; lag: number; headHashMatch: boolean; schemaVersionMatch: boolean };
  try {
    // Both heads from one moment of each file; the primary may move on while the chain is checked.
    const schema = (db: Database.Database) => db.pragma('user_version', { simple: true }) as number;
    const schemaVersionMatch = schema(primary) === schema(replica);
    if (!schemaVersionMatch) errors.push(`schema version ${schema(replica)} differs from the primary's ${schema(primary)}`);
    if (schema(replica) >= 4 && readReplicaState(replica) === undefined) errors.push('the file is not a replica (no replica_id)');
    const head = headOf(replica);
    const primaryHead = headOf(primary);
    const primaryHash =
      head.sequence === 0 ? head.contentHash : (primary.prepare('SELECT content_hash FROM events WHERE sequence = ?').pluck().get(head.sequence) as string | undefined);
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

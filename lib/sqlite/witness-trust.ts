/**
 * A ceremony counted by the witnesses an app trusts (the `trustedWitnesses` it holds outside the
 * file), checked on the caller's side before the ceremony is appended. The triggers then check
 * it again against every witness key the file registered; this check is what a key slipped into
 * the file cannot pass.
 * @internal
 */
import type Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import { verifyEd25519 } from '../format/ed25519.ts';
import type { WitnessSignature } from '../format/signing.ts';
import { witnessQuorumOf } from './queries.ts';

const ACTIVE_WITNESS_KEYS_SQL = `SELECT public_key FROM agent_keys AS k
  WHERE k.agent_id = ? AND k.role = 'witness'
    AND NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id)`;

/**
 * CEREMONY_REFUSED unless at least the file's quorum of distinct witnesses, with distinct trusted
 * active keys, signed `bytes`.
 */
export function requireTrustedQuorum(db: Database.Database, trusted: readonly string[], witnesses: readonly WitnessSignature[], bytes: Uint8Array): void {
  const quorum = witnessQuorumOf(db);
  const activeKeys = db.prepare<[string], string>(ACTIVE_WITNESS_KEYS_SQL).pluck();
  const trust = new Set(trusted);
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const { witnessId, signature } of witnesses) {
    if (ids.has(witnessId)) continue;
    const key = activeKeys.all(witnessId).find((candidate) => trust.has(candidate) && verifyEd25519(candidate, bytes, signature));
    if (key === undefined) continue;
    ids.add(witnessId);
    keys.add(key);
  }
  const valid = Math.min(ids.size, keys.size);
  if (valid < quorum) {
    throw LedgerError.of('CEREMONY_REFUSED', { reason: 'not enough valid signatures of trusted witnesses', valid, quorum });
  }
}

/**
 * The SQL functions `native-sql/` triggers call: the content hash, the signature checks and the
 * settings the triggers read. Without them a connection can read but cannot append: inserting
 * into `events` does not even prepare.
 * @internal
 */
import type Database from 'better-sqlite3';
import { SIGNED_COLUMNS } from '../format/columns.ts';
import { isValidPublicKey, verifyEd25519 } from '../format/ed25519.ts';
import { clearHaltBytes, eventHash, promoteReplicaBytes, signedBytesOf } from '../format/hash-bytes.ts';
import { merkleLeafHash, merkleNodeHash } from '../format/merkle-hash.ts';

/** Settings the triggers read through registered functions rather than from a table. */
export interface NativeFunctionSettings {
  driftThresholdMs: number;
}

/** Registers Stele's functions on a connection that will append. */
export function registerNativeFunctions(db: Database.Database, settings: NativeFunctionSettings): void {
  // One-entry memo: the events guard recomputes the hash the append view's trigger computed a
  // moment before, from the same values. The function is deterministic, so returning the previous
  // result for identical arguments is exactly what recomputing would give, at half the cost.
  let lastValues: unknown[] = [];
  let lastHash = '';
  db.function('stele_event_hash', { deterministic: true, varargs: true }, (...values: unknown[]) => {
    if (values.length === lastValues.length && values.every((value, i) => value === lastValues[i])) return lastHash;
    lastHash = eventHash(values);
    lastValues = values;
    return lastHash;
  });
  db.function('stele_drift_threshold_ms', { deterministic: true }, () => settings.driftThresholdMs);
  db.function('stele_public_key_valid', { deterministic: true }, (key: unknown) => (isValidPublicKey(key) ? 1 : 0));
  db.function('stele_signature_valid', { deterministic: true, varargs: true }, (key: unknown, signature: unknown, ...signed: unknown[]) => {
    if (signed.length !== SIGNED_COLUMNS.length) {
      throw new TypeError(`stele_signature_valid takes ${2 + SIGNED_COLUMNS.length} arguments, got ${2 + signed.length}`);
    }
    return verifyEd25519(key, signedBytesOf(signed), signature) ? 1 : 0;
  });
  db.function(
    'stele_clear_halt_signature_valid',
    { deterministic: true },
    (key: unknown, signature: unknown, haltSequence: unknown, haltHash: unknown, reason: unknown) =>
      verifyEd25519(key, clearHaltBytes(Number(haltSequence), String(haltHash), String(reason)), signature) ? 1 : 0,
  );
  db.function(
    'stele_promotion_signature_valid',
    { deterministic: true },
    (key: unknown, signature: unknown, replicaId: unknown, headSequence: unknown, headHash: unknown, reason: unknown) =>
      verifyEd25519(key, promoteReplicaBytes(String(replicaId), Number(headSequence), String(headHash), String(reason)), signature) ? 1 : 0,
  );
  registerMerkleFunctions(db);
}

/**
 * The tree functions of `005-merkle-tree.sql`. `stele_merkle_fold(content_hash, sibling)` is a
 * running aggregate over the left siblings of a new leaf, lowest level first: its value at each
 * row is the hash of the complete subtree that the new leaf closes at the next level up, so one
 * INSERT … SELECT writes every node an append completes (triggers may not use a CTE, and a
 * recursive trigger would depend on the connection's recursive_triggers).
 */
function registerMerkleFunctions(db: Database.Database): void {
  // The guard of merkle_nodes recomputes the leaf the events trigger computed a moment before.
  let lastContentHash: unknown;
  let lastLeaf = Buffer.alloc(0);
  const leaf = (contentHash: unknown): Buffer => {
    if (contentHash !== lastContentHash) {
      lastLeaf = merkleLeafHash(contentHash);
      lastContentHash = contentHash;
    }
    return lastLeaf;
  };
  db.function('stele_merkle_leaf', { deterministic: true }, leaf);
  db.function('stele_merkle_node', { deterministic: true }, (left: unknown, right: unknown) => merkleNodeHash(left, right));
  db.aggregate('stele_merkle_fold', {
    start: () => null as Buffer | null,
    step: (acc: Buffer | null, contentHash: unknown, sibling: unknown) => merkleNodeHash(sibling, acc ?? leaf(contentHash)),
    // The frame only grows (ROWS UNBOUNDED PRECEDING): SQLite never removes a row from it.
    inverse: () => {
      throw new Error('stele_merkle_fold is a running fold: its window frame must start at UNBOUNDED PRECEDING');
    },
    result: (acc: Buffer | null) => acc,
  });
}

/**
 * The rules of stored checkpoints (native-sql/schema/10-checkpoints.sql), replayed from the chain
 * once the chain and the tree have passed: each `$checkpoints` row holds a well-formed payload,
 * shares the first checkpoint's log key and origin (and, with `trustedLogKey`, that key is the
 * one the verifier holds), covers only events before it, is for a larger tree than every one
 * before it (`stele.checkpoint`) or repeats an earlier one's text (`stele.checkpoint_cosigned`),
 * carries a valid signature by the log key, and has the root of the tree at its size. FORMAT.md "Verifying a ledger", step 13.
 * @internal
 */
import type Database from 'better-sqlite3';
import { toHex } from '../proofs/bytes.ts';
import { treeRoot } from '../proofs/merkle-tree.ts';
import { MerkleStore } from '../sqlite/merkle-store.ts';
import { CHECKPOINT_STREAM, COSIGNED_CHECKPOINT_TYPE, signedByLogKey, storedCheckpointPayload } from '../sqlite/stored-checkpoint.ts';
import type { VerifyFault } from './verify-fault.ts';

/** The first `$checkpoints` row up to `to` that breaks a rule, as a `checkpoint` fault. */
export function storedCheckpointFault(db: Database.Database, to: number, trustedLogKey: string | undefined): VerifyFault | undefined {
  const rows = db
    .prepare<[string, number], { sequence: number; type: string; payload: string | null; payloadMeta: string | null }>(
      'SELECT sequence, type, payload, payload_meta AS payloadMeta FROM events WHERE stream_id = ? AND sequence <= ? ORDER BY sequence',
    )
    .all(CHECKPOINT_STREAM, to); // read before the tree is: one statement at a time on a connection
  let tree: MerkleStore | undefined; // files before schema 5 have no tree, and no checkpoints
  const bodies = new Set<string>();
  let first: { logKey: string; origin: string } | undefined;
  let newestSize = 0;
  for (const { sequence, type, payload, payloadMeta } of rows) {
    const fault = (detail: string, expected?: string | number, actual?: string | number): VerifyFault => ({
      sequence,
      reason: 'checkpoint',
      detail,
      ...(expected === undefined ? {} : { expected }),
      ...(actual === undefined ? {} : { actual }),
    });
    const checkpoint = payloadMeta === null ? storedCheckpointPayload(payload) : undefined;
    if (!checkpoint) return fault('a $checkpoints payload must be {"logKey": <Ed25519 vkey>, "note": <a signed checkpoint of at least one event>}');
    first ??= { logKey: checkpoint.logKey, origin: checkpoint.origin };
    if (trustedLogKey !== undefined && checkpoint.logKey !== trustedLogKey) return fault('the checkpoint names another log key than the trusted one', trustedLogKey, checkpoint.logKey);
    if (checkpoint.logKey !== first.logKey) return fault("another log key than the ledger's first checkpoint", first.logKey, checkpoint.logKey);
    if (checkpoint.origin !== first.origin) return fault("another origin than the ledger's first checkpoint", first.origin, checkpoint.origin);
    if (checkpoint.size >= sequence) return fault('a checkpoint covers only the events before it', sequence - 1, checkpoint.size);
    const cosigned = type === COSIGNED_CHECKPOINT_TYPE;
    if (!cosigned && checkpoint.size <= newestSize) return fault('a tree no larger than the newest checkpoint', newestSize + 1, checkpoint.size);
    if (cosigned && !bodies.has(checkpoint.body)) return fault('cosignatures of a checkpoint that is not stored');
    if (!signedByLogKey(checkpoint)) return fault('the note has no valid signature by its log key');
    let root: string;
    try {
      tree ??= new MerkleStore(db);
      root = toHex(treeRoot(tree, checkpoint.size));
    } catch (error) {
      return fault(`the tree of ${checkpoint.size} events cannot be read: ${(error as Error).message}`);
    }
    const claimed = toHex(checkpoint.rootHash);
    if (root !== claimed) return fault(`the tree of ${checkpoint.size} events has another root`, root, claimed);
    if (!cosigned) {
      bodies.add(checkpoint.body);
      newestSize = checkpoint.size;
    }
  }
  return undefined;
}

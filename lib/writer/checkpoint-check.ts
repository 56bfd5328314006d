/**
 * The checkpoint checks of the writer's start: the file's Merkle tree at the size of the
 * `trustedCheckpoint`, and of the newest stored checkpoint, must have the checkpoint's root.
 * Since the root commits to every leaf before it, this is exactly "the file holds that tree as a
 * prefix": a rollback or a deleted tail (the size is gone) and any rewrite behind the checkpoint
 * (the root differs) fail it.
 * @internal
 */
import type Database from 'better-sqlite3';
import { parseCheckpoint } from '../proofs/checkpoint.ts';
import { treeRoot } from '../proofs/merkle-tree.ts';
import { parseNote } from '../proofs/signed-note.ts';
import { toHex } from '../proofs/bytes.ts';
import { MerkleStore } from '../sqlite/merkle-store.ts';
import { CHECKPOINT_STREAM, signedByLogKey, storedCheckpointPayload } from '../sqlite/stored-checkpoint.ts';

/** Why the file does not contain a trusted checkpoint (the startup check names it 'checkpoint'). */
export interface CheckpointFault {
  sequence: number;
  expected: string;
  actual: string | undefined;
  reason: string;
}

/** The fault of a trusted checkpoint the file does not contain, or undefined when it does. */
export function checkpointFault(db: Database.Database, signedCheckpoint: string): CheckpointFault | undefined {
  let size: number;
  let root: string;
  try {
    const checkpoint = parseCheckpoint(parseNote(signedCheckpoint).text);
    size = checkpoint.size;
    root = toHex(checkpoint.rootHash);
  } catch (error) {
    return { sequence: 0, expected: 'a signed checkpoint', actual: undefined, reason: String((error as Error).message) };
  }
  const store = new MerkleStore(db);
  const stored = store.size;
  if (size > stored) {
    return { sequence: size, expected: root, actual: 'missing', reason: `the checkpoint has ${size} events, the file ${stored}` };
  }
  let actual: string;
  try {
    actual = toHex(treeRoot(store, size));
  } catch (error) {
    return { sequence: size, expected: root, actual: 'missing', reason: String((error as Error).message) };
  }
  return actual === root ? undefined : { sequence: size, expected: root, actual, reason: 'the tree at that size has another root' };
}

/**
 * The newest stored checkpoint against the file: the log's own signature by the key it names,
 * that key the writer's `logKey` when one is configured, and its root the tree's at its size. The
 * triggers checked all of it at append, so a fault here is a file changed behind them: rows
 * rewritten under a checkpoint the forger could not sign again, or a forger's own log key.
 */
export function newestStoredCheckpointFault(db: Database.Database, logKey: string | undefined): CheckpointFault | undefined {
  const newest = db
    .prepare<[string], { sequence: number; payload: string | null }>('SELECT sequence, payload FROM events WHERE stream_id = ? ORDER BY stream_version DESC LIMIT 1')
    .get(CHECKPOINT_STREAM);
  if (!newest) return undefined;
  const stored = storedCheckpointPayload(newest.payload);
  const fault = (reason: string, expected: string, actual?: string): CheckpointFault => ({ sequence: newest.sequence, expected, actual, reason });
  if (!stored) return fault('the newest stored checkpoint is not a well-formed one', 'a signed checkpoint');
  if (logKey !== undefined && stored.logKey !== logKey) return fault("the stored checkpoints name another log key than this ledger's", logKey, stored.logKey);
  if (!signedByLogKey(stored)) return fault('the newest stored checkpoint has no valid signature by its log key', stored.logKey);
  return checkpointFault(db, stored.note);
}

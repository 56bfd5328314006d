/**
 * The `trustedCheckpoint` check of the writer's start: the file's Merkle tree at the
 * checkpoint's size must have the checkpoint's root. Since the root commits to every leaf
 * before it, this is exactly "the file holds that tree as a prefix": a rollback or a deleted
 * tail (the size is gone) and any rewrite behind the checkpoint (the root differs) fail it.
 * @internal
 */
import type Database from 'better-sqlite3';
import { parseCheckpoint } from '../proofs/checkpoint.ts';
import { treeRoot } from '../proofs/merkle-tree.ts';
import { parseNote } from '../proofs/signed-note.ts';
import { toHex } from '../proofs/bytes.ts';
import { MerkleStore } from '../sqlite/merkle-store.ts';

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

/**
 * The `merkle_nodes` table of `005-merkle-tree.sql` as a {@link SubtreeSource}: the root of any
 * past size and any proof of `lib/proofs` read from the stored complete subtrees, O(log n) point
 * reads of the primary key each.
 * @internal
 */
import type Database from 'better-sqlite3';
import type { SubtreeSource } from '../proofs/merkle-tree.ts';

/** The hash of one complete subtree, or undefined when the row is missing. */
export const SUBTREE_HASH_SQL = 'SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?';
/** How many leaves the stored tree has (the newest leaf's index + 1; 0 when empty). */
export const TREE_SIZE_SQL = 'SELECT coalesce(max(idx) + 1, 0) FROM merkle_nodes WHERE level = 0';

/**
 * A {@link SubtreeSource} over a connection to a ledger file of schema 5 or later. Rows only
 * ever get added, and a stored subtree never changes, so reads taken across several statements
 * (each seeing the newest commit) still describe one tree of any size up to `size`.
 *
 * @example
 * ```ts
 * const store = new MerkleStore(db);
 * const root = treeRoot(store, 1000);
 * const proof = inclusionProof(store, 41, 1000);
 * ```
 */
export class MerkleStore implements SubtreeSource {
  readonly #subtree: Database.Statement<[number, number], Buffer>;
  readonly #size: Database.Statement<[], number>;

  constructor(db: Database.Database) {
    this.#subtree = db.prepare<[number, number], Buffer>(SUBTREE_HASH_SQL).pluck();
    this.#size = db.prepare<[], number>(TREE_SIZE_SQL).pluck();
  }

  /** The number of leaves stored: the ledger's event count when the tree is intact. */
  get size(): number {
    return this.#size.get() ?? 0;
  }

  /** The stored hash of the subtree `[start, start + 2 ** level)`; a missing row is an error. */
  subtreeHash(start: number, level: number): Uint8Array {
    const index = start / 2 ** level;
    const hash = this.#subtree.get(level, index);
    if (hash === undefined) {
      throw new Error(`merkle_nodes has no row for level ${level}, index ${index}: the stored tree is incomplete`);
    }
    return new Uint8Array(hash.buffer, hash.byteOffset, hash.byteLength);
  }
}

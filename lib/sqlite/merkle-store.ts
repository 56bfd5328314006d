/**
 * The `merkle_nodes` table of `schema/8-merkle-tree.sql` as a {@link SubtreeSource}: the root of
 * any past size and any proof of `lib/proofs` read from the stored complete subtrees, O(log n)
 * point reads of the primary key each. The subtrees below the lowest level the file keeps (the
 * tiles of 16 leaves from schema 9; the leaves themselves in schemas 5 to 8) are recomputed from
 * the events' content hashes, at most 16 rows read.
 * @internal
 */
import type Database from 'better-sqlite3';
import { merkleSubtreeHash, TILE_LEVEL } from '../format/merkle-hash.ts';
import type { SubtreeSource } from '../proofs/merkle-tree.ts';
import { schemaVersionOf } from './migrations.ts';

/** The schema version from which merkle_nodes keeps only the tiles and above (upgrades/009). */
const TILES_SINCE = 9;

/** The lowest level of the tree a ledger file keeps rows for. */
export function lowestStoredLevel(db: Database.Database): number {
  return schemaVersionOf(db) >= TILES_SINCE ? TILE_LEVEL : 0;
}

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
  readonly #lowest: number;
  readonly #subtree: Database.Statement<[number, number], Buffer>;
  readonly #contentHashes: Database.Statement<[number, number], string>;
  readonly #size: Database.Statement<[], number>;

  constructor(db: Database.Database) {
    this.#lowest = lowestStoredLevel(db);
    this.#subtree = db.prepare<[number, number], Buffer>('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?').pluck();
    this.#contentHashes = db.prepare<[number, number], string>('SELECT content_hash FROM events WHERE sequence BETWEEN ? AND ? ORDER BY sequence').pluck();
    // With the leaves stored, the tree's size is theirs; with tiles, every event is a leaf.
    this.#size = db
      .prepare<[], number>(this.#lowest === 0 ? 'SELECT coalesce(max(idx) + 1, 0) FROM merkle_nodes WHERE level = 0' : 'SELECT coalesce(max(sequence), 0) FROM events')
      .pluck();
  }

  /** The number of leaves: the ledger's event count when the tree is intact. */
  get size(): number {
    return this.#size.get() ?? 0;
  }

  /** The hash of the subtree `[start, start + 2 ** level)`: stored, or from its events below the lowest stored level; a missing row is an error. */
  subtreeHash(start: number, level: number): Uint8Array {
    const hash = level >= this.#lowest ? this.#subtree.get(level, start / 2 ** level) : this.#fromEvents(start, 2 ** level);
    if (hash === undefined) {
      throw new Error(`merkle_nodes has no row for level ${level}, index ${start / 2 ** level}: the stored tree is incomplete`);
    }
    return new Uint8Array(hash.buffer, hash.byteOffset, hash.byteLength);
  }

  /** Leaf `start` is the event of sequence `start + 1`. */
  #fromEvents(start: number, leaves: number): Buffer | undefined {
    const hashes = this.#contentHashes.all(start + 1, start + leaves);
    return hashes.length === leaves ? merkleSubtreeHash(hashes) : undefined;
  }
}

/**
 * `verify()`'s check of the Merkle tree `schema/8-merkle-tree.sql` keeps: every stored node
 * equals the one recomputed from the events' content hashes, and no node is missing or extra.
 * A node is written by the append that completes it, so a wrong or missing node is reported at
 * that append's sequence, the last leaf it covers. Files before schema 5 have no stored tree;
 * from schema 9 the file keeps the nodes from the tiles of 16 leaves up (the levels below are
 * recomputed here, as everywhere), before it from the leaves up.
 * @internal
 */
import type Database from 'better-sqlite3';
import { AT, type RawRow } from '../format/columns.ts';
import { merkleLeafHash, merkleLeafHashInto, merkleNodeHash, merkleNodeHashInto } from '../format/merkle-hash.ts';
import { lowestStoredLevel } from '../sqlite/merkle-store.ts';
import type { PassedPage } from './chain-check.ts';
import type { VerifyFault } from './verify-fault.ts';

/** The first node of the stored tree that differs from the recomputed one, up to `head`. */
export function merkleTreeFault(db: Database.Database, head: number): VerifyFault | undefined {
  if (!hasStoredTree(db)) return undefined;
  const lowest = lowestStoredLevel(db);
  const stored = db.prepare<[number, number], Buffer>('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?').pluck();
  const leaves = db.prepare<[number], string>('SELECT content_hash FROM events WHERE sequence <= ? ORDER BY sequence').pluck();
  /** The complete subtrees not yet closed into a parent, lowest level last: a binary counter. */
  const open: Buffer[] = [];
  let sequence = 0;
  const check = (level: number, idx: number, expected: Buffer): VerifyFault | undefined => {
    if (level < lowest) return undefined;
    const actual = stored.get(level, idx);
    if (actual !== undefined && actual.equals(expected)) return undefined;
    return {
      sequence,
      reason: 'merkle_node',
      expected: expected.toString('hex'),
      actual: actual === undefined ? 'missing' : actual.toString('hex'),
      detail: `merkle_nodes (level ${level}, idx ${idx})`,
    };
  };
  for (const contentHash of leaves.iterate(head)) {
    sequence++;
    let node = merkleLeafHash(contentHash);
    let level = 0;
    const fault = check(0, sequence - 1, node);
    if (fault) return fault;
    // Leaf sequence - 1 closes one subtree per trailing zero bit of the sequence.
    while (((sequence >> level) & 1) === 0) {
      node = merkleNodeHash(open.pop()!, node);
      level++;
      const closed = check(level, (sequence >> level) - 1, node);
      if (closed) return closed;
    }
    open.push(node);
  }
  return merkleNodeCountFault(db, head);
}

/**
 * merkle_nodes holds exactly the nodes the appends up to `head` completed, no more (nodes closed
 * after `head`, while the check ran, are not counted). Called once every one of those nodes is
 * known to be present (the walk above, or every range's {@link TreeRangeCheck}), so the rows
 * counted are those nodes plus the rows outside them, which are found by a few seeks of the
 * primary key per level instead of a scan of every node.
 */
export function merkleNodeCountFault(db: Database.Database, head: number): VerifyFault | undefined {
  if (!hasStoredTree(db)) return undefined;
  const lowest = lowestStoredLevel(db);
  // A row counts when ((idx + 1) << level) <= head, in SQLite's 64-bit shifts: a level outside
  // the kept ones (lowest..62), a negative idx, or an idx past the head's whose shift overflows counts too.
  const counted = 'AND ((idx + 1) << level) <= ?';
  const outsideLevels = db
    .prepare<[number, number, number], number>(`SELECT (SELECT count(*) FROM merkle_nodes WHERE level < ? ${counted}) + (SELECT count(*) FROM merkle_nodes WHERE level > 62 ${counted})`)
    .pluck();
  const below = db.prepare<[number, number], number>(`SELECT count(*) FROM merkle_nodes WHERE level = ? AND idx < 0 ${counted}`).pluck();
  const past = db.prepare<[number, number, number], number>(`SELECT count(*) FROM merkle_nodes WHERE level = ? AND idx >= ? ${counted}`).pluck();
  let expectedCount = 0;
  let extra = outsideLevels.get(lowest, head, head)!;
  for (let level = lowest; level < 63; level++) {
    const completed = Math.floor(head / 2 ** level);
    expectedCount += completed;
    extra += below.get(level, head)! + past.get(level, completed, head)!;
  }
  if (extra !== 0) {
    return { sequence: head, reason: 'merkle_node', expected: expectedCount, actual: expectedCount + extra, detail: 'merkle_nodes holds rows no event completed' };
  }
  return undefined;
}

/**
 * The nodes completed by the appends [from, to], checked on one range's connection (a verify
 * pool thread) as the chain check hands over each page of rows that passed: each leaf against
 * its event's content hash, each parent against its two stored children, so that by induction
 * from the leaves every node is the recomputed one. `matches` is true when all matched;
 * `merkleTreeFault` then needs to run only when a range says false, to name the first faulty node.
 *
 * The content hashes come from the chain check's own read of the page, not a second one. Each
 * level of a page is one query that returns its stored nodes as one blob: what the level is
 * compared with, then the children its parents are recomputed from, so every node is read once
 * (a Buffer per node, or hex, would cost more than the hashing). Pages are the chain's: memory
 * stays bounded whatever the range size.
 */
export class TreeRangeCheck {
  #matches = true;
  readonly #lowest: number;
  readonly #stored: Database.Statement<[number, number, number], Buffer | null>;
  readonly #contentHashes: Database.Statement<[number, number], string>;

  /** Undefined for a file before schema 5, which has no stored tree. */
  static of(db: Database.Database): TreeRangeCheck | undefined {
    return hasStoredTree(db) ? new TreeRangeCheck(db) : undefined;
  }

  private constructor(db: Database.Database) {
    // group_concat joins its arguments as text: in a UTF-8 file a blob's bytes pass unchanged, in
    // a UTF-16 one they would be transcoded. Such a file's pages are never taken as matching; the
    // exact walk decides.
    this.#matches = db.pragma('encoding', { simple: true }) === 'UTF-8';
    this.#lowest = lowestStoredLevel(db);
    this.#contentHashes = db.prepare<[number, number], string>('SELECT content_hash FROM events WHERE sequence BETWEEN ? AND ? ORDER BY sequence').pluck();
    // The primary key (level, idx) is scanned in idx order, so the blob is the nodes in order
    // without sorting them (an ORDER BY inside the aggregate adds a temp B-tree). Were the order
    // ever different, the page would not match and the exact walk would run: slower, never wrong.
    // A node of another length than 32 bytes is left out, so that it shortens the blob: a
    // 31-byte node followed by a 33-byte one cannot spell the same bytes as two right ones.
    this.#stored = db
      .prepare<[number, number, number], Buffer | null>(
        "SELECT CAST(group_concat(hash, '') AS BLOB) FROM merkle_nodes WHERE level = ? AND idx BETWEEN ? AND ? AND length(hash) = 32",
      )
      .pluck();
  }

  /** Whether every node checked so far matched. */
  get matches(): boolean {
    return this.#matches;
  }

  /** The {@link PassedPage} of the chain check: checks the nodes completed by the appends of `rows`. */
  readonly page: PassedPage = (first, rows) => {
    if (this.#matches) this.#matches = this.#pageMatches(first, first + rows.length - 1, rows);
  };

  /**
   * The nodes of the lowest stored level completed by the appends of the page from `first`, in
   * one buffer (it has room for the levels above too): each from its leaves, whose content hashes
   * are the page's rows or, for a tile begun before the page, read back. Undefined when those
   * rows are not all there (a gap, which the chain check reports).
   */
  #lowestNodes(first: number, rows: readonly RawRow[]): Buffer | undefined {
    const width = 2 ** this.#lowest;
    const last = first + rows.length - 1;
    const low = Math.ceil(first / width) - 1;
    const count = Math.floor(last / width) - 1 - low + 1;
    // Room for every row's leaf, whatever this page completes: the levels above are written here too.
    const nodes = Buffer.allocUnsafe(Math.max(rows.length, count * width) * 32);
    if (count <= 0) return nodes;
    const firstLeaf = low * width + 1;
    const before = firstLeaf < first ? this.#contentHashes.all(firstLeaf, first - 1) : [];
    if (before.length !== Math.max(0, first - firstLeaf)) return undefined;
    for (let i = 0; i < count * width; i++) {
      const sequence = firstLeaf + i;
      merkleLeafHashInto(sequence < first ? before[sequence - firstLeaf] : rows[sequence - first]![AT.content_hash], nodes, i * 32);
    }
    // The levels below the stored one, each into the first half of the one beneath: subtrees
    // are aligned, so pairing the whole buffer pairs within each tile.
    for (let nodesAtLevel = (count * width) / 2; nodesAtLevel >= count; nodesAtLevel /= 2) {
      for (let i = 0; i < nodesAtLevel; i++) merkleNodeHashInto(nodes, i * 64, nodes, i * 32);
    }
    return nodes;
  }

  #pageMatches(first: number, last: number, rows: readonly RawRow[]): boolean {
    const expected = this.#lowestNodes(first, rows);
    if (!expected) return false;
    let children: Buffer | undefined;
    let childrenLow = 0;
    // The node (level, idx) is completed by the append of sequence (idx + 1) << level; a level
    // with no node completed here has none above it either.
    for (let level = this.#lowest; level < 63; level++) {
      const low = Math.ceil(first / 2 ** level) - 1;
      const high = Math.floor(last / 2 ** level) - 1;
      if (high < low) break;
      if (children) {
        for (let idx = low; idx <= high; idx++) merkleNodeHashInto(children, (2 * idx - childrenLow) * 32, expected, (idx - low) * 32);
      }
      // The parents one level up may need a left child completed by an append before `first`.
      const parentLow = Math.ceil(first / 2 ** (level + 1)) - 1;
      const parentHigh = Math.floor(last / 2 ** (level + 1)) - 1;
      const readLow = parentHigh >= parentLow ? Math.min(low, 2 * parentLow) : low;
      const stored = this.#stored.get(level, readLow, high) ?? EMPTY;
      const count = high - low + 1;
      if (stored.length !== (high - readLow + 1) * 32) return false;
      if (stored.compare(expected, 0, count * 32, (low - readLow) * 32, stored.length) !== 0) return false;
      children = stored;
      childrenLow = readLow;
    }
    return true;
  }
}

const EMPTY = Buffer.alloc(0);

/** Files before schema 5 have no stored tree. */
function hasStoredTree(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merkle_nodes'").pluck().get() === 1;
}

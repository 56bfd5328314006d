/**
 * `verify()`'s check of the Merkle tree `005-merkle-tree.sql` keeps: every stored node equals
 * the one recomputed from the events' content hashes, and no node is missing or extra. A node is
 * written by the append that completes it, so a wrong or missing node is reported at that
 * append's sequence, the last leaf it covers. Files before schema 5 have no stored tree.
 * @internal
 */
import type Database from 'better-sqlite3';
import { merkleLeafHash, merkleNodeHash } from '../format/merkle-hash.ts';
import type { VerifyFault } from './verify-fault.ts';

/** The first node of the stored tree that differs from the recomputed one, up to `head`. */
export function merkleTreeFault(db: Database.Database, head: number): VerifyFault | undefined {
  if (!hasStoredTree(db)) return undefined;
  const stored = db.prepare<[number, number], Buffer>('SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?').pluck();
  const leaves = db.prepare<[number], string>('SELECT content_hash FROM events WHERE sequence <= ? ORDER BY sequence').pluck();
  /** The complete subtrees not yet closed into a parent, lowest level last: a binary counter. */
  const open: Buffer[] = [];
  let sequence = 0;
  const check = (level: number, idx: number, expected: Buffer): VerifyFault | undefined => {
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

/** merkle_nodes holds exactly the nodes the appends up to `head` completed, no more (nodes closed after `head`, while the check ran, are not counted). */
export function merkleNodeCountFault(db: Database.Database, head: number): VerifyFault | undefined {
  if (!hasStoredTree(db)) return undefined;
  const count = db.prepare('SELECT count(*) FROM merkle_nodes WHERE ((idx + 1) << level) <= ?').pluck().get(head) as number;
  let expectedCount = 0;
  for (let level = 0; level < 63 && head >> level > 0; level++) expectedCount += Math.floor(head / 2 ** level);
  if (count !== expectedCount) {
    return { sequence: head, reason: 'merkle_node', expected: expectedCount, actual: count, detail: 'merkle_nodes holds rows no event completed' };
  }
  return undefined;
}

/** Nodes compared per query: one page of expected hashes against one string of stored ones. */
const NODE_PAGE = 4096;

/**
 * The nodes completed by the appends [from, to], checked on one range's connection (a verify
 * pool thread): each leaf against its event's content hash, each parent against its two stored
 * children, so that by induction from the leaves every node is the recomputed one. A page of
 * stored nodes is read as one hex string (a Buffer per node would cost more than the hashing) and
 * compared with the page recomputed. True when all match; `merkleTreeFault` then needs to run only
 * when a range says false, to name the first faulty node.
 */
export function treeRangeMatches(db: Database.Database, from: number, to: number): boolean {
  if (!hasStoredTree(db)) return true;
  const contentHashes = db.prepare<[number, number], string>('SELECT content_hash FROM events WHERE sequence BETWEEN ? AND ? ORDER BY sequence').pluck();
  const stored = db
    .prepare<[number, number, number], string | null>("SELECT string_agg(lower(hex(hash)), '' ORDER BY idx) FROM merkle_nodes WHERE level = ? AND idx BETWEEN ? AND ?")
    .pluck();
  for (let start = from; start <= to; start += NODE_PAGE) {
    const end = Math.min(to, start + NODE_PAGE - 1);
    const expected = contentHashes.all(start, end).map((contentHash) => merkleLeafHash(contentHash).toString('hex'));
    if (expected.length !== end - start + 1 || stored.get(0, start - 1, end - 1) !== expected.join('')) return false;
  }
  // The node (level, idx) is completed by the append of sequence (idx + 1) << level.
  for (let level = 1; level < 63 && 2 ** level <= to; level++) {
    for (let low = Math.ceil(from / 2 ** level) - 1, high = Math.floor(to / 2 ** level) - 1; low <= high; low += NODE_PAGE) {
      const last = Math.min(high, low + NODE_PAGE - 1);
      const children = Buffer.from(stored.get(level - 1, 2 * low, 2 * last + 1) ?? '', 'hex');
      if (children.length !== (last - low + 1) * 64) return false;
      let expected = '';
      for (let at = 0; at < children.length; at += 64) expected += merkleNodeHash(children.subarray(at, at + 32), children.subarray(at + 32, at + 64)).toString('hex');
      if (stored.get(level, low, last) !== expected) return false;
    }
  }
  return true;
}

/** Files before schema 5 have no stored tree. */
function hasStoredTree(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merkle_nodes'").pluck().get() === 1;
}

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
  const hasTree = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merkle_nodes'").pluck().get() === 1;
  if (!hasTree) return undefined;
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
  // Nodes closed by appends after `head` (made while this check ran) are not counted.
  const count = db.prepare('SELECT count(*) FROM merkle_nodes WHERE ((idx + 1) << level) <= ?').pluck().get(head) as number;
  let expectedCount = 0;
  for (let level = 0; level < 63 && head >> level > 0; level++) expectedCount += Math.floor(head / 2 ** level);
  if (count !== expectedCount) {
    return { sequence: head, reason: 'merkle_node', expected: expectedCount, actual: count, detail: 'merkle_nodes holds rows no event completed' };
  }
  return undefined;
}

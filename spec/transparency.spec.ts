/**
 * The ledger as a transparency log: the Merkle tree that 005-merkle-tree.sql keeps in the file
 * equals lib/proofs' tree of the content hashes at every size; the ledger's proofs, checkpoints
 * and bundles verify with lib/proofs alone; the node rows cannot be written around the trigger;
 * a file rolled back behind a trusted checkpoint does not open.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { LedgerError, openLedger, verifyLedgerFile } from '../lib/index.ts';
import {
  eventLeaf,
  generateKeyPair,
  leafHash,
  merkleRoot,
  parseCheckpoint,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyProofBundle,
} from '../lib/proofs/index.ts';
import { openReadConnection, openWriteConnection } from '../lib/sqlite/connections.ts';
import { checkRange } from '../lib/verify/chain-check.ts';
import { TreeRangeCheck } from '../lib/verify/merkle-check.ts';
import { MerkleStore } from '../lib/sqlite/merkle-store.ts';
import { treeRoot } from '../lib/proofs/merkle-tree.ts';
import { headSidecarPath } from '../lib/writer/head-sidecar.ts';
import { createLedger, reopen, tempDir, tempLedgerPath } from './helpers/temp-ledger.ts';

const ORIGIN = 'example.com/stele/spec';
const { signerKey: LOG_SKEY, verifierKey: LOG_VKEY } = generateKeyPair(ORIGIN, { seed: new Uint8Array(32).fill(7) });

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

function contentHashes(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT content_hash FROM events ORDER BY sequence').pluck().all() as string[];
  } finally {
    db.close();
  }
}

describe('the tree kept in the file', () => {
  test('for random ledgers its root at every size is lib/proofs\' merkleRoot of the content hashes, and its proofs verify', async (t) => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 6 }),
        async (batches, picks) => {
          const path = join(tempDir(t), 'ledger.db');
          const ledger = await openLedger(path, { durability: 'normal', checkpoint: { origin: ORIGIN, secretKey: LOG_SKEY } });
          try {
            for (const size of batches) {
              if (size === 1) await ledger.append({ type: 'one', payload: { size } });
              else await ledger.appendBatch(Array.from({ length: size }, (_, i) => ({ type: 'many', payload: { i } })));
            }
            const leaves = contentHashes(path).map((h) => leafHash(eventLeaf(h)));
            const n = leaves.length;
            const db = new Database(path, { readonly: true });
            try {
              const store = new MerkleStore(db);
              assert.equal(store.size, n);
              const roots = Array.from({ length: n + 1 }, (_, size) => treeRoot(store, size));
              for (let size = 0; size <= n; size++) assert.equal(hex(roots[size]!), hex(merkleRoot(leaves.slice(0, size))), `root of size ${size}`);
              for (const [a, b, c] of picks) {
                const size = 1 + (a % n);
                const index = b % size;
                const from = c % (size + 1);
                const inclusion = ledger.inclusionProof(index + 1, size);
                verifyInclusion(leaves[index]!, index, size, inclusion, roots[size]!);
                if (index + 1 < size) assert.throws(() => verifyInclusion(leaves[index + 1]!, index, size, inclusion, roots[size]!), /INCLUSION_FAILED|MALFORMED_PROOF/);
                if (from > 0) {
                  const consistency = ledger.consistencyProof(from, size);
                  verifyConsistency(from, size, consistency, roots[from]!, roots[size]!);
                  if (from < size) {
                    const flipped = consistency.map((h) => Uint8Array.from(h));
                    flipped[0]![0]! ^= 1;
                    assert.throws(() => verifyConsistency(from, size, flipped, roots[from]!, roots[size]!), /CONSISTENCY_FAILED/);
                  }
                } else {
                  assert.deepEqual(ledger.consistencyProof(0, size), []);
                }
              }
              const { checkpoint } = verifyCheckpoint(ledger.checkpoint(), LOG_VKEY, { origin: ORIGIN });
              assert.equal(checkpoint.size, n);
              assert.equal(hex(checkpoint.rootHash), hex(roots[n]!));
            } finally {
              db.close();
            }
          } finally {
            await ledger.close();
          }
        },
      ),
      { numRuns: 12 },
    );
  });

  test('a proof bundle verifies offline against the event\'s content hash, and not against another event', async (t) => {
    const ledger = await createLedger(t, { checkpoint: { origin: ORIGIN, secretKey: LOG_SKEY } });
    await ledger.appendBatch(Array.from({ length: 13 }, (_, i) => ({ type: 'e', payload: { i } })));
    const bundle = ledger.proofBundle(6);
    const ok = verifyProofBundle(bundle, { leaf: eventLeaf(ledger.get(6)!.contentHash), logKey: LOG_VKEY, origin: ORIGIN, witnessKeys: [], quorum: 0 });
    assert.equal(ok.ok, true, JSON.stringify(ok));
    assert.equal(ok.ok && ok.index, 5);
    const wrong = verifyProofBundle(bundle, { leaf: eventLeaf(ledger.get(7)!.contentHash), logKey: LOG_VKEY, witnessKeys: [], quorum: 0 });
    assert.equal(wrong.ok, false);
    // A checkpoint taken earlier (a smaller tree) still proves the events it covers.
    const early = ledger.checkpoint();
    await ledger.append({ type: 'later' });
    const again = verifyProofBundle(ledger.proofBundle(13, { checkpoint: early }), { leaf: eventLeaf(ledger.get(13)!.contentHash), logKey: LOG_VKEY, witnessKeys: [], quorum: 0 });
    assert.equal(again.ok, true);
    assert.throws(() => ledger.proofBundle(14, { checkpoint: early }), RangeError);
  });

  test('after checkpoints and proofs, close() still leaves one self-contained file: no -wal or -shm', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await reopen(t, path, { checkpoint: { origin: ORIGIN, secretKey: LOG_SKEY } });
    await ledger.appendBatch(Array.from({ length: 5 }, (_, i) => ({ type: 'e', payload: { i } })));
    ledger.checkpoint();
    ledger.inclusionProof(3);
    await ledger.close();
    assert.deepEqual([existsSync(`${path}-wal`), existsSync(`${path}-shm`)], [false, false]);
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    assert.equal(db.prepare('SELECT count(*) FROM events').pluck().get(), 5);
  });

  test('checkpoint() without the option says which option it needs', async (t) => {
    const ledger = await createLedger(t);
    assert.throws(() => ledger.checkpoint(), /checkpoint option/);
    assert.throws(() => ledger.inclusionProof(1), RangeError);
    assert.deepEqual(ledger.consistencyProof(0), []);
  });
});

describe('a schema-4 file upgraded', () => {
  test('gets the tree of the events it already held', async (t) => {
    const path = join(tempDir(t), 'schema-4.db');
    copyFileSync(new URL('./fixtures/ledgers/schema-4.db', import.meta.url), path);
    const ledger = await reopen(t, path, { checkpoint: { origin: ORIGIN, secretKey: LOG_SKEY } });
    await ledger.append({ type: 'after_upgrade' });
    const leaves = contentHashes(path).map((h) => leafHash(eventLeaf(h)));
    assert.equal(leaves.length, 11);
    const { checkpoint } = verifyCheckpoint(ledger.checkpoint(), LOG_VKEY);
    assert.equal(hex(checkpoint.rootHash), hex(merkleRoot(leaves)));
    for (let size = 1; size <= 11; size++) {
      verifyConsistency(size, 11, ledger.consistencyProof(size), merkleRoot(leaves.slice(0, size)), checkpoint.rootHash);
    }
  });
});

describe('node rows are written only by the trigger', () => {
  test('an insert, update, delete or replace of a node is refused, even with Stele\'s functions registered', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    await ledger.appendBatch(Array.from({ length: 40 }, () => ({ type: 'e' })));
    await ledger.close();
    const { db } = openWriteConnection(path, { durability: 'normal', driftThresholdMs: 5_000 });
    t.after(() => db.close());
    // Two tiles (4, 0) and (4, 1), their parent (5, 0); events 33..40 begin the third tile.
    assert.deepEqual(db.prepare('SELECT level, idx FROM merkle_nodes ORDER BY level, idx').raw().all(), [[4, 0], [4, 1], [5, 0]]);
    const stored = db.prepare('SELECT hash FROM merkle_nodes WHERE level = 4 AND idx = 0').pluck().get() as Buffer;
    const refused = (sql: string, ...args: unknown[]) =>
      assert.throws(() => db.prepare(sql).run(...args), /STELE:APPEND_ONLY_VIOLATION/, sql);
    refused('INSERT INTO merkle_nodes (level, idx, hash) VALUES (4, 2, ?)', Buffer.alloc(32));
    refused('INSERT INTO merkle_nodes (level, idx, hash) VALUES (0, 0, ?)', Buffer.alloc(32));
    refused('INSERT INTO merkle_nodes (level, idx, hash) VALUES (6, 0, ?)', Buffer.alloc(32));
    refused('INSERT OR REPLACE INTO merkle_nodes (level, idx, hash) VALUES (4, 0, ?)', stored);
    refused('UPDATE merkle_nodes SET hash = ? WHERE level = 4 AND idx = 0', Buffer.alloc(32));
    refused('DELETE FROM merkle_nodes WHERE level = 5');
    refused('INSERT INTO merkle_levels (level) VALUES (63)');
    // And an append still extends the tree.
    db.prepare(
      "INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta, agent_id, signature, local_timestamp, expected_version) VALUES ('x-41', '$default', 'e', NULL, NULL, NULL, NULL, NULL, NULL, ?, NULL)",
    ).run(Date.now());
    assert.equal(new MerkleStore(db).size, 41);
  });

  test('a connection without recursive triggers cannot append past a node it would leave unwritten', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    await ledger.appendBatch(Array.from({ length: 63 }, () => ({ type: 'e' })));
    await ledger.close();
    const { db } = openWriteConnection(path, { durability: 'normal', driftThresholdMs: 5_000 });
    t.after(() => db.close());
    db.pragma('recursive_triggers = OFF');
    // The 64th completes (4, 3), (5, 1) and (6, 0): the last needs a trigger to fire itself again.
    assert.throws(
      () => db.prepare("INSERT INTO append_event (event_id, stream_id, type, local_timestamp) VALUES ('x-64', '$default', 'e', ?)").run(Date.now()),
      /STELE:APPEND_ONLY_VIOLATION:merkle_nodes/,
    );
  });
});

describe('trustedCheckpoint at open', () => {
  test('the file that holds the checkpoint\'s tree opens; one rolled back behind it fails with WRITER_INCONSISTENCY', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'ledger.db');
    const backup = join(dir, 'backup.db');
    let ledger = await openLedger(path, { checkpoint: { origin: ORIGIN, secretKey: LOG_SKEY } });
    await ledger.appendBatch(Array.from({ length: 5 }, () => ({ type: 'early' })));
    await ledger.close();
    copyFileSync(path, backup);
    if (existsSync(headSidecarPath(path))) copyFileSync(headSidecarPath(path), headSidecarPath(backup));
    ledger = await openLedger(path, { checkpoint: { origin: ORIGIN, secretKey: LOG_SKEY } });
    await ledger.appendBatch(Array.from({ length: 4 }, () => ({ type: 'late' })));
    const trusted = ledger.checkpoint();
    assert.equal(parseCheckpoint(verifyCheckpoint(trusted, LOG_VKEY).note.text).size, 9);
    await ledger.append({ type: 'after the checkpoint' });
    await ledger.close();

    const reopened = await reopen(t, path, { trustedCheckpoint: trusted });
    assert.equal(reopened.maxSequence(), 10);
    await reopened.close();

    // The rollback: the file and its sidecar replaced by the older copy, consistent with each other.
    await assert.rejects(openLedger(backup, { trustedCheckpoint: trusted }), (error: unknown) => {
      assert.ok(error instanceof LedgerError);
      assert.equal(error.code, 'WRITER_INCONSISTENCY');
      assert.equal(error.details.check, 'checkpoint');
      assert.equal(error.details.sequence, 9);
      return true;
    });
  });
});

describe('verify() recomputes the tree', () => {
  test('a node row edited behind the triggers is a merkle_node fault at the append that wrote it', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    await ledger.appendBatch(Array.from({ length: 40 }, () => ({ type: 'e' })));
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 40 });
    await ledger.close();
    // The guard is dropped for the edit and put back, so that the schema is the pinned one and
    // the node itself is what verify must catch.
    const db = new Database(path);
    const guard = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'merkle_nodes_no_update'").pluck().get() as string;
    db.exec('DROP TRIGGER merkle_nodes_no_update');
    db.prepare('UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 5 AND idx = 0').run();
    db.exec(guard);
    db.close();
    const result = await verifyLedgerFile(path);
    assert.equal(result.ok, false);
    assert.equal(result.firstBad?.reason, 'merkle_node');
    assert.equal(result.firstBad?.sequence, 32);
    assert.equal(result.firstBad?.actual, '0'.repeat(64));
  });

  test('property: any node edited or deleted behind the triggers is found at the append that wrote it, whatever the range size', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path, { durability: 'normal' });
    await ledger.appendBatch(Array.from({ length: 300 }, (_, i) => ({ type: 'e', payload: { i } })));
    await ledger.close();
    const nodes = (() => {
      const db = new Database(path, { readonly: true });
      try {
        return db.prepare('SELECT level, idx FROM merkle_nodes ORDER BY level, idx').all() as Array<{ level: number; idx: number }>;
      } finally {
        db.close();
      }
    })();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...nodes), fc.boolean(), fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }), async ({ level, idx }, remove, rangeSize) => {
        const copy = `${path}.${++run}.db`;
        copyFileSync(path, copy);
        const db = new Database(copy);
        const guard = db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').pluck();
        const name = remove ? 'merkle_nodes_no_delete' : 'merkle_nodes_no_update';
        const sql = guard.get(name) as string;
        db.exec(`DROP TRIGGER ${name}`);
        if (remove) db.prepare('DELETE FROM merkle_nodes WHERE level = ? AND idx = ?').run(level, idx);
        else db.prepare('UPDATE merkle_nodes SET hash = randomblob(32) WHERE level = ? AND idx = ?').run(level, idx);
        db.exec(sql);
        db.close();
        const result = await verifyLedgerFile(copy, { rangeSize, headSidecar: false });
        assert.equal(result.firstBad?.reason, 'merkle_node', `${remove ? 'deleted' : 'edited'} (${level}, ${idx})`);
        assert.equal(result.firstBad?.sequence, (idx + 1) * 2 ** level);
        if (remove) assert.equal(result.firstBad?.actual, 'missing');
      }),
      { numRuns: 25 },
    );
  });
  test("a range's tree check fails exactly when it holds the append of a node edited, deleted or split in two, or of that node's parent", async (t) => {
    // 4,500 events: a range of the whole file spans two page boundaries of the chain check.
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path, { durability: 'normal' });
    for (let start = 0; start < 4_500; start += 1_000) await ledger.appendBatch(Array.from({ length: Math.min(1_000, 4_500 - start) }, (_, i) => ({ type: 'e', payload: { i: start + i } })));
    await ledger.close();
    const head = 4_500;
    /** The appends whose range check reads the node: the one that completed it and its parent's. */
    const readersOf = (level: number, idx: number): number[] =>
      [(idx + 1) * 2 ** level, (Math.floor(idx / 2) + 1) * 2 ** (level + 1)].filter((sequence) => sequence <= head);
    const tampers: Array<{ name: string; nodes: Array<[number, number]>; edit: (db: Database.Database) => void }> = [
      { name: 'edited tile', nodes: [[4, 256]], edit: (db) => db.exec('UPDATE merkle_nodes SET hash = randomblob(32) WHERE level = 4 AND idx = 256') },
      { name: 'deleted node', nodes: [[5, 127]], edit: (db) => db.exec('DELETE FROM merkle_nodes WHERE level = 5 AND idx = 127') },
      { name: 'edited top node', nodes: [[12, 0]], edit: (db) => db.exec('UPDATE merkle_nodes SET hash = zeroblob(32) WHERE level = 12 AND idx = 0') },
      {
        // The last byte of one tile moved to the front of the next: the two still spell the same bytes end to end.
        name: 'split tiles',
        nodes: [[4, 255], [4, 256]],
        edit: (db) => {
          db.exec(
            'UPDATE merkle_nodes SET hash = CAST((SELECT substr(hash, 32, 1) FROM merkle_nodes WHERE level = 4 AND idx = 255) || hash AS BLOB) WHERE level = 4 AND idx = 256',
          );
          db.exec('UPDATE merkle_nodes SET hash = substr(hash, 1, 31) WHERE level = 4 AND idx = 255');
        },
      },
    ];
    let run = 0;
    for (const { name, nodes, edit } of tampers) {
      const copy = `${path}.${++run}.db`;
      copyFileSync(path, copy);
      const raw = new Database(copy);
      const guards = ['merkle_nodes_no_update', 'merkle_nodes_no_delete'].map((guard) => raw.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(guard) as string);
      raw.exec('DROP TRIGGER merkle_nodes_no_update; DROP TRIGGER merkle_nodes_no_delete');
      edit(raw);
      for (const guard of guards) raw.exec(guard);
      raw.close();
      const readers = nodes.flatMap(([level, idx]) => readersOf(level, idx));
      const db = openReadConnection(copy);
      try {
        for (const size of [head, 4_096, 1_000, 333, 64, 7]) {
          for (let from = 1; from <= head; from += size) {
            const to = Math.min(head, from + size - 1);
            const tree = TreeRangeCheck.of(db)!;
            assert.equal(checkRange(db, { from, to, openBelow: from === 1, signatures: false }, tree.page).fault, undefined);
            assert.equal(tree.matches, !readers.some((sequence) => from <= sequence && sequence <= to), `${name}, range [${from}, ${to}]`);
          }
        }
      } finally {
        db.close();
      }
      const result = await verifyLedgerFile(copy, { headSidecar: false });
      assert.equal(result.firstBad?.reason, 'merkle_node', name);
      assert.equal(result.firstBad?.sequence, Math.min(...nodes.map(([level, idx]) => (idx + 1) * 2 ** level)), name);
    }
  });
});

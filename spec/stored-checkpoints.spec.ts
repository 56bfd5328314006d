/**
 * Stored checkpoints (native-sql/schema/10-checkpoints.sql): the log's signed checkpoints kept in
 * the file as events of `$checkpoints`, cosignatures added to them, stored by the ledger itself
 * with `checkpoint.every`; the database refuses any checkpoint that is not of this file's tree and
 * this log; verify replays the rules (and pins the log key with `trustedLogKey`); the writer's
 * start checks the newest one against the file.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import fc from 'fast-check';
import Database from 'better-sqlite3';
import { LedgerError, openLedger, verifyLedgerFile, type Ledger } from '../lib/index.ts';
import {
  cosignCheckpoint,
  eventLeaf,
  formatCheckpoint,
  generateKeyPair,
  leafHash,
  merkleRoot,
  parseCheckpoint,
  parseNote,
  signCheckpoint,
  verifyCheckpoint,
  verifyConsistency,
  verifyProofBundle,
  MemoryTree,
} from '../lib/proofs/index.ts';
import { headSidecarPath } from '../lib/writer/head-sidecar.ts';
import { rechain, tamper } from './helpers/tamper.ts';
import { appendingConnection, reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

const ORIGIN = 'example.com/stele/stored';
const LOG = generateKeyPair(ORIGIN, { seed: new Uint8Array(32).fill(11) });
const OTHER_LOG = generateKeyPair(ORIGIN, { seed: new Uint8Array(32).fill(12) });
const WITNESS_A = generateKeyPair('witness-a.example', { type: 4, seed: new Uint8Array(32).fill(21) });
const WITNESS_B = generateKeyPair('witness-b.example', { type: 4, seed: new Uint8Array(32).fill(22) });
const CHECKPOINT = { origin: ORIGIN, secretKey: LOG.signerKey };

async function ledgerWith(t: TestContext, events: number, options: Parameters<typeof openLedger>[1] = {}): Promise<{ ledger: Ledger; path: string }> {
  const path = tempLedgerPath(t);
  const ledger = await reopen(t, path, { durability: 'normal', checkpoint: CHECKPOINT, ...options });
  if (events > 0) await ledger.appendBatch(Array.from({ length: events }, (_, i) => ({ type: 'tick', payload: { i } })));
  return { ledger, path };
}

function contentHashes(db: Database.Database, upTo: number): string[] {
  return db.prepare('SELECT content_hash FROM events WHERE sequence <= ? ORDER BY sequence').pluck().all(upTo) as string[];
}

/** The root of the first `size` events, from their content hashes alone (lib/proofs). */
function rootOf(path: string, size: number): Uint8Array {
  const db = new Database(path, { readonly: true });
  try {
    return merkleRoot(contentHashes(db, size).map((hash) => leafHash(eventLeaf(hash))));
  } finally {
    db.close();
  }
}

function rawCheckpoint(db: Database.Database, payload: unknown, type = 'stele.checkpoint'): void {
  db.prepare(
    `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
                               agent_id, signature, local_timestamp, expected_version)
     VALUES (?, '$checkpoints', ?, ?, NULL, NULL, NULL, NULL, NULL, ?, NULL)`,
  ).run(randomUUID(), type, typeof payload === 'string' ? payload : JSON.stringify(payload), Date.now());
}

/** The error a trigger raised on a raw connection: `STELE:<code>…`, carrying `reason`. */
function refusedWith(code: string, reason?: string) {
  return (error: unknown) => {
    const message = (error as Error).message;
    assert.ok(message.startsWith(`STELE:${code}`), message);
    if (reason) assert.ok(message.includes(reason), message);
    return true;
  };
}

/** What a forger who rewrote rows does next: the stored tree rebuilt from them, guards as they were. */
function rebuildTree(db: Database.Database): void {
  const guards = ['merkle_nodes_no_delete', 'merkle_nodes_only_from_events', 'merkle_nodes_close_parent'];
  const definitions = guards.map((name) => db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(name) as string);
  for (const name of guards) db.exec(`DROP TRIGGER ${name}`);
  const hashes = db.prepare('SELECT content_hash FROM events ORDER BY sequence').pluck().all() as string[];
  const tree = MemoryTree.fromLeaves(hashes.map((hash) => eventLeaf(hash)));
  db.exec('DELETE FROM merkle_nodes');
  const insert = db.prepare('INSERT OR IGNORE INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)');
  for (let level = 4; 2 ** level <= hashes.length; level++) {
    for (let idx = 0; (idx + 1) * 2 ** level <= hashes.length; idx++) insert.run(level, idx, Buffer.from(tree.subtreeHash(idx * 2 ** level, level)));
  }
  for (const sql of definitions) db.exec(sql);
}

function signedAt(path: string, size: number, key = LOG.signerKey, origin = ORIGIN): string {
  return signCheckpoint({ origin, size, rootHash: rootOf(path, size) }, key);
}

describe('storing checkpoints', () => {
  test('storeCheckpoint stores the signed checkpoint of the current tree; it is listed, survives reopening and verifies with the log key', async (t) => {
    const { ledger, path } = await ledgerWith(t, 37);
    const stored = await ledger.storeCheckpoint();
    assert.equal(stored.treeSize, 37);
    assert.equal(stored.sequence, 38);
    const { checkpoint } = verifyCheckpoint(stored.note, LOG.verifierKey, { origin: ORIGIN });
    assert.deepEqual(checkpoint.rootHash, rootOf(path, 37));
    assert.deepEqual(ledger.storedCheckpoints(), [stored]);
    const event = ledger.get(38)!;
    assert.equal(event.streamId, '$checkpoints');
    assert.equal(event.type, 'stele.checkpoint');
    assert.deepEqual(event.payload, { logKey: LOG.verifierKey, note: stored.note });
    await ledger.close();
    const again = await reopen(t, path, { checkpoint: CHECKPOINT });
    assert.deepEqual(again.storedCheckpoints(), [stored]);
    assert.deepEqual(await again.verify(), { ok: true, checked: 38 });
  });

  test('storeCheckpoint without a log key is a TypeError, and a signer needs logKey', async (t) => {
    const path = tempLedgerPath(t);
    const plain = await reopen(t, path);
    await plain.append({ type: 'tick' });
    await assert.rejects(plain.storeCheckpoint(), TypeError);
    await plain.close();
    const signer = { name: ORIGIN, keyId: 0, sign: () => new Uint8Array(64) };
    const withSigner = await reopen(t, path, { checkpoint: { origin: ORIGIN, signer } });
    await assert.rejects(withSigner.storeCheckpoint(), /logKey/);
    await withSigner.close();
    await assert.rejects(openLedger(path, { checkpoint: { ...CHECKPOINT, logKey: OTHER_LOG.verifierKey } }), /not the verifier key of checkpoint\.secretKey/);
    await assert.rejects(openLedger(path, { checkpoint: { ...CHECKPOINT, every: { events: 0 } } }), RangeError);
  });

  test('addCosignatures stores the witnesses\' lines with the checkpoint; a bundle then carries them and meets a quorum of two', async (t) => {
    const { ledger } = await ledgerWith(t, 20);
    const stored = await ledger.storeCheckpoint();
    const a = cosignCheckpoint(stored.note, { secretKey: WITNESS_A.signerKey, logKey: LOG.verifierKey });
    const b = cosignCheckpoint(a.signedCheckpoint, { secretKey: WITNESS_B.signerKey, logKey: LOG.verifierKey });
    const witnessKeys = [WITNESS_A.verifierKey, WITNESS_B.verifierKey];
    const added = await ledger.addCosignatures(b.signedCheckpoint, { witnessKeys });
    assert.equal(added.treeSize, 20);
    assert.equal(added.sequence, 22);
    assert.equal(ledger.get(22)!.type, 'stele.checkpoint_cosigned');
    assert.equal(parseNote(added.note).signatures.length, 3);
    assert.deepEqual(ledger.storedCheckpoints(), [added]);
    // Nothing new: the stored checkpoint, no append.
    assert.deepEqual(await ledger.addCosignatures(a.signedCheckpoint, { witnessKeys }), added);
    assert.equal(ledger.maxSequence(), 22);
    const bundle = ledger.proofBundle(7);
    const result = verifyProofBundle(bundle, { leaf: eventLeaf(ledger.get(7)!.contentHash), logKey: LOG.verifierKey, witnessKeys, quorum: 2 });
    assert.equal(result.ok, true, JSON.stringify(result));
  });

  test('addCosignatures refuses a line no witness key verifies, a forged line, and a checkpoint that is not stored', async (t) => {
    const { ledger, path } = await ledgerWith(t, 5);
    const stored = await ledger.storeCheckpoint();
    const a = cosignCheckpoint(stored.note, { secretKey: WITNESS_A.signerKey, logKey: LOG.verifierKey });
    const refused = (reason: RegExp) => (error: LedgerError) => {
      assert.equal(error.code, 'CHECKPOINT_REFUSED');
      assert.match(String(error.details.reason), reason);
      return true;
    };
    await assert.rejects(ledger.addCosignatures(a.signedCheckpoint, { witnessKeys: [WITNESS_B.verifierKey] }), refused(/not among the witness keys/));
    const forged = a.signedCheckpoint.replace(/(— witness-a\.example \S{20})\S/, (_, head: string) => `${head}${head.endsWith('A') ? 'B' : 'A'}`);
    await assert.rejects(ledger.addCosignatures(forged, { witnessKeys: [WITNESS_A.verifierKey] }), refused(/does not verify/));
    const unstored = cosignCheckpoint(signedAt(path, 3), { secretKey: WITNESS_A.signerKey, logKey: LOG.verifierKey });
    await assert.rejects(ledger.addCosignatures(unstored.signedCheckpoint, { witnessKeys: [WITNESS_A.verifierKey] }), refused(/no stored checkpoint/));
    await assert.rejects(ledger.addCosignatures(a.signedCheckpoint), TypeError);
    // Nothing was appended, and the next valid call works.
    assert.equal(ledger.maxSequence(), 6);
    const added = await ledger.addCosignatures(a.signedCheckpoint, { witnessKeys: [WITNESS_A.verifierKey] });
    assert.equal(parseNote(added.note).signatures.length, 2);
  });

  test('checkpoint.every.events stores a checkpoint after that many events, each after the commit that called for it', async (t) => {
    const { ledger, path } = await ledgerWith(t, 0, { checkpoint: { ...CHECKPOINT, every: { events: 10 } } });
    for (let i = 0; i < 45; i++) await ledger.append({ type: 'tick', payload: { i } });
    await ledger.close();
    const again = await reopen(t, path, { checkpoint: CHECKPOINT });
    const stored = again.storedCheckpoints();
    assert.ok(stored.length >= 3 && stored.length <= 4, `${stored.length} checkpoints`);
    let previous = { sequence: 0, treeSize: 0 };
    for (const checkpoint of stored) {
      const { sequence, treeSize, note } = checkpoint;
      assert.ok(treeSize < sequence && treeSize > previous.treeSize);
      // At least ten events after the newest checkpoint called for this one.
      assert.ok(sequence - previous.sequence > 10, `checkpoint #${sequence} after #${previous.sequence}`);
      assert.deepEqual(verifyCheckpoint(note, LOG.verifierKey).checkpoint.rootHash, rootOf(path, treeSize));
      previous = checkpoint;
    }
    assert.equal((await again.verify()).ok, true);
  });

  test('checkpoint.every.ms stores one when events were appended, and none while nothing is', async (t) => {
    const { ledger } = await ledgerWith(t, 3, { checkpoint: { ...CHECKPOINT, every: { ms: 25 } } });
    for (let i = 0; i < 100 && ledger.storedCheckpoints().length === 0; i++) await sleep(10);
    const first = ledger.storedCheckpoints();
    assert.equal(first.length, 1);
    assert.equal(first[0]!.treeSize, 3);
    await sleep(150); // six intervals with nothing new but the checkpoint itself
    assert.deepEqual(ledger.storedCheckpoints(), first);
    await ledger.append({ type: 'tick' });
    for (let i = 0; i < 100 && ledger.storedCheckpoints().length === 1; i++) await sleep(10);
    assert.equal(ledger.storedCheckpoints().at(-1)!.treeSize, 5);
  });

  test('a halted ledger is still checkpointed, and require_signatures does not apply to checkpoints', async (t) => {
    const { ledger: unsigned, path } = await ledgerWith(t, 4);
    await unsigned.close();
    const ledger = await reopen(t, path, { checkpoint: CHECKPOINT, requireSignatures: true });
    await assert.rejects(ledger.append({ type: 'tick' }), (error: LedgerError) => error.code === 'SIGNATURE_REQUIRED');
    await ledger.halt('incident');
    const stored = await ledger.storeCheckpoint();
    assert.equal(stored.treeSize, 5);
    assert.equal((await ledger.verify()).ok, true);
  });
});

describe('the database refuses a checkpoint that is not this ledger\'s', () => {
  test('wrong root, other log key or origin, a tree not before it, an older tree, a bad signature, a malformed payload: each coded, nothing written', async (t) => {
    const { ledger, path } = await ledgerWith(t, 21);
    const first = await ledger.storeCheckpoint(); // sequence 22, size 21
    await ledger.appendBatch(Array.from({ length: 10 }, (_, i) => ({ type: 'tock', payload: { i } })));
    await ledger.close();
    const db = appendingConnection(t, path);
    const head = () => db.prepare('SELECT max(sequence) FROM events').pluck().get() as number;
    const before = head(); // 32
    const wrongRoot = signCheckpoint({ origin: ORIGIN, size: 30, rootHash: rootOf(path, 29) }, LOG.signerKey);
    const note = signedAt(path, 30);
    const badSignature = `${parseNote(note).text}\n${parseNote(signedAt(path, 29)).signatures[0]!.line}\n`;
    const cosignedText = cosignCheckpoint(signedAt(path, 30), { secretKey: WITNESS_A.signerKey, logKey: LOG.verifierKey }).signedCheckpoint;
    const cases: Array<[string, unknown, string, string?, string?]> = [
      ['a root of another size', { logKey: LOG.verifierKey, note: wrongRoot }, 'CHECKPOINT_REFUSED', 'another root'],
      ['another log key', { logKey: OTHER_LOG.verifierKey, note: signedAt(path, 30, OTHER_LOG.signerKey) }, 'CHECKPOINT_REFUSED', 'another log key or origin'],
      ['another origin', { logKey: LOG.verifierKey, note: signedAt(path, 30, LOG.signerKey, 'example.com/elsewhere') }, 'CHECKPOINT_REFUSED', 'another log key or origin'],
      ['a tree that includes itself', { logKey: LOG.verifierKey, note: signCheckpoint({ origin: ORIGIN, size: 33, rootHash: new Uint8Array(32) }, LOG.signerKey) }, 'CHECKPOINT_REFUSED', 'only the events before it'],
      ['an older tree', { logKey: LOG.verifierKey, note: signedAt(path, 20) }, 'CHECKPOINT_REFUSED', 'no larger than the newest'],
      ['the stored tree again as a new checkpoint', { logKey: LOG.verifierKey, note: first.note }, 'CHECKPOINT_REFUSED', 'no larger than the newest'],
      ['cosignatures of a checkpoint never stored', { logKey: LOG.verifierKey, note: cosignedText }, 'CHECKPOINT_REFUSED', 'not stored', 'stele.checkpoint_cosigned'],
      ['another type', { logKey: LOG.verifierKey, note }, 'INVALID_EVENT', '"field":"type"', 'stele.checkpoint_signed'],
      ['a signature over other text', { logKey: LOG.verifierKey, note: badSignature }, 'CHECKPOINT_REFUSED', 'no valid signature'],
      ['a note signed by someone else only', { logKey: LOG.verifierKey, note: signedAt(path, 30, OTHER_LOG.signerKey) }, 'CHECKPOINT_REFUSED', 'no valid signature'],
      ['an empty tree', { logKey: LOG.verifierKey, note: signCheckpoint({ origin: ORIGIN, size: 0, rootHash: new Uint8Array(32) }, LOG.signerKey) }, 'INVALID_EVENT', '"field":"note"'],
      ['a note that is not a checkpoint', { logKey: LOG.verifierKey, note: 'hello\n\n— x abc\n' }, 'INVALID_EVENT', '"field":"note"'],
      ['an extra member', { logKey: LOG.verifierKey, note, extra: 1 }, 'INVALID_EVENT', '"field":"note"'],
      ['no log key', { note }, 'INVALID_EVENT', '"field":"note"'],
      ['a log key that is not a vkey', { logKey: LOG.signerKey, note }, 'INVALID_EVENT', '"field":"note"'],
      ['not JSON', 'checkpoint', 'INVALID_EVENT', '"field":"note"'],
    ];
    for (const [what, payload, code, reason, type] of cases) {
      assert.throws(() => rawCheckpoint(db, payload, type), refusedWith(code, reason), what);
      assert.equal(head(), before, what);
    }
    // A new, larger tree is accepted; then the older stored text with more cosignatures, after it.
    rawCheckpoint(db, { logKey: LOG.verifierKey, note });
    const cosigned = cosignCheckpoint(first.note, { secretKey: WITNESS_A.signerKey, logKey: LOG.verifierKey }).signedCheckpoint;
    rawCheckpoint(db, { logKey: LOG.verifierKey, note: cosigned }, 'stele.checkpoint_cosigned');
    // The newest checkpoint is still the larger tree: one between the two is refused.
    assert.throws(() => rawCheckpoint(db, { logKey: LOG.verifierKey, note: signedAt(path, 25) }), refusedWith('CHECKPOINT_REFUSED', 'no larger than the newest'));
    assert.equal(head(), before + 2);
    db.close();
    assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: before + 2 });
  });

  test('for random sizes and edits, a checkpoint is accepted exactly when it is the log\'s signed root of this file at that size', async (t) => {
    const { ledger, path } = await ledgerWith(t, 70);
    await ledger.close();
    const db = appendingConnection(t, path);
    const tree = MemoryTree.fromLeaves(contentHashes(db, 70).map((hash) => eventLeaf(hash)));
    let newest = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 69 }), fc.constantFrom('none', 'root', 'size', 'key'), fc.nat(31), async (size, edit, at) => {
        const head = db.prepare('SELECT max(sequence) FROM events').pluck().get() as number;
        const rootHash = Uint8Array.from(tree.root(size));
        if (edit === 'root') rootHash[at] = rootHash[at]! ^ (1 << (at % 8));
        const claimed = edit === 'size' ? size + 1 : size;
        const text = formatCheckpoint({ origin: ORIGIN, size: claimed, rootHash });
        const note = signCheckpoint(parseCheckpoint(text), edit === 'key' ? OTHER_LOG.signerKey : LOG.signerKey);
        const valid = edit === 'none' && size > newest;
        if (valid) {
          rawCheckpoint(db, { logKey: LOG.verifierKey, note });
          newest = size;
        } else {
          assert.throws(() => rawCheckpoint(db, { logKey: LOG.verifierKey, note }), refusedWith('CHECKPOINT_REFUSED'));
        }
        assert.equal(db.prepare('SELECT max(sequence) FROM events').pluck().get(), valid ? head + 1 : head);
      }),
      { numRuns: 60 },
    );
    db.close();
    assert.equal((await verifyLedgerFile(path)).ok, true);
  });
});

describe('verify and the writer\'s start judge the stored checkpoints', () => {
  /** A file with events 1-12, a checkpoint of 12 at 13, and events 14-20. */
  async function checkpointed(t: TestContext): Promise<string> {
    const { ledger, path } = await ledgerWith(t, 12);
    await ledger.storeCheckpoint();
    await ledger.appendBatch(Array.from({ length: 7 }, (_, i) => ({ type: 'tock', payload: { i } })));
    await ledger.close();
    return path;
  }

  test('with trustedLogKey every checkpoint must name that key; the file\'s own key passes', async (t) => {
    const path = await checkpointed(t);
    assert.deepEqual(await verifyLedgerFile(path, { trustedLogKey: LOG.verifierKey }), { ok: true, checked: 20 });
    const { firstBad } = await verifyLedgerFile(path, { trustedLogKey: OTHER_LOG.verifierKey });
    assert.equal(firstBad?.reason, 'checkpoint');
    assert.equal(firstBad?.sequence, 13);
    assert.equal(firstBad?.expected, OTHER_LOG.verifierKey);
    assert.equal(firstBad?.actual, LOG.verifierKey);
    await assert.rejects(verifyLedgerFile(path, { trustedLogKey: 'not a key' }), TypeError);
  });

  test('a checkpoint rewritten behind the triggers (chain recomputed) is a checkpoint fault at its row', async (t) => {
    const path = await checkpointed(t);
    // The forger re-signs with a key of their own: the chain and the tree still verify.
    tamper(path, (db) => {
      const note = signCheckpoint({ origin: ORIGIN, size: 12, rootHash: rootOf(path, 12) }, OTHER_LOG.signerKey);
      db.prepare('UPDATE events SET payload = ? WHERE sequence = 13').run(JSON.stringify({ logKey: LOG.verifierKey, note }));
      rechain(db, 13);
      rebuildTree(db);
    });
    rmSync(headSidecarPath(path));
    const { firstBad } = await verifyLedgerFile(path);
    assert.equal(firstBad?.reason, 'checkpoint');
    assert.equal(firstBad?.sequence, 13);
    assert.match(String(firstBad?.detail), /no valid signature/);
  });

  test('events rewritten under a stored checkpoint, chain and tree recomputed, fail the writer\'s start with WRITER_INCONSISTENCY (checkpoint)', async (t) => {
    const path = await checkpointed(t);
    tamper(path, (db) => {
      db.prepare('UPDATE events SET payload = ? WHERE sequence = 5').run(JSON.stringify({ i: 'rewritten' }));
      rechain(db, 5);
      rebuildTree(db);
    });
    rmSync(headSidecarPath(path)); // the forger's sidecar names the new head, or there is none
    const { firstBad } = await verifyLedgerFile(path);
    assert.equal(firstBad?.reason, 'checkpoint');
    assert.equal(firstBad?.sequence, 13);
    await assert.rejects(openLedger(path, { checkpoint: CHECKPOINT }), (error: LedgerError) => {
      assert.equal(error.code, 'WRITER_INCONSISTENCY');
      assert.equal(error.details.check, 'checkpoint');
      assert.equal(error.details.sequence, 12);
      return true;
    });
  });

  test('a ledger opened with another log key than its stored checkpoints\' does not start', async (t) => {
    const path = await checkpointed(t);
    await assert.rejects(openLedger(path, { checkpoint: { origin: ORIGIN, secretKey: OTHER_LOG.signerKey } }), (error: LedgerError) => {
      assert.equal(error.code, 'WRITER_INCONSISTENCY');
      assert.equal(error.details.check, 'checkpoint');
      assert.equal(error.details.actual, LOG.verifierKey);
      return true;
    });
  });

  test('all stored checkpoints of random histories are consistent with each other, by lib/proofs alone', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 2, maxLength: 5 }), async (batches) => {
        const { ledger } = await ledgerWith(t, 0);
        for (const size of batches) {
          await ledger.appendBatch(Array.from({ length: size }, (_, i) => ({ type: 'tick', payload: { i } })));
          await ledger.storeCheckpoint();
        }
        const stored = ledger.storedCheckpoints().map((c) => verifyCheckpoint(c.note, LOG.verifierKey).checkpoint);
        for (let i = 1; i < stored.length; i++) {
          const [old, next] = [stored[i - 1]!, stored[i]!];
          verifyConsistency(old.size, next.size, ledger.consistencyProof(old.size, next.size), old.rootHash, next.rootHash);
        }
        assert.equal((await ledger.verify()).ok, true);
        await ledger.close();
      }),
      { numRuns: 8 },
    );
  });
});

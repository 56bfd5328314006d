import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import nacl from 'tweetnacl';
import { generateAgentKeyPair, openLedger, signEvent, type AgentKeyPair, type LedgerError } from '../lib/index.ts';
import { SIGNED_COLUMNS } from '../lib/format/columns.ts';
import { signedBytesOf } from '../lib/format/hash-bytes.ts';
import { verifyLedgerFile, type VerifyProgress } from '../lib/verify/verify-ledger-file.ts';
import { buildLedger, copyLedgerFile, flipHexDigit, readRow, rechain, rowAt, tamper } from './helpers/tamper.ts';
import { runChild } from './helpers/run-child.ts';
import { chainOf } from './helpers/temp-ledger.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** A directory for the ledgers shared by the tests of one describe block. */
function sharedDir(): { dir: () => string } {
  let dir: string | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'stele-verify-'));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return { dir: () => dir! };
}

describe('verifyLedgerFile on untampered ledgers', () => {
  const shared = sharedDir();
  let empty: string;
  let one: string;
  let small: string; // 300 rows
  let larger: string; // 2,500 rows

  before(async () => {
    empty = join(shared.dir(), 'empty.db');
    one = join(shared.dir(), 'one.db');
    small = join(shared.dir(), 'small.db');
    larger = join(shared.dir(), 'larger.db');
    await Promise.all([buildLedger(empty, 0), buildLedger(one, 1), buildLedger(small, 300, 4), buildLedger(larger, 2_500, 5)]);
  });

  test('an empty ledger verifies, with nothing checked and no progress', async () => {
    const progress: VerifyProgress[] = [];
    assert.deepEqual(await verifyLedgerFile(empty, { onProgress: (p) => progress.push(p) }), { ok: true, checked: 0 });
    assert.deepEqual(progress, []);
  });

  test('a one-row ledger verifies', async () => {
    assert.deepEqual(await verifyLedgerFile(one), { ok: true, checked: 1 });
    assert.deepEqual(await verifyLedgerFile(one, { from: 1, to: 1, rangeSize: 1 }), { ok: true, checked: 1 });
  });

  test('every row is checked whatever the range size, ranges crossing and matching the edges', async () => {
    assert.deepEqual(chainOf(small), { ok: true, checked: 300 });
    for (const rangeSize of [1, 2, 7, 64, 100, 150, 299, 300, 301, 10_000]) {
      assert.deepEqual(await verifyLedgerFile(small, { rangeSize }), { ok: true, checked: 300 }, `rangeSize ${rangeSize}`);
    }
  });

  test('the default split covers a ledger larger than one range', async () => {
    const progress: VerifyProgress[] = [];
    assert.deepEqual(await verifyLedgerFile(larger, { onProgress: (p) => progress.push(p) }), { ok: true, checked: 2_500 });
    assert.ok(progress.length >= 2, `${progress.length} progress calls`);
    assert.deepEqual(progress.at(-1), { checked: 2_500, total: 2_500 });
  });

  test('from/to check a subrange', async () => {
    assert.deepEqual(await verifyLedgerFile(small, { from: 1, to: 1 }), { ok: true, checked: 1 });
    assert.deepEqual(await verifyLedgerFile(small, { from: 150, to: 150 }), { ok: true, checked: 1 });
    assert.deepEqual(await verifyLedgerFile(small, { from: 17, to: 233, rangeSize: 10 }), { ok: true, checked: 217 });
    assert.deepEqual(await verifyLedgerFile(small, { from: 250 }), { ok: true, checked: 51 });
    assert.deepEqual(await verifyLedgerFile(small, { to: 40, rangeSize: 7 }), { ok: true, checked: 40 });
    assert.deepEqual(await verifyLedgerFile(small, { from: 301 }), { ok: true, checked: 0 });
  });

  test('a `to` beyond the newest row reports the first missing row', async () => {
    assert.deepEqual(await verifyLedgerFile(small, { to: 310, rangeSize: 50 }), {
      ok: false,
      checked: 300,
      firstBad: { sequence: 301, reason: 'sequence_gap', expected: 301 },
    });
    assert.deepEqual(await verifyLedgerFile(small, { from: 305, to: 310 }), {
      ok: false,
      checked: 0,
      firstBad: { sequence: 305, reason: 'sequence_gap', expected: 305 },
    });
    assert.deepEqual(await verifyLedgerFile(empty, { to: 1 }), {
      ok: false,
      checked: 0,
      firstBad: { sequence: 1, reason: 'sequence_gap', expected: 1 },
    });
  });

  test('invalid options are refused', async () => {
    await assert.rejects(verifyLedgerFile(small, { from: 0 }), RangeError);
    await assert.rejects(verifyLedgerFile(small, { from: 1.5 }), RangeError);
    await assert.rejects(verifyLedgerFile(small, { from: 10, to: 9 }), RangeError);
    await assert.rejects(verifyLedgerFile(small, { rangeSize: 0 }), RangeError);
    await assert.rejects(verifyLedgerFile(small, { onProgress: 'yes' as never }), TypeError);
    await assert.rejects(verifyLedgerFile(''), TypeError);
  });

  test('progress is reported after each range, up to the total', async () => {
    const progress: VerifyProgress[] = [];
    await verifyLedgerFile(small, { rangeSize: 40, onProgress: (p) => progress.push(p) });
    assert.equal(progress.length, 8);
    for (const p of progress) assert.equal(p.total, 300);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]!.checked > progress[i - 1]!.checked);
    assert.equal(progress.at(-1)!.checked, 300);
    // Each step is one range: 40 rows, or 20 for the last range.
    const steps = progress.map((p, i) => p.checked - (i === 0 ? 0 : progress[i - 1]!.checked)).sort((a, b) => a - b);
    assert.deepEqual(steps, [20, 40, 40, 40, 40, 40, 40, 40]);
  });

  test('a signal aborted before the call rejects with its reason', async () => {
    const reason = new Error('not now');
    await assert.rejects(verifyLedgerFile(small, { signal: AbortSignal.abort(reason) }), (error) => error === reason);
  });

  test('aborting during the check rejects with the reason, and the next check still runs', async () => {
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    let calls = 0;
    const started = verifyLedgerFile(larger, {
      rangeSize: 25,
      signal: controller.signal,
      onProgress: () => {
        if (++calls === 1) controller.abort(reason);
      },
    });
    await assert.rejects(started, (error) => error === reason);
    assert.ok(calls < 100, `${calls} progress calls after abort`);

    const second = new AbortController();
    const again = verifyLedgerFile(larger, { rangeSize: 25, signal: second.signal, onProgress: () => second.abort() });
    await assert.rejects(again, (error: Error) => error.name === 'AbortError');

    assert.deepEqual(await verifyLedgerFile(larger, { rangeSize: 25 }), { ok: true, checked: 2_500 });
  });

  test('a missing file or a file that is not a ledger is an error, not a result', async () => {
    await assert.rejects(verifyLedgerFile(join(shared.dir(), 'missing.db')));
    const other = join(shared.dir(), 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    await assert.rejects(verifyLedgerFile(other), (error: LedgerError) => error.code === 'NOT_A_LEDGER');
    const garbage = join(shared.dir(), 'garbage.db');
    writeFileSync(garbage, 'not a database at all, not even close'.repeat(200));
    await assert.rejects(verifyLedgerFile(garbage));
  });

  test('a process that verified exits on its own: idle pool threads do not keep it alive', async (t) => {
    const startedAt = Date.now();
    const child = runChild(t, new URL('./fixtures/processes/verifier.ts', import.meta.url), [small]);
    assert.deepEqual(await child.next(), { ok: true, checked: 300 });
    assert.deepEqual(await child.exited, { code: 0, signal: null });
    // The pool's idle timeout is 10 s; exiting well before it means nothing waited for it.
    assert.ok(Date.now() - startedAt < 8_000, `child took ${Date.now() - startedAt} ms`);
  });
});

describe('verifyLedgerFile finds tampering behind the triggers', () => {
  const shared = sharedDir();
  let original: string;
  let copies = 0;

  before(async () => {
    original = join(shared.dir(), 'original.db');
    await buildLedger(original, 300, 4);
  });

  /** A fresh copy of the 300-row ledger with `edit` applied behind the triggers. */
  function tampered(edit: (db: Database.Database) => void): string {
    const path = join(shared.dir(), `copy-${++copies}.db`);
    copyLedgerFile(original, path);
    tamper(path, edit);
    return path;
  }

  test('an edited content hash at the end of a range is named at its row, not as the next link', async () => {
    const path = tampered((db) => {
      db.prepare('UPDATE events SET content_hash = ? WHERE sequence = 100').run(flipHexDigit(rowAt(db, 100).content_hash, 5));
    });
    for (const rangeSize of [100, 99, 50, 1000]) {
      const result = await verifyLedgerFile(path, { rangeSize });
      assert.equal(result.ok, false);
      assert.equal(result.checked, 99);
      assert.deepEqual({ sequence: result.firstBad?.sequence, reason: result.firstBad?.reason }, { sequence: 100, reason: 'content_hash' });
    }
  });

  test('a broken link at the start of a range is found by stitching ranges', async () => {
    const path = tampered((db) => {
      db.prepare('UPDATE events SET prev_hash = ? WHERE sequence = 101').run(flipHexDigit(rowAt(db, 101).prev_hash, 0));
    });
    const expected = readRow(original, 100).content_hash;
    for (const rangeSize of [100, 50, 7, 1000]) {
      const result = await verifyLedgerFile(path, { rangeSize });
      assert.deepEqual(result, {
        ok: false,
        checked: 100,
        firstBad: { sequence: 101, reason: 'prev_hash', expected, actual: flipHexDigit(expected, 0) },
      });
    }
    // Checked from row 101 on, its link to row 100 (outside the range) is still checked.
    assert.equal((await verifyLedgerFile(path, { from: 101 })).firstBad?.reason, 'prev_hash');
    assert.deepEqual(await verifyLedgerFile(path, { from: 102 }), { ok: true, checked: 199 });
    assert.deepEqual(await verifyLedgerFile(path, { to: 100 }), { ok: true, checked: 100 });
  });

  test('a deleted row at the end of a range, or a whole range, is a sequence gap', async () => {
    const endOfRange = tampered((db) => db.prepare('DELETE FROM events WHERE sequence = 100').run());
    assert.deepEqual(await verifyLedgerFile(endOfRange, { rangeSize: 100 }), {
      ok: false,
      checked: 99,
      firstBad: { sequence: 100, reason: 'sequence_gap', expected: 100, actual: 101 },
    });
    const wholeRange = tampered((db) => db.prepare('DELETE FROM events WHERE sequence BETWEEN 101 AND 200').run());
    assert.deepEqual(await verifyLedgerFile(wholeRange, { rangeSize: 100 }), {
      ok: false,
      checked: 100,
      firstBad: { sequence: 101, reason: 'sequence_gap', expected: 101, actual: 201 },
    });
    const first = tampered((db) => db.prepare('DELETE FROM events WHERE sequence = 1').run());
    assert.deepEqual(await verifyLedgerFile(first, { rangeSize: 64 }), {
      ok: false,
      checked: 0,
      firstBad: { sequence: 1, reason: 'sequence_gap', expected: 1, actual: 2 },
    });
  });

  test('a row moved far past the head is a gap where it was, without walking the empty span', async () => {
    const path = tampered((db) => db.prepare('UPDATE events SET sequence = 4000000000000 WHERE sequence = 250').run());
    const started = Date.now();
    const result = await verifyLedgerFile(path, { rangeSize: 10 });
    assert.deepEqual(result, {
      ok: false,
      checked: 249,
      firstBad: { sequence: 250, reason: 'sequence_gap', expected: 250, actual: 251 },
    });
    assert.ok(Date.now() - started < 5_000);
  });

  test('an edited stream version at the start of a range is found from the versions before the range', async () => {
    const path = tampered((db) => db.prepare('UPDATE events SET stream_version = stream_version + 1000 WHERE sequence = 101').run());
    const version = readRow(path, 101).stream_version - 1000;
    for (const rangeSize of [100, 20, 1000]) {
      assert.deepEqual(await verifyLedgerFile(path, { rangeSize }), {
        ok: false,
        checked: 100,
        firstBad: { sequence: 101, reason: 'stream_version', expected: version, actual: version + 1000 },
      });
    }
  });

  test('the lowest of several faults is reported', async () => {
    const path = tampered((db) => {
      db.prepare("UPDATE events SET payload = '{}' WHERE sequence IN (40, 180, 260)").run();
      db.prepare('UPDATE events SET stream_version = stream_version + 1000 WHERE sequence = 220').run();
    });
    for (const rangeSize of [10, 45, 1000]) {
      const result = await verifyLedgerFile(path, { rangeSize });
      assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [40, 'content_hash']);
      assert.deepEqual(result.firstBad, chainOf(path).firstBad);
    }
  });
});

describe('verifyLedgerFile checks signatures', () => {
  const shared = sharedDir();
  let path: string;
  let first: AgentKeyPair;
  let second: AgentKeyPair;
  const sequences = { signedBefore: [] as number[], revoked: 0, signedAfter: [] as number[], unsigned: 0 };
  let copies = 0;

  before(async () => {
    path = join(shared.dir(), 'signed.db');
    first = generateAgentKeyPair();
    second = generateAgentKeyPair();
    const ledger = await openLedger(path);
    try {
      await ledger.registerAgentKey('billing-bot', first.publicKey, { keyId: 'k1' });
      await ledger.registerAgentKey('alice', generateAgentKeyPair().publicKey, { keyId: 'w', role: 'witness' });
      for (let i = 0; i < 5; i++) {
        const result = await ledger.append(signEvent({ type: 'invoice_sent', streamId: 'invoices', payload: { i } }, 'billing-bot', first.secretKey));
        sequences.signedBefore.push(result.sequence);
      }
      sequences.revoked = (await ledger.revokeAgentKey('billing-bot', 'k1', 'rotated')).sequence;
      await ledger.registerAgentKey('billing-bot', second.publicKey, { keyId: 'k2' });
      sequences.unsigned = (await ledger.append({ type: 'note', streamId: 'invoices', payload: 'unsigned' })).sequence;
      const batch = Array.from({ length: 5 }, (_, i) =>
        signEvent({ type: 'invoice_sent', streamId: 'invoices', payload: { i: i + 5 } }, 'billing-bot', second.secretKey),
      );
      for (const result of await ledger.appendBatch(batch)) sequences.signedAfter.push(result.sequence);
    } finally {
      await ledger.close();
    }
  });

  /** A copy with `edit` applied and the chain recomputed from `sequence` on, so only the signature can tell. */
  function forged(sequence: number, edit: (db: Database.Database) => void): string {
    const copy = join(shared.dir(), `forged-${++copies}.db`);
    copyLedgerFile(path, copy);
    tamper(copy, (db) => {
      edit(db);
      rechain(db, sequence);
    });
    return copy;
  }

  test('a signed ledger verifies, events signed before their key was revoked included', async () => {
    const total = sequences.signedAfter.at(-1)!;
    assert.equal(total, 15);
    for (const rangeSize of [undefined, 1, 3, 4]) {
      assert.deepEqual(await verifyLedgerFile(path, { rangeSize }), { ok: true, checked: total }, `rangeSize ${rangeSize}`);
    }
    // Starting after the key events: the keys are still read from the rows before the range.
    assert.deepEqual(await verifyLedgerFile(path, { from: sequences.signedAfter[0] }), { ok: true, checked: 5 });
  });

  test('an edited signed payload with a recomputed chain is a signature fault', async () => {
    const target = sequences.signedBefore[2]!;
    const copy = forged(target, (db) => db.prepare(`UPDATE events SET payload = '{"i":999}' WHERE sequence = ?`).run(target));
    assert.deepEqual(chainOf(copy), { ok: true, checked: 15 }, 'the chain alone cannot tell');
    for (const rangeSize of [undefined, 2, 5]) {
      const result = await verifyLedgerFile(copy, { rangeSize });
      assert.equal(result.ok, false);
      assert.equal(result.checked, target - 1);
      assert.equal(result.firstBad?.sequence, target);
      assert.equal(result.firstBad?.reason, 'signature');
      assert.match(result.firstBad?.detail ?? '', /does not verify/);
    }
  });

  test('a tampered signature is a signature fault when the chain is recomputed, a content_hash fault when not', async () => {
    const target = sequences.signedAfter[1]!;
    const edit = (db: Database.Database): void => {
      const signature = rowAt(db, target).signature!;
      db.prepare('UPDATE events SET signature = ? WHERE sequence = ?').run((signature[0] === 'A' ? 'B' : 'A') + signature.slice(1), target);
    };
    const result = await verifyLedgerFile(forged(target, edit), { rangeSize: 4 });
    assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [target, 'signature']);

    const plain = join(shared.dir(), `plain-${++copies}.db`);
    copyLedgerFile(path, plain);
    tamper(plain, edit);
    const unchained = await verifyLedgerFile(plain, { rangeSize: 4 });
    assert.deepEqual([unchained.firstBad?.sequence, unchained.firstBad?.reason], [target, 'content_hash']);
  });

  test('an event signed with a key after its revocation is refused, though the same key signed valid events before', async () => {
    const target = sequences.signedAfter[3]!;
    const copy = forged(target, (db) => {
      const row = rowAt(db, target);
      const bytes = signedBytesOf(SIGNED_COLUMNS.map((column) => row[column]));
      const signature = Buffer.from(nacl.sign.detached(bytes, first.secretKey)).toString('base64');
      db.prepare('UPDATE events SET signature = ? WHERE sequence = ?').run(signature, target);
    });
    const result = await verifyLedgerFile(copy);
    assert.deepEqual([result.ok, result.firstBad?.sequence, result.firstBad?.reason], [false, target, 'signature']);
  });

  test('a signature by an agent with no key, or by a witness key, is refused', async () => {
    const target = sequences.unsigned;
    const stranger = generateAgentKeyPair();
    for (const agentId of ['mallory', 'alice']) {
      const copy = forged(target, (db) => {
        db.prepare('UPDATE events SET agent_id = ? WHERE sequence = ?').run(agentId, target);
        const row = rowAt(db, target);
        const bytes = signedBytesOf(SIGNED_COLUMNS.map((column) => row[column]));
        const signature = Buffer.from(nacl.sign.detached(bytes, stranger.secretKey)).toString('base64');
        db.prepare('UPDATE events SET signature = ? WHERE sequence = ?').run(signature, target);
      });
      const result = await verifyLedgerFile(copy, { rangeSize: 3 });
      assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [target, 'signature'], agentId);
      assert.match(result.firstBad?.detail ?? '', /no agent key/);
    }
  });

  test('an event moved before its key was registered is refused', async () => {
    // Row 1 is the registration of k1: a signed event forged into its place predates the key.
    const copy = forged(1, (db) => {
      const signedRow = rowAt(db, sequences.signedBefore[0]!);
      db.prepare(
        "UPDATE events SET event_id = ?, stream_id = 'moved', type = ?, payload = ?, payload_meta = NULL, agent_id = ?, signature = ?, local_timestamp = ? WHERE sequence = 1",
      ).run(signedRow.event_id + '-copy', signedRow.type, signedRow.payload, signedRow.agent_id, signedRow.signature, signedRow.local_timestamp);
    });
    // The row's event id changed, so the copied signature would not verify anyway; what matters
    // is that no key of billing-bot existed before row 1.
    const result = await verifyLedgerFile(copy);
    assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [1, 'signature']);
    assert.match(result.firstBad?.detail ?? '', /no agent key/);
  });
});

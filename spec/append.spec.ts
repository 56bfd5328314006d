import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DEFAULT_STREAM, LedgerError, openLedger } from '../lib/index.ts';
import { chainOf, createLedger, reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

describe('append and read', () => {
  test('openLedger creates the file and an empty ledger', async (t) => {
    const path = tempLedgerPath(t);
    assert.equal(existsSync(path), false);
    const ledger = await reopen(t, path);
    assert.equal(existsSync(path), true);
    assert.equal(ledger.maxSequence(), 0);
    assert.equal(ledger.head(), undefined);
    assert.deepEqual(ledger.readAll(), []);
  });

  test('an append is assigned sequence, stream version, timestamps and a chained hash', async (t) => {
    const ledger = await createLedger(t);
    const before = Date.now();
    const first = await ledger.append({ type: 'user_login', streamId: 'user-ada', payload: { ip: '10.0.0.7' } });
    const second = await ledger.append({ type: 'user_logout', streamId: 'user-ada' });
    assert.equal(first.sequence, 1);
    assert.equal(first.streamId, 'user-ada');
    assert.equal(first.streamVersion, 0);
    assert.equal(first.prevHash, '0'.repeat(64));
    assert.match(first.contentHash, /^[0-9a-f]{64}$/);
    assert.match(first.eventId, /^[0-9a-f-]{36}$/);
    assert.ok(first.localTimestamp.getTime() >= before);
    assert.ok(first.authorityTimestamp.getTime() >= before - 5);
    assert.equal(second.sequence, 2);
    assert.equal(second.streamVersion, 1);
    assert.equal(second.prevHash, first.contentHash);
    assert.deepEqual(ledger.head(), { sequence: 2, contentHash: second.contentHash });
  });

  test('once append resolves, every read on this thread sees the event', async (t) => {
    const ledger = await createLedger(t);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => ledger.append({ type: 'tick', payload: { i } }).then((r) => {
        const event = ledger.get(r.sequence);
        assert.equal(event?.eventId, r.eventId);
        return r;
      })),
    );
    assert.equal(results.length, 50);
    assert.equal(ledger.maxSequence(), 50);
  });

  test('payload and metadata round-trip through superjson', async (t) => {
    const ledger = await createLedger(t);
    const payload = {
      when: new Date('2026-01-02T03:04:05.678Z'),
      big: 2n ** 70n,
      map: new Map<string, unknown>([['a', 1], ['b', new Set([1, 2])]]),
      set: new Set(['x']),
      missing: undefined,
      nested: [{ deep: null }, 'ünïcødé ✓', -0.5],
    };
    const metadata = { actor: 'ada', at: new Date(0) };
    const { sequence, eventId } = await ledger.append({ type: 'rich', payload, metadata });
    const event = ledger.get(sequence)!;
    assert.deepEqual(event.payload, payload);
    assert.ok('missing' in (event.payload as object));
    assert.deepEqual(event.metadata, metadata);
    assert.deepEqual(ledger.getByEventId(eventId), event);
    assert.equal(event.type, 'rich');
    assert.equal(event.agentId, undefined);
  });

  test('undefined payload and metadata stay undefined; primitives round-trip', async (t) => {
    const ledger = await createLedger(t);
    const a = await ledger.append({ type: 'empty' });
    const b = await ledger.append({ type: 'number', payload: 42 });
    const c = await ledger.append({ type: 'string', payload: 'plain' });
    assert.equal(ledger.get(a.sequence)!.payload, undefined);
    assert.equal(ledger.get(a.sequence)!.metadata, undefined);
    assert.equal(ledger.get(b.sequence)!.payload, 42);
    assert.equal(ledger.get(c.sequence)!.payload, 'plain');
  });

  test('events without a streamId belong to the default stream', async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 'a' });
    await ledger.append({ type: 'b' });
    assert.equal(DEFAULT_STREAM, '$default');
    assert.equal(ledger.streamVersion(DEFAULT_STREAM), 1);
    assert.deepEqual(ledger.readStream(DEFAULT_STREAM).map((e) => e.type), ['a', 'b']);
  });

  test('readAll pages in sequence order; readStream pages by version', async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch(Array.from({ length: 10 }, (_, i) => ({ type: 'n', streamId: i % 2 ? 'odd' : 'even', payload: i })));
    assert.deepEqual(ledger.readAll().map((e) => e.sequence), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(ledger.readAll({ from: 4, limit: 3 }).map((e) => e.payload), [3, 4, 5]);
    assert.deepEqual(ledger.readAll({ from: 11 }), []);
    assert.deepEqual(ledger.readStream('odd').map((e) => e.payload), [1, 3, 5, 7, 9]);
    assert.deepEqual(ledger.readStream('odd', { fromVersion: 2, limit: 2 }).map((e) => [e.streamVersion, e.payload]), [
      [2, 5],
      [3, 7],
    ]);
    assert.deepEqual(ledger.readStream('even', { fromVersion: 9 }), []);
    assert.equal(ledger.streamVersion('even'), 4);
    assert.equal(ledger.streamVersion('nobody'), undefined);
  });

  test('readStream of a stream with no events is STREAM_NOT_FOUND', async (t) => {
    const ledger = await createLedger(t);
    assert.throws(() => ledger.readStream('ghost'), (err: LedgerError) => {
      assert.equal(err.code, 'STREAM_NOT_FOUND');
      assert.equal(err.details.streamId, 'ghost');
      return true;
    });
  });

  test('verifyContinuity reports no gaps in a ledger, and the sequences beyond its head as missing', async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch(Array.from({ length: 5 }, () => ({ type: 'x' })));
    assert.deepEqual(ledger.verifyContinuity(1, 5), { continuous: true, missing: [] });
    assert.deepEqual(ledger.verifyContinuity(4, 8), { continuous: false, missing: [6, 7, 8] });
    assert.throws(() => ledger.verifyContinuity(5, 4), RangeError);
    assert.throws(() => ledger.verifyContinuity(Number.NaN, 4), RangeError);
  });

  test('a batch is assigned consecutive sequences and stream versions', async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 'before', streamId: 'cart' });
    const results = await ledger.appendBatch(
      [{ type: 'item_added', payload: 'A' }, { type: 'item_added', payload: 'B' }, { type: 'other', streamId: 'side' }],
      { streamId: 'cart' },
    );
    assert.deepEqual(results.map((r) => [r.sequence, r.streamId, r.streamVersion]), [
      [2, 'cart', 1],
      [3, 'cart', 2],
      [4, 'side', 0],
    ]);
    assert.deepEqual(await ledger.appendBatch([]), []);
  });

  test('close flushes pending appends; afterwards appends and reads are LEDGER_CLOSED; reopen continues the chain', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    const pending = Array.from({ length: 200 }, (_, i) => ledger.append({ type: 'p', payload: i }));
    await ledger.close();
    const results = await Promise.all(pending);
    assert.equal(results.at(-1)!.sequence, 200);
    await assert.rejects(ledger.append({ type: 'late' }), (err: LedgerError) => err.code === 'LEDGER_CLOSED');
    assert.throws(() => ledger.get(1), (err: LedgerError) => err.code === 'LEDGER_CLOSED');
    await ledger.close(); // idempotent

    const again = await reopen(t, path);
    assert.equal(again.maxSequence(), 200);
    const next = await again.append({ type: 'after_reopen' });
    assert.equal(next.sequence, 201);
    assert.equal(next.prevHash, results.at(-1)!.contentHash);
    await again.close();
    assert.deepEqual(chainOf(path), { ok: true, checked: 201 });
  });

  test('a second writer on the same file in this process is WRITER_LOCK_HELD; after close it can open', async (t) => {
    const path = tempLedgerPath(t);
    const first = await openLedger(path);
    await first.append({ type: 'x' });
    await assert.rejects(openLedger(path), (err: LedgerError) => {
      assert.equal(err.code, 'WRITER_LOCK_HELD');
      return true;
    });
    assert.equal((await first.append({ type: 'still_writable' })).sequence, 2);
    await first.close();
    const second = await reopen(t, path);
    assert.equal((await second.append({ type: 'y' })).sequence, 3);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openLedger, type LedgerError } from '../lib/index.ts';
import { createLedger, reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

describe('durable idempotency by eventId', () => {
  test('the same eventId with the same content returns the original result', async (t) => {
    const ledger = await createLedger(t);
    const input = { eventId: 'order-42-placed', type: 'order_placed', streamId: 'order-42', payload: { total: 9n }, metadata: { by: 'ada' } };
    const original = await ledger.append(input);
    await ledger.append({ type: 'unrelated' });
    const retried = await ledger.append({ ...input, expectedVersion: 'no_stream' });
    assert.deepEqual(retried, original);
    assert.equal(ledger.maxSequence(), 2);
  });

  test('a retry after close and reopen still returns the original result', async (t) => {
    const path = tempLedgerPath(t);
    const input = { eventId: 'retry-me', type: 'paid', payload: { cents: 500 } };
    const first = await openLedger(path);
    const original = await first.append(input);
    await first.close();
    const second = await reopen(t, path);
    assert.deepEqual(await second.append(input), original);
    assert.equal(second.maxSequence(), 1);
  });

  test('a defaulted localTimestamp is not part of identity; the original timestamps come back', async (t) => {
    const ledger = await createLedger(t);
    const original = await ledger.append({ eventId: 'e1', type: 't' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const retried = await ledger.append({ eventId: 'e1', type: 't' });
    assert.deepEqual(retried.localTimestamp, original.localTimestamp);
    assert.equal(retried.sequence, 1);
  });

  test('the same eventId with different content is DUPLICATE_EVENT_ID', async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ eventId: 'e1', type: 't', streamId: 's', payload: 1, metadata: 'm' });
    const variants = [
      { eventId: 'e1', type: 'other', streamId: 's', payload: 1, metadata: 'm' },
      { eventId: 'e1', type: 't', streamId: 'other', payload: 1, metadata: 'm' },
      { eventId: 'e1', type: 't', streamId: 's', payload: 2, metadata: 'm' },
      { eventId: 'e1', type: 't', streamId: 's', payload: 1n, metadata: 'm' },
      { eventId: 'e1', type: 't', streamId: 's', payload: 1, metadata: 'n' },
      { eventId: 'e1', type: 't', streamId: 's', payload: 1 },
    ];
    for (const variant of variants) {
      await assert.rejects(ledger.append(variant), (err: LedgerError) => {
        assert.equal(err.code, 'DUPLICATE_EVENT_ID');
        assert.deepEqual(err.details, { eventId: 'e1', sequence: 1 });
        return true;
      });
    }
    assert.equal(ledger.maxSequence(), 1);
  });

  test('an eventId that collides inside a batch fails the whole batch', async (t) => {
    const ledger = await createLedger(t);
    await assert.rejects(
      ledger.appendBatch([{ eventId: 'x', type: 'a' }, { eventId: 'y', type: 'a' }, { eventId: 'x', type: 'a' }]),
      (err: LedgerError) => err.code === 'DUPLICATE_EVENT_ID' && err.details.eventId === 'x' && err.details.index === 2,
    );
    assert.equal(ledger.maxSequence(), 0);
  });

  test('a batch containing an event that exists with other content fails whole', async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ eventId: 'taken', type: 'a' });
    await assert.rejects(
      ledger.appendBatch([{ eventId: 'new-1', type: 'a' }, { eventId: 'taken', type: 'b' }]),
      (err: LedgerError) => err.code === 'DUPLICATE_EVENT_ID',
    );
    assert.equal(ledger.getByEventId('new-1'), undefined);
    assert.equal(ledger.maxSequence(), 1);
  });

  test('retrying a whole committed batch returns the original results', async (t) => {
    const ledger = await createLedger(t);
    const batch = [{ eventId: 'b1', type: 'a' }, { eventId: 'b2', type: 'a' }];
    const original = await ledger.appendBatch(batch, { streamId: 's', expectedVersion: 'no_stream' });
    assert.deepEqual(await ledger.appendBatch(batch, { streamId: 's', expectedVersion: 'no_stream' }), original);
    assert.equal(ledger.maxSequence(), 2);
  });

  test('concurrent retries of one event land once', async (t) => {
    const ledger = await createLedger(t);
    const results = await Promise.all(Array.from({ length: 20 }, () => ledger.append({ eventId: 'once', type: 't', payload: 'p' })));
    assert.equal(new Set(results.map((r) => r.sequence)).size, 1);
    assert.equal(ledger.maxSequence(), 1);
  });
});

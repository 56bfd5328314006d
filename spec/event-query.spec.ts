/**
 * `ledger.events(query)`: a lazy iteration paged by sequence (or stream version), every filter
 * ANDed, options checked at the call, LEDGER_CLOSED when the ledger closes mid-iteration.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLedgerError, type LedgerEvent } from '../lib/index.ts';
import { createLedger } from './helpers/temp-ledger.ts';

const sequences = (events: Iterable<LedgerEvent>) => [...events].map((e) => e.sequence);

test('filters and bounds agree with readAll filtered in memory, whatever the page size', async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  const inputs = Array.from({ length: 47 }, (_, i) => ({
    type: i % 3 === 0 ? 'deposited' : 'withdrawn',
    streamId: `acct-${i % 4}`,
    payload: { i },
  }));
  await ledger.appendBatch(inputs);
  const all = ledger.readAll();
  for (const pageSize of [1, 2, 7, 500]) {
    assert.deepEqual(sequences(ledger.events({ pageSize })), all.map((e) => e.sequence));
    assert.deepEqual(
      sequences(ledger.events({ pageSize, streamId: 'acct-1', types: ['deposited'] })),
      all.filter((e) => e.streamId === 'acct-1' && e.type === 'deposited').map((e) => e.sequence),
    );
    assert.deepEqual(sequences(ledger.events({ pageSize, from: 10, to: 20 })), all.filter((e) => e.sequence >= 10 && e.sequence <= 20).map((e) => e.sequence));
    assert.deepEqual(sequences(ledger.events({ pageSize, reverse: true, limit: 5 })), [47, 46, 45, 44, 43]);
    assert.deepEqual(
      sequences(ledger.events({ pageSize, streamId: 'acct-2', reverse: true, from: 5, limit: 3 })),
      all.filter((e) => e.streamId === 'acct-2' && e.sequence >= 5).map((e) => e.sequence).reverse().slice(0, 3),
    );
  }
  assert.deepEqual(sequences(ledger.events({ limit: 0 })), []);
  assert.deepEqual(sequences(ledger.events({ streamId: 'nobody' })), []);
  // Decoded like every other read.
  assert.deepEqual([...ledger.events({ from: 3, limit: 1 })][0], ledger.get(3));
});

test('since/until select by authority timestamp: since inclusive, until exclusive', async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  await ledger.append({ type: 'early' });
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = await ledger.append({ type: 'late' });
  const at = second.authorityTimestamp;
  assert.deepEqual(sequences(ledger.events({ since: at })), [2]);
  assert.deepEqual(sequences(ledger.events({ until: at })), [1]);
  assert.deepEqual(sequences(ledger.events({ since: at, until: at })), []);
});

test('lazy: nothing is read before the loop pulls; `to` defaults to the head when iteration starts', async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  await ledger.appendBatch([{ type: 'a' }, { type: 'a' }, { type: 'a' }]);
  const query = ledger.events({ pageSize: 1 });
  await ledger.append({ type: 'b' }); // before the first pull: included
  const seen: number[] = [];
  for (const event of query) {
    seen.push(event.sequence);
    if (event.sequence === 1) await ledger.append({ type: 'c' }).catch(() => undefined);
  }
  assert.deepEqual(seen, [1, 2, 3, 4]);
});

test('a ledger closed mid-iteration ends it with LEDGER_CLOSED at the next page', async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  await ledger.appendBatch([{ type: 'a' }, { type: 'a' }, { type: 'a' }]);
  const query = ledger.events({ pageSize: 2 });
  assert.equal(query.next().value?.sequence, 1);
  assert.equal(query.next().value?.sequence, 2);
  await ledger.close();
  assert.throws(() => query.next(), (error) => isLedgerError(error, 'LEDGER_CLOSED'));
});

test('options are checked at the call, naming the option', async (t) => {
  const ledger = await createLedger(t);
  assert.throws(() => ledger.events({ from: 0 }), { name: 'RangeError', message: 'from must be a positive integer, got 0' });
  assert.throws(() => ledger.events({ types: [] }), { name: 'RangeError', message: 'types must list at least one type; omit it to read every type' });
  assert.throws(() => ledger.events({ since: 'yesterday' as unknown as Date }), { name: 'TypeError', message: "since must be a valid Date, got 'yesterday'" });
  assert.throws(() => ledger.events({ pageSize: 10_001 }), { name: 'RangeError' });
  assert.throws(() => ledger.events({ strem: 'x' } as never), { name: 'TypeError' });
});

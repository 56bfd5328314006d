import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { newEventId } from '../lib/format/event-id.ts';
import { createLedger } from './helpers/temp-ledger.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const millisecondsOf = (id: string) => Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);

test('generated event ids are RFC 9562 UUIDv7: unique, stamped with the time they were made, ordered by millisecond', () => {
  const before = Date.now();
  const ids = Array.from({ length: 200_000 }, newEventId);
  const after = Date.now();
  assert.equal(new Set(ids).size, ids.length);
  let previous = 0;
  for (const id of ids) {
    assert.match(id, UUID_V7);
    const ms = millisecondsOf(id);
    assert.ok(ms >= before && ms <= after, `${id} is stamped ${ms}, made between ${before} and ${after}`);
    assert.ok(ms >= previous, `${id} is stamped before the id made ahead of it`);
    previous = ms;
  }
  // The 74 random bits are spread: every hex digit shows up in each random position.
  for (const position of [15, 16, 20, 24, 35]) {
    assert.equal(new Set(ids.map((id) => id[position])).size, 16, `position ${position}`);
  }
  assert.deepEqual(new Set(ids.map((id) => id[19])), new Set(['8', '9', 'a', 'b']), 'the variant bits are 10');
});

test('appends without an eventId get UUIDv7 ids that sort in append order across milliseconds', async (t) => {
  const ledger = await createLedger(t);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 5 }), async (batchSizes) => {
      const start = ledger.maxSequence();
      for (const size of batchSizes) {
        await ledger.appendBatch(Array.from({ length: size }, () => ({ type: 'generated' })));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      const events = ledger.readAll({ from: start + 1 });
      assert.equal(events.length, batchSizes.reduce((a, b) => a + b, 0));
      for (const [i, event] of events.entries()) {
        assert.match(event.eventId, UUID_V7);
        if (i > 0) assert.ok(millisecondsOf(event.eventId) >= millisecondsOf(events[i - 1]!.eventId));
      }
    }),
    { numRuns: 20 },
  );
});

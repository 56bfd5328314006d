/**
 * Property: whatever the interleaving of concurrent appends and batches (some of which fail), the
 * page size, the starting point and the speed of the handler, a subscription delivers exactly the
 * committed events from its `from` on, in sequence order, each once, with no gap; a filtered one
 * delivers exactly the matching committed events; the caught-up marker comes once, between the
 * events up to its sequence and the ones after.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { openLedger, type LedgerEvent, type SubscriptionItem } from '../../lib/index.ts';
import { assertOutcome, inputsOf, issue, opArbitrary } from '../helpers/append-ops.ts';
import { tempDir } from '../helpers/temp-ledger.ts';

const op = opArbitrary({ maxBatch: 8, streams: ['a', 'b', 'c'], failures: ['wrong_version', 'duplicate_id'], okWeight: 5 });

const scenario = fc.record({
  /** Events committed before anyone subscribes (after the anchor). */
  before: fc.integer({ min: 0, max: 12 }),
  /** Ops split into groups: a group is issued in one tick (concurrently), groups one after another. */
  groups: fc.array(fc.array(op, { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 6 }),
  /** Whether live appends wait for every subscription to catch up, or race with the catch-up. */
  waitForCatchUp: fc.boolean(),
  fromOffset: fc.integer({ min: 0, max: 15 }),
  batchSizes: fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 7 })),
  /** setImmediate turns each handler call waits, cycled over the events: a slow consumer. */
  delays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 8 }),
  filterStream: fc.constantFrom('a', 'b', 'c'),
});

/** Items a subscription delivered; `caughtUp` and `ended` resolve on the marker and on the end event. */
function recorder(): { items: SubscriptionItem[]; push: (item: SubscriptionItem) => void; caughtUp: Promise<void>; ended: Promise<void> } {
  const items: SubscriptionItem[] = [];
  let onCaughtUp!: () => void;
  let onEnded!: () => void;
  const caughtUp = new Promise<void>((r) => (onCaughtUp = r));
  const ended = new Promise<void>((r) => (onEnded = r));
  return {
    items,
    caughtUp,
    ended,
    push(item) {
      items.push(item);
      if (item.kind === 'caught_up') onCaughtUp();
      if (isEnd(item)) onEnded();
    },
  };
}

const END = 'end-of-run';
const isEnd = (item: SubscriptionItem) => item.kind === 'event' && item.event.eventId === END;

const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

/**
 * A guard, not an assertion: a subscription that skipped the end event would wait for it forever.
 * Closing the ledger ends every subscription, and the exact assertions then say what was missed.
 */
const RUN_GUARD_MS = 30_000;

test('subscribers see exactly the committed events, in order, once, whatever the interleaving', async (t) => {
  const dir = tempDir(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async ({ before, groups, waitForCatchUp, fromOffset, batchSizes, delays, filterStream }) => {
      const ledger = await openLedger(join(dir, `ledger-${run++}.db`));
      const guard = setTimeout(() => void ledger.close(), RUN_GUARD_MS);
      try {
        await ledger.append({ type: 'anchor', eventId: 'anchor', streamId: 'a' });
        for (let i = 0; i < before; i++) await ledger.append({ type: 'before', eventId: `before-${i}`, streamId: ['a', 'b', 'c'][i % 3]! });
        const from = 1 + (fromOffset % (before + 2)); // 1 .. head + 1

        // A: handler form from `from`, slow handler, small pages.
        const a = recorder();
        let aCalls = 0;
        let aActive = 0;
        const aSubscription = ledger.subscribe(
          { from, batchSize: batchSizes[0], onCaughtUp: (sequence) => a.push({ kind: 'caught_up', sequence }) },
          async (event) => {
            aActive++;
            assert.equal(aActive, 1, 'handler calls overlap');
            await ticks(delays[aCalls++ % delays.length]!);
            aActive--;
            a.push({ kind: 'event', event });
          },
        );
        // B: iterator form from 1, unfiltered.
        const b = recorder();
        const bStream = ledger.subscribe({ batchSize: batchSizes[1] });
        const bLoop = (async () => {
          for await (const item of bStream) {
            b.push(item);
            if (isEnd(item)) break;
          }
        })();
        // C: iterator form filtered by stream and type; the end event matches it.
        const c = recorder();
        const cStream = ledger.subscribe({ streamId: filterStream, types: ['even', 'end'], batchSize: batchSizes[2] });
        const cLoop = (async () => {
          for await (const item of cStream) {
            c.push(item);
            await ticks(delays[c.items.length % delays.length]!);
            if (isEnd(item)) break;
          }
        })();
        if (waitForCatchUp) await Promise.all([a.caughtUp, b.caughtUp, c.caughtUp]);

        let opIndex = 0;
        for (const group of groups) {
          const issued = group.map((o) => {
            const inputs = inputsOf(o, `op${opIndex++}`, { typeOf: (i) => (i % 2 === 0 ? 'even' : 'odd') });
            return { o, promise: issue(ledger, o, inputs) };
          });
          const settled = await Promise.allSettled(issued.map((i) => i.promise));
          settled.forEach((outcome, k) => assertOutcome(issued[k]!.o, outcome));
        }
        const end = await ledger.append({ type: 'end', eventId: END, streamId: filterStream });
        // Each ends on the end event, or when the guard closes the ledger.
        await Promise.all([Promise.race([a.ended, aSubscription.done]), bLoop, cLoop]);

        const committed = ledger.readAll();
        const n = end.sequence;
        assert.deepEqual(committed.map((e) => e.sequence), Array.from({ length: n }, (_, i) => i + 1));
        const sequencesOf = (items: SubscriptionItem[]) => items.flatMap((item) => (item.kind === 'event' ? [item.event.sequence] : []));
        const eventsOf = (items: SubscriptionItem[]) => items.flatMap((item) => (item.kind === 'event' ? [item.event] : []));

        // Exactly from..n (A) and 1..n (B), in order, once each, the stored events themselves.
        assert.deepEqual(sequencesOf(a.items), Array.from({ length: n - from + 1 }, (_, i) => from + i));
        assert.deepEqual(eventsOf(b.items), committed);
        // Exactly the committed matches of the filter (C).
        const matches = (e: LedgerEvent) => e.streamId === filterStream && (e.type === 'even' || e.type === 'end');
        assert.deepEqual(eventsOf(c.items), committed.filter(matches));

        // One marker each, with everything up to its sequence before it and nothing after.
        for (const [name, w] of [['A', a], ['B', b], ['C', c]] as const) {
          const markers = w.items.flatMap((item, index) => (item.kind === 'caught_up' ? [{ index, sequence: item.sequence }] : []));
          assert.equal(markers.length, 1, `${name}: one caught-up marker`);
          const { index, sequence } = markers[0]!;
          if (waitForCatchUp) assert.equal(sequence, 1 + before, `${name}: caught up at the head before the live appends`);
          assert.ok(sequence >= 1 + before && sequence <= n, `${name}: marker ${sequence} within ${1 + before}..${n}`);
          assert.ok(sequencesOf(w.items.slice(0, index)).every((s) => s <= sequence), `${name}: an event after the marker came before it`);
          assert.ok(sequencesOf(w.items.slice(index + 1)).every((s) => s > sequence), `${name}: a caught-up event came after the marker`);
        }
        assert.equal(bStream.closed, true);
        assert.equal(cStream.closed, true);
        await ledger.close();
        await aSubscription.done;
        assert.equal(aSubscription.closed, true);
      } finally {
        clearTimeout(guard);
        await ledger.close();
      }
    }),
    { numRuns: Number(process.env.STELE_PROPERTY_RUNS ?? 15) },
  );
});

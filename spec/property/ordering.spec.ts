/**
 * Property: whatever the interleaving of concurrent appends and batches over random streams, with
 * failing requests mixed in, the committed ledger is gap-free, ordered, hash-linked, and holds
 * nothing of a failed request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { openLedger } from '../../lib/index.ts';
import { assertOutcome, inputsOf, issue, opArbitrary } from '../helpers/append-ops.ts';
import { chainOf, tempDir } from '../helpers/temp-ledger.ts';
import { join } from 'node:path';

const op = opArbitrary({ maxBatch: 6, streams: ['a', 'b', 'c', 'd'], failures: ['wrong_version', 'too_large', 'duplicate_id', 'duplicate_in_batch'], okWeight: 6 });

/** Ops split into groups: a group is issued in one tick (concurrently), groups one after another. */
const scenario = fc.record({
  groups: fc.array(fc.array(op, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }),
  maxPendingAppends: fc.constantFrom(3, 8, 10_000),
});

const MAX_EVENT_BYTES = 512;

test('concurrent appends and batches commit gap-free, ordered and linked; failures leave nothing', async (t) => {
  const dir = tempDir(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async ({ groups, maxPendingAppends }) => {
      const path = join(dir, `ledger-${run++}.db`);
      const ledger = await openLedger(path, { maxPendingAppends, maxEventBytes: MAX_EVENT_BYTES });
      try {
        await ledger.append({ type: 'anchor', eventId: 'anchor' });
        const committedIds = new Set(['anchor']);
        const failedIds = new Set<string>();
        let opIndex = 0;
        for (const group of groups) {
          const issued = group.map((o) => {
            const id = `op${opIndex++}`;
            const inputs = inputsOf(o, id, { tooLargeBytes: MAX_EVENT_BYTES });
            return { o, inputs, promise: issue(ledger, o, inputs) };
          });
          const settled = await Promise.allSettled(issued.map((i) => i.promise));
          settled.forEach((outcome, k) => {
            const { o, inputs } = issued[k]!;
            assertOutcome(o, outcome);
            if (o.failure === 'none') {
              const results = (outcome as PromiseFulfilledResult<{ sequence: number; eventId: string }[]>).value;
              // A batch occupies consecutive sequences.
              results.forEach((r, i) => assert.equal(r.sequence, results[0]!.sequence + i));
              for (const input of inputs) committedIds.add(input.eventId!);
            } else {
              for (const input of inputs) if (input.eventId !== 'anchor') failedIds.add(input.eventId!);
            }
          });
        }

        const events = ledger.readAll();
        // Exactly 1..n, in order, and exactly the committed events.
        assert.deepEqual(events.map((e) => e.sequence), Array.from({ length: events.length }, (_, i) => i + 1));
        assert.deepEqual(new Set(events.map((e) => e.eventId)), committedIds);
        for (const id of failedIds) assert.equal(ledger.getByEventId(id), undefined, `failed event ${id} left a trace`);
        // Each stream's versions are exactly 0..k in sequence order; every link holds.
        const versions = new Map<string, number>();
        let prevHash = '0'.repeat(64);
        for (const event of events) {
          const expected = (versions.get(event.streamId) ?? -1) + 1;
          assert.equal(event.streamVersion, expected);
          versions.set(event.streamId, expected);
          assert.equal(event.prevHash, prevHash);
          prevHash = event.contentHash;
        }
        for (const [stream, version] of versions) assert.equal(ledger.streamVersion(stream), version);
        assert.deepEqual(ledger.head(), { sequence: events.length, contentHash: prevHash });
      } finally {
        await ledger.close();
      }
      const chain = chainOf(path);
      assert.equal(chain.ok, true, JSON.stringify(chain.firstBad));
    }),
    { numRuns: Number(process.env.STELE_PROPERTY_RUNS ?? 15) },
  );
});

/**
 * Property: whatever the interleaving of concurrent appends and batches over random streams, with
 * failing requests mixed in, the committed ledger is gap-free, ordered, hash-linked, and holds
 * nothing of a failed request.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { openLedger, type AppendInput, type LedgerError } from '../../lib/index.ts';
import { chainOf, tempDir } from '../helpers/temp-ledger.ts';
import { join } from 'node:path';

type Failure = 'none' | 'wrong_version' | 'too_large' | 'duplicate_id' | 'duplicate_in_batch';

interface Op {
  batch: number; // 0 = single append, otherwise batch size
  stream: string;
  failure: Failure;
}

const EXPECTED_CODE: Record<Exclude<Failure, 'none'>, string> = {
  wrong_version: 'WRONG_EXPECTED_VERSION',
  too_large: 'EVENT_TOO_LARGE',
  duplicate_id: 'DUPLICATE_EVENT_ID',
  duplicate_in_batch: 'DUPLICATE_EVENT_ID',
};

const op: fc.Arbitrary<Op> = fc.record({
  batch: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 6 })),
  stream: fc.constantFrom('a', 'b', 'c', 'd'),
  failure: fc.oneof(
    { weight: 6, arbitrary: fc.constant<Failure>('none') },
    { weight: 1, arbitrary: fc.constantFrom<Failure>('wrong_version', 'too_large', 'duplicate_id', 'duplicate_in_batch') },
  ),
});

/** Ops split into groups: a group is issued in one tick (concurrently), groups one after another. */
const scenario = fc.record({
  groups: fc.array(fc.array(op, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }),
  maxPendingAppends: fc.constantFrom(3, 8, 10_000),
});

const MAX_EVENT_BYTES = 512;

function inputsOf(o: Op, id: string): AppendInput[] {
  const count = Math.max(1, o.batch);
  const inputs: AppendInput[] = Array.from({ length: count }, (_, i) => ({
    type: 'prop',
    streamId: o.stream,
    eventId: `${id}-${i}`,
    payload: { id, i },
  }));
  const first = inputs[0]!;
  const last = inputs.at(-1)!;
  switch (o.failure) {
    case 'wrong_version':
      last.expectedVersion = 1_000_000;
      break;
    case 'too_large':
      last.payload = 'x'.repeat(MAX_EVENT_BYTES);
      break;
    case 'duplicate_id':
      // Same id as the anchor event, different content.
      last.eventId = 'anchor';
      break;
    case 'duplicate_in_batch':
      inputs.push({ ...first, payload: 'copy' });
      break;
  }
  return inputs;
}

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
            const inputs = inputsOf(o, id);
            const promise = o.batch === 0 && inputs.length === 1 ? ledger.append(inputs[0]!).then((r) => [r]) : ledger.appendBatch(inputs);
            return { o, inputs, promise };
          });
          const settled = await Promise.allSettled(issued.map((i) => i.promise));
          settled.forEach((outcome, k) => {
            const { o, inputs } = issued[k]!;
            if (o.failure === 'none') {
              assert.equal(outcome.status, 'fulfilled', `op ${JSON.stringify(o)} failed: ${String((outcome as PromiseRejectedResult).reason)}`);
              const results = (outcome as PromiseFulfilledResult<{ sequence: number; eventId: string }[]>).value;
              // A batch occupies consecutive sequences.
              results.forEach((r, i) => assert.equal(r.sequence, results[0]!.sequence + i));
              for (const input of inputs) committedIds.add(input.eventId!);
            } else {
              assert.equal(outcome.status, 'rejected', `op ${JSON.stringify(o)} should have failed`);
              assert.equal(((outcome as PromiseRejectedResult).reason as LedgerError).code, EXPECTED_CODE[o.failure]);
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

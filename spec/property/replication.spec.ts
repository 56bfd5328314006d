/**
 * Property: whatever the interleaving of concurrent appends, batches, failing requests and
 * replicate() calls, in either mode, every replica ends up holding exactly the primary's history
 * (same sequences, same hashes), and in sync mode every acknowledged event is already in every
 * replica when its append resolves.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { FileCopyReplicator, openLedger, type AppendInput, type Ledger } from '../../lib/index.ts';
import { historyOf, tempDir } from '../helpers/temp-ledger.ts';

type Step = { kind: 'append'; size: number; stream: string; duplicate: boolean } | { kind: 'replicate' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), size: fc.integer({ min: 0, max: 8 }), stream: fc.constantFrom('a', 'b', 'c'), duplicate: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replicate' as const) }) },
);

const scenario = fc.record({
  mode: fc.constantFrom('async' as const, 'sync' as const),
  replicas: fc.integer({ min: 1, max: 3 }),
  /** Steps in one group are issued in the same tick; groups run one after another. */
  groups: fc.array(fc.array(step, { minLength: 1, maxLength: 10 }), { minLength: 1, maxLength: 5 }),
});

function hasEvent(path: string, eventId: string): boolean {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT 1 FROM events WHERE event_id = ?').get(eventId) !== undefined;
  } finally {
    db.close();
  }
}

test('replicas converge to the primary under any interleaving; sync acknowledgements are replicated', async (t) => {
  const dir = tempDir(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async ({ mode, replicas, groups }) => {
      const prefix = join(dir, `run-${run++}`);
      const copies = Array.from({ length: replicas }, (_, i) => `${prefix}-copy-${i}.db`);
      const ledger: Ledger = await openLedger(`${prefix}.db`, { replicas: copies.map((path) => new FileCopyReplicator(path)), replication: mode });
      try {
        let n = 0;
        for (const group of groups) {
          await Promise.all(
            group.map(async (s) => {
              if (s.kind === 'replicate') {
                const receipts = await ledger.replicate();
                assert.deepEqual(receipts.map((r) => r.status), copies.map(() => 'confirmed'));
                return;
              }
              const id = `e${n++}`;
              const inputs: AppendInput[] = Array.from({ length: Math.max(1, s.size) }, (_, i) => ({ type: 'p', streamId: s.stream, eventId: `${id}-${i}`, payload: { i } }));
              // A duplicate id with other content fails the whole request and must replicate nothing of it.
              if (s.duplicate) inputs.push({ type: 'p', streamId: s.stream, eventId: `${id}-0`, payload: { other: true } });
              const append = s.size === 0 && !s.duplicate ? ledger.append(inputs[0]!).then((r) => [r]) : ledger.appendBatch(inputs);
              const outcome = await append.then(
                (results) => results,
                (error: { code?: string }) => error,
              );
              if (s.duplicate) {
                assert.equal((outcome as { code?: string }).code, 'DUPLICATE_EVENT_ID');
                return;
              }
              if (mode === 'sync') {
                for (const copy of copies) assert.equal(hasEvent(copy, (outcome as { eventId: string }[]).at(-1)!.eventId), true);
              }
            }),
          );
        }
        await ledger.replicate();
        const results = await ledger.verifyReplicas();
        assert.deepEqual(results.map((r) => [r.ok, r.lag]), copies.map(() => [true, 0]));
      } finally {
        await ledger.close();
      }
      const primary = historyOf(`${prefix}.db`);
      for (const copy of copies) assert.deepEqual(historyOf(copy), primary);
    }),
    { numRuns: 12 },
  );
});

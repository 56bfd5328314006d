import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import type { ClockDriftWarning, LedgerError } from '../lib/index.ts';
import { chainOf, createLedger } from './helpers/temp-ledger.ts';

describe('group commit, backpressure and clock drift', () => {
  test('a failing request never fails the others committed with it', async (t) => {
    const ledger = await createLedger(t, { maxEventBytes: 1000 });
    await ledger.append({ type: 'seed', streamId: 's' });
    // All issued in one tick, so they travel and commit together.
    const outcomes = await Promise.allSettled([
      ledger.append({ type: 'ok-1', streamId: 's' }),
      ledger.append({ type: 'bad-version', streamId: 's', expectedVersion: 'no_stream' }),
      ledger.appendBatch([{ type: 'ok-batch' }, { type: 'ok-batch' }]),
      ledger.appendBatch([{ type: 'dup', eventId: 'd' }, { type: 'dup', eventId: 'd' }]),
      ledger.append({ type: 'too-large', payload: 'x'.repeat(2000) }),
      ledger.append({ type: 'ok-2', streamId: 's' }),
    ]);
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'fulfilled' ? 'ok' : (o.reason as LedgerError).code)),
      ['ok', 'WRONG_EXPECTED_VERSION', 'ok', 'DUPLICATE_EVENT_ID', 'EVENT_TOO_LARGE', 'ok'],
    );
    assert.deepEqual(ledger.readAll().map((e) => e.type), ['seed', 'ok-1', 'ok-batch', 'ok-batch', 'ok-2']);
    assert.deepEqual(ledger.verifyContinuity(1, 5), { continuous: true, missing: [] });
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test("onFull: 'reject' refuses past maxPendingAppends with BACKPRESSURE and loses nothing accepted", async (t) => {
    const ledger = await createLedger(t, { maxPendingAppends: 10, onFull: 'reject' });
    const outcomes = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => ledger.append({ type: 'n', payload: i })));
    const accepted = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    assert.equal(accepted.length, 10);
    assert.equal(refused.length, 15);
    for (const r of refused) {
      assert.equal((r.reason as LedgerError).code, 'BACKPRESSURE');
      assert.deepEqual((r.reason as LedgerError).details, { pending: 10, limit: 10 });
    }
    assert.equal(ledger.maxSequence(), 10);
    assert.equal((await ledger.append({ type: 'after' })).sequence, 11);
  });

  test("onFull: 'wait' keeps at most maxPendingAppends in flight and lands every append in call order", async (t) => {
    const ledger = await createLedger(t, { maxPendingAppends: 16 });
    let peak = 0;
    const all = Array.from({ length: 500 }, (_, i) => {
      const p = ledger.append({ type: 'n', payload: i });
      peak = Math.max(peak, ledger.pendingAppends);
      return p;
    });
    const timer = setInterval(() => (peak = Math.max(peak, ledger.pendingAppends)), 1);
    const results = await Promise.all(all);
    clearInterval(timer);
    assert.ok(peak <= 16, `peak pending ${peak}`);
    assert.deepEqual(results.map((r) => r.sequence), Array.from({ length: 500 }, (_, i) => i + 1));
    assert.deepEqual(ledger.readAll({ from: 490 }).map((e) => e.payload), Array.from({ length: 11 }, (_, i) => 489 + i));
  });

  test('a batch larger than maxPendingAppends still goes through alone', async (t) => {
    const ledger = await createLedger(t, { maxPendingAppends: 4 });
    const results = await ledger.appendBatch(Array.from({ length: 10 }, () => ({ type: 'big' })));
    assert.equal(results.length, 10);
  });

  test('drift beyond the threshold is recorded by the trigger and emitted as a warning; the event is accepted', async (t) => {
    const ledger = await createLedger(t, { driftThresholdMs: 1000 });
    const warnings: ClockDriftWarning[] = [];
    ledger.on('warning', (w) => {
      if (w.kind === 'clock_drift') warnings.push(w);
    });
    const skewed = await ledger.append({ type: 'from_a_slow_clock', localTimestamp: new Date(Date.now() - 60_000) });
    const fine = await ledger.append({ type: 'on_time', localTimestamp: new Date() });
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.kind, 'clock_drift');
    assert.equal(warnings[0]!.sequence, skewed.sequence);
    assert.ok(warnings[0]!.driftMs >= 60_000 && warnings[0]!.driftMs < 65_000, String(warnings[0]!.driftMs));
    assert.equal(ledger.get(skewed.sequence)!.localTimestamp.getTime(), skewed.localTimestamp.getTime());

    const db = new Database(ledger.path, { readonly: true });
    t.after(() => db.close());
    const rows = db.prepare('SELECT sequence, drift_ms, threshold_ms FROM clock_drift_warnings').all() as Array<{
      sequence: number;
      drift_ms: number;
      threshold_ms: number;
    }>;
    assert.deepEqual(rows, [{ sequence: skewed.sequence, drift_ms: warnings[0]!.driftMs, threshold_ms: 1000 }]);
    assert.equal(fine.sequence, 2);
  });

  test('an idle writer checkpoints the WAL into the file once 1,000 events are committed, not inside a COMMIT', async (t) => {
    const ledger = await createLedger(t);
    const empty = statSync(ledger.path).size;
    // 999 events: below the writer's threshold and far below SQLite's own (10,000 pages), so the
    // rows are in the WAL only.
    await ledger.appendBatch(Array.from({ length: 999 }, () => ({ type: 'before', payload: 'x'.repeat(200) })));
    assert.equal(statSync(ledger.path).size, empty);
    await ledger.append({ type: 'the 1,000th' });
    // The checkpoint runs once the writer has nothing to do: the file grows to hold the rows.
    for (let waited = 0; statSync(ledger.path).size === empty; waited += 10) {
      assert.ok(waited < 10_000, 'no checkpoint within 10 s of the writer going idle');
      await sleep(10);
    }
    assert.ok(statSync(ledger.path).size > empty + 999 * 200);
    assert.equal(ledger.readAll({ from: 1000 })[0]!.type, 'the 1,000th');
  });
});

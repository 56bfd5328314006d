/**
 * Shutdown and health:
 *   - close({ timeoutMs }) flushes what was submitted; afterwards appends are LEDGER_CLOSED; a
 *     writer that cannot flush (file locked by another process) does not hold close() past its bound;
 *   - closeOnSignals(): a real child process is sent SIGTERM mid-stream, exits 0 promptly, and
 *     every append it acknowledged is in the file, with no partial batch;
 *   - allowDegraded: with the writer lock held elsewhere the ledger opens for reads only;
 *   - health() of a fresh, a busy and a closed ledger.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openLedger, type DegradedWarning, type LedgerError } from '../lib/index.ts';
import { collectingLogger } from './helpers/collecting-logger.ts';
import { runChild } from './helpers/run-child.ts';
import { chainOf, createLedger, reopen, tempLedgerPath } from './helpers/temp-ledger.ts';
import { holdWriteLock } from './helpers/write-lock-holder.ts';

const SIGNAL_CHILD = new URL('./fixtures/processes/signalled-appender.ts', import.meta.url);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const closedError = (err: LedgerError) => {
  assert.equal(err.code, 'LEDGER_CLOSED');
  return true;
};

describe('close', () => {
  test('close({ timeoutMs }) flushes pending appends; afterwards appends are LEDGER_CLOSED', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    const singles = Array.from({ length: 40 }, (_, i) => ledger.append({ type: 'pending', eventId: `p${i}`, payload: i }));
    const batch = ledger.appendBatch([{ type: 'b', eventId: 'b0' }, { type: 'b', eventId: 'b1' }], { streamId: 'batch' });
    const closing = ledger.close({ timeoutMs: 5_000 });
    assert.equal(ledger.close(), closing, 'close() again returns the same promise');
    const results = await Promise.all(singles);
    const batchResults = await batch;
    await closing;
    assert.deepEqual(
      results.map((r) => r.sequence),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.deepEqual(batchResults.map((r) => r.sequence), [41, 42]);

    await assert.rejects(ledger.append({ type: 'late' }), closedError);
    await assert.rejects(ledger.appendBatch([{ type: 'late' }, { type: 'late' }]), closedError);
    assert.throws(() => ledger.readAll(), closedError);
    const health = ledger.health();
    assert.equal(health.writer, 'closed');
    assert.equal(health.headSequence, undefined);
    assert.equal(health.pendingAppends, 0);

    const again = await reopen(t, path);
    assert.equal(again.maxSequence(), 42);
    assert.equal(again.getByEventId('p39')?.payload, 39);
    assert.deepEqual(chainOf(path), { ok: true, checked: 42 });
  });

  test('close() flushes an append made before it whose payload schema validates asynchronously', async (t) => {
    const path = tempLedgerPath(t);
    const slowSchema = {
      '~standard': {
        version: 1 as const,
        vendor: 'spec',
        validate: (value: unknown) => new Promise<{ value: unknown }>((resolve) => setTimeout(() => resolve({ value }), 20)),
      },
    };
    const ledger = await openLedger(path, { eventTypes: { slow: slowSchema } });
    const before = ledger.append({ type: 'slow', eventId: 'made-before-close', payload: { n: 1 } }).then(
      (result) => result,
      (error: unknown) => error as LedgerError,
    );
    await ledger.close({ timeoutMs: 2_000 });
    const outcome = await before;
    assert.ok(!(outcome instanceof Error), `an append made before close() was refused: ${String(outcome)}`);
    assert.equal(outcome.sequence, 2, 'after the taxonomy the opening recorded');
    const again = await reopen(t, path);
    assert.equal(again.getByEventId('made-before-close')?.sequence, 2);
  });

  test('close({ timeoutMs }) is bounded when the writer cannot flush (file locked by another process), and the outcome is known', async (t) => {
    const path = tempLedgerPath(t);
    // Retries that would go on for ~100 s.
    const ledger = await openLedger(path, { retry: { attempts: 10, delayMs: 100 } });
    t.after(() => ledger.close());
    await ledger.append({ type: 'before' });
    const holder = await holdWriteLock(t, path);

    const stuck = ledger.append({ type: 'stuck', eventId: 'stuck' }).then(
      () => undefined,
      (error: unknown) => error as LedgerError,
    );
    await sleep(50);
    const started = performance.now();
    await ledger.close({ timeoutMs: 300 });
    const elapsed = performance.now() - started;
    // timeoutMs, then the group waiting to retry gives up at once: nothing waits out the retries.
    assert.ok(elapsed < 2_500, `close took ${Math.round(elapsed)} ms`);
    const error = await stuck;
    assert.ok(error, 'the append that could not be flushed did not resolve');
    // The writer had started it: its caller learns that it was not written, not "unknown".
    assert.equal(error.code, 'WRITE_FAILED');
    assert.equal(error.details.closing, true);
    assert.equal(error.details.outcome, undefined);

    holder.release();
    assert.ok(Number.isFinite(await holder.released));
    const again = await reopen(t, path);
    assert.equal(again.getByEventId('stuck'), undefined);
    assert.equal(again.maxSequence(), 1);
  });
});

describe('close with appends waiting for backpressure room', () => {
  test('close({ timeoutMs }) lets appends made before it wait for room within the timeout: all 40 commit, in order', async (t) => {
    const path = tempLedgerPath(t);
    // Room for 4 events: 36 singles and a batch wait in the FIFO when close() is called.
    const ledger = await openLedger(path, { maxPendingAppends: 4 });
    const singles = Array.from({ length: 40 }, (_, i) => ledger.append({ type: 'waiting', eventId: `w${i}`, payload: i }));
    const batch = ledger.appendBatch([{ type: 'b', eventId: 'b0' }, { type: 'b', eventId: 'b1' }]);
    assert.ok(ledger.health().pendingAppends <= 4);
    const closing = ledger.close({ timeoutMs: 10_000 });
    // Made after close(): refused even though room will free up.
    const late = ledger.append({ type: 'late', eventId: 'late' }).then(
      () => assert.fail('an append made after close() was accepted'),
      (error: LedgerError) => error,
    );
    const outcomes = await Promise.allSettled([...singles, batch]);
    await closing;
    const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason));
    assert.deepEqual(refused, [], 'appends made before close() with time left were refused');
    const sequences = outcomes.slice(0, 40).map((o) => (o as PromiseFulfilledResult<{ sequence: number }>).value.sequence);
    assert.deepEqual(sequences, Array.from({ length: 40 }, (_, i) => i + 1), 'admitted oldest first');
    closedError(await late);

    const again = await reopen(t, path);
    assert.equal(again.maxSequence(), 42);
    assert.equal(again.getByEventId('late'), undefined);
    assert.deepEqual(chainOf(path), { ok: true, checked: 42 });
  });

  test('when time runs out, appends still waiting for room are LEDGER_CLOSED and not written; those the writer had are refused by it', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path, { maxPendingAppends: 2, retry: { attempts: 10, delayMs: 100 } });
    t.after(() => ledger.close());
    await ledger.append({ type: 'before' });
    const holder = await holdWriteLock(t, path);
    const settled = (p: Promise<unknown>) => p.then(() => undefined, (error: unknown) => error as LedgerError);
    const sent = [0, 1].map((i) => settled(ledger.append({ type: 'stuck', eventId: `sent${i}` })));
    const waiting = [0, 1, 2, 3].map((i) => settled(ledger.append({ type: 'stuck', eventId: `waiting${i}` })));
    const waitingBatch = settled(ledger.appendBatch([{ type: 'stuck', eventId: 'wb0' }, { type: 'stuck', eventId: 'wb1' }]));
    await sleep(50);
    const started = performance.now();
    await ledger.close({ timeoutMs: 300 });
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 290, `close gave up after ${Math.round(elapsed)} ms, before its timeout`);
    assert.ok(elapsed < 2_500, `close took ${Math.round(elapsed)} ms`);
    for (const error of await Promise.all(sent)) {
      assert.equal(error?.code, 'WRITE_FAILED');
      assert.equal(error.details.closing, true);
    }
    for (const error of await Promise.all([...waiting, waitingBatch])) {
      assert.equal(error?.code, 'LEDGER_CLOSED');
      assert.equal(error.details.outcome, undefined, 'it never left the caller: not "unknown"');
    }
    holder.release();
    await holder.released;
    const again = await reopen(t, path);
    assert.equal(again.maxSequence(), 1);
  });
});

interface AckLine {
  kind: 'ack';
  batchId: string;
  events: Array<{ sequence: number; eventId: string; contentHash: string }>;
}
type ChildLine = { kind: 'ready' } | AckLine | { kind: 'closed'; batchId: string } | { kind: 'failed'; batchId: string; error: string };

test('closeOnSignals: SIGTERM mid-stream exits 0 promptly; every acknowledged append is in the file, no batch partial', async (t) => {
  const path = tempLedgerPath(t);
  const child = runChild(t, SIGNAL_CHILD, [path], { stderr: 'pipe' });
  const exited = child.exited.then((outcome) => ({ ...outcome, at: performance.now() }));
  const lines: ChildLine[] = [];
  let acks = 0;
  let signalledAt: number | undefined;
  let ackedBeforeSignal = 0;
  for await (const line of child.lines) {
    const parsed = line as ChildLine;
    lines.push(parsed);
    if (parsed.kind === 'ack' && ++acks === 60) {
      ackedBeforeSignal = acks;
      signalledAt = performance.now();
      child.process.kill('SIGTERM');
    }
  }
  const { code, signal, at } = await exited;
  const stderr = child.stderr();
  assert.ok(signalledAt !== undefined, `the child stopped before 60 acknowledgements (exit ${code ?? signal}): ${stderr}`);
  assert.equal(signal, null, 'the child exited by itself, not killed by the signal');
  assert.equal(code, 0, `exit code; stderr: ${stderr}`);
  assert.ok(at - signalledAt < 2_000, `exited ${Math.round(at - signalledAt)} ms after SIGTERM`);
  assert.deepEqual(lines.filter((l) => l.kind === 'failed'), []);
  assert.equal(lines[0]?.kind, 'ready');

  const acked = lines.filter((l): l is AckLine => l.kind === 'ack');
  assert.ok(acked.length >= ackedBeforeSignal);
  const ledger = await reopen(t, path);
  for (const ack of acked) {
    for (const event of ack.events) {
      const stored = ledger.get(event.sequence);
      assert.equal(stored?.eventId, event.eventId, `acknowledged ${event.eventId} at #${event.sequence}`);
      assert.equal(stored?.contentHash, event.contentHash);
    }
  }
  const head = ledger.maxSequence();
  const rows = ledger.readAll();
  assert.equal(rows.length, head);
  assert.deepEqual(ledger.verifyContinuity(1, head), { continuous: true, missing: [] });
  // No partial batch: every batch found in the file is whole, acknowledged or not.
  const batches = new Map<string, number[]>();
  for (const row of rows) {
    const { batchId, size } = row.payload as { batchId: string; size: number };
    const seqs = batches.get(batchId) ?? [];
    seqs.push(row.sequence);
    batches.set(batchId, seqs);
    assert.equal(typeof size, 'number');
  }
  for (const [batchId, seqs] of batches) {
    const size = (ledger.get(seqs[0]!)!.payload as { size: number }).size;
    assert.equal(seqs.length, size, `batch ${batchId} is whole`);
    assert.deepEqual(seqs, seqs.map((_, k) => seqs[0]! + k), `batch ${batchId} is consecutive`);
  }
  assert.deepEqual(chainOf(path), { ok: true, checked: head });
});

describe('allowDegraded', () => {
  test('with the writer lock held elsewhere: reads only, degraded health, a warning; without it WRITER_LOCK_HELD', async (t) => {
    const holder = await createLedger(t);
    await holder.appendBatch([{ type: 'a', eventId: 'a' }, { type: 'b', eventId: 'b' }]);

    await assert.rejects(openLedger(holder.path), (err: LedgerError) => {
      assert.equal(err.code, 'WRITER_LOCK_HELD');
      return true;
    });

    const logger = collectingLogger();
    const degraded = await reopen(t, holder.path, { allowDegraded: true, logger });
    const warnings: DegradedWarning[] = [];
    degraded.on('warning', (warning) => warnings.push(warning as DegradedWarning));
    await sleep(20);
    assert.equal(warnings.length, 1, "one 'warning' event");
    assert.equal(warnings[0]!.kind, 'degraded');
    assert.equal(warnings[0]!.code, 'WRITER_LOCK_HELD');

    assert.deepEqual(degraded.readAll().map((e) => e.eventId), ['a', 'b']);
    await holder.append({ type: 'c', eventId: 'c' });
    assert.equal(degraded.getByEventId('c')?.sequence, 3, 'reads see the other writer’s commits');

    const health = degraded.health();
    assert.equal(health.degraded, true);
    assert.equal(health.writer, 'failed');
    assert.equal(health.halted, false);
    assert.equal(health.headSequence, 3);
    assert.equal(health.appendedCount, 0);

    await assert.rejects(degraded.append({ type: 'refused' }), (err: LedgerError) => {
      assert.equal(err.code, 'WRITER_UNAVAILABLE');
      assert.equal(err.details.cause, 'WRITER_LOCK_HELD');
      return true;
    });
    await assert.rejects(degraded.appendBatch([{ type: 'x' }, { type: 'y' }]), (err: LedgerError) => err.code === 'WRITER_UNAVAILABLE');
    assert.equal(holder.maxSequence(), 3);
    assert.equal(logger.find('warn', { code: 'WRITER_UNAVAILABLE' }).length, 2, 'each refusal logged at warn with its code');
    assert.equal(logger.find('warn', { code: 'WRITER_LOCK_HELD' }).length, 1, 'opening degraded is logged at warn');

    await degraded.close();
    assert.equal(degraded.health().writer, 'closed');
    // The holder was never disturbed.
    assert.equal((await holder.append({ type: 'd' })).sequence, 4);
  });
});

test('health() of a fresh ledger, after appends, and after close', async (t) => {
  const path = tempLedgerPath(t);
  const before = Date.now();
  const ledger = await openLedger(path);
  t.after(() => ledger.close());
  const fresh = ledger.health();
  assert.deepEqual(
    { ...fresh },
    {
      writer: 'running',
      degraded: false,
      fileReplaced: false,
      halted: false,
      headSequence: 0,
      lastWriteAt: undefined,
      appendedCount: 0,
      failedWriteCount: 0,
      pendingAppends: 0,
      restarts: 0,
      replicas: [],
    },
  );
  await ledger.append({ type: 'one' });
  await ledger.appendBatch([{ type: 'two' }, { type: 'three' }]);
  const pending = ledger.append({ type: 'four' });
  // append() hands the event to the writer after a few microtasks; no reply can arrive before a macrotask.
  for (let i = 0; i < 10; i++) await null;
  assert.equal(ledger.health().pendingAppends, 1, 'a submitted append is pending until acknowledged');
  await pending;
  const health = ledger.health();
  assert.equal(health.writer, 'running');
  assert.equal(health.degraded, false);
  assert.equal(health.halted, false);
  assert.equal(health.headSequence, 4);
  assert.equal(health.appendedCount, 4);
  assert.equal(health.failedWriteCount, 0);
  assert.equal(health.pendingAppends, 0);
  assert.equal(health.restarts, 0);
  assert.ok(health.lastWriteAt instanceof Date);
  assert.ok(health.lastWriteAt.getTime() >= before && health.lastWriteAt.getTime() <= Date.now());

  // Refusals by the database are not write failures.
  await assert.rejects(ledger.append({ type: 'x', streamId: 's', expectedVersion: 5 }), (err: LedgerError) => err.code === 'WRONG_EXPECTED_VERSION');
  assert.equal(ledger.health().failedWriteCount, 0);
  await ledger.halt('maintenance');
  assert.equal(ledger.health().halted, true);

  await ledger.close();
  const closed = ledger.health();
  assert.equal(closed.writer, 'closed');
  assert.equal(closed.headSequence, undefined);
  assert.equal(closed.pendingAppends, 0);
  assert.equal(closed.appendedCount, 5);
});

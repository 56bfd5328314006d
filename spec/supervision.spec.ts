/**
 * Supervision of the writer thread, with the real worker killed (worker.terminate(), as a crash
 * would) at random moments while appends stream in:
 *   - requests in flight reject with WRITER_CRASHED (outcome unknown), requests not yet sent wait;
 *   - the writer restarts, and health() counts the restart;
 *   - retrying the failed requests with the same eventIds lands each event exactly once; every
 *     acknowledged event is where it was acknowledged; sequences stay gap-free; the chain verifies;
 *   - too many crashes in the window and the writer is 'failed': an 'error' event, appends refused
 *     with WRITER_UNAVAILABLE, reads still served, health() degraded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { LedgerError, type AppendInput, type AppendResult, type Ledger } from '../lib/index.ts';
import { collectingLogger } from './helpers/collecting-logger.ts';
import { chainOf, createLedger } from './helpers/temp-ledger.ts';
import { writerOf } from '../lib/ledger/ledger-parts.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the writer is running again after `restarts` restarts. */
async function restarted(ledger: Ledger, restarts: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const health = ledger.health();
    if (health.writer === 'running' && health.restarts === restarts) return;
    if (health.writer === 'failed' || Date.now() > deadline) {
      assert.fail(`the writer did not come back: ${JSON.stringify(health)}`);
    }
    await sleep(10);
  }
}

/**
 * Kills the writer thread. A ref'd timer keeps the event loop alive until the kill has landed:
 * on an idle ledger the writer's worker is unref'd, and the promise of crashForTesting()
 * alone does not keep the process (or the test runner) alive until the worker's 'exit' — seen as
 * a cancelled test ("Promise resolution is still pending but the event loop has already resolved").
 */
async function crashWriter(ledger: Ledger): Promise<void> {
  const keepAlive = setInterval(() => undefined, 1_000);
  try {
    await writerOf(ledger)!.crashForTesting();
  } finally {
    clearInterval(keepAlive);
  }
}

function assertCrashed(error: unknown): void {
  assert.ok(error instanceof LedgerError, `expected a LedgerError, got ${String(error)}`);
  assert.equal(error.code, 'WRITER_CRASHED', String(error));
  assert.equal(error.details.outcome, 'unknown');
}

/** One request: a single append or a batch. */
type Request = AppendInput[];

describe('writer supervision', () => {
  test('crashes at random moments under load: in-flight requests fail as unknown, retries land exactly once', async (t) => {
    const logger = collectingLogger();
    // A restart window of 1 ms keeps every restart's backoff at its first step (50 ms), so that one
    // ledger serves every run; the restart limit is checked by the next test.
    const ledger = await createLedger(t, { logger, restartWindowMs: 1 });
    let run = 0;
    let crashedTotal = 0;
    let madeWhileRestarting = 0;

    await fc.assert(
      fc.asyncProperty(
        fc.record({
          loops: fc.integer({ min: 2, max: 6 }),
          perLoop: fc.integer({ min: 4, max: 25 }),
          crashAfterAcks: fc.nat({ max: 60 }),
          // How the crash lands after the acks that trigger it: at once, or a few ms later.
          extraDelayMs: fc.constantFrom(0, 0, 1, 3, 8),
          // Every how many requests of a loop is a batch (of 2..4 events).
          batchEvery: fc.integer({ min: 2, max: 5 }),
        }),
        async ({ loops, perLoop, crashAfterAcks, extraDelayMs, batchEvery }) => {
          run++;
          const headBefore = ledger.maxSequence();
          const restartsBefore = ledger.health().restarts;
          const requests: Request[] = [];
          const acked = new Map<string, AppendResult>();
          const failed: Request[] = [];
          let acks = 0;
          let crashTriggered!: () => void;
          const triggered = new Promise<void>((resolve) => (crashTriggered = resolve));
          const target = Math.min(crashAfterAcks, Math.floor((loops * perLoop) / 2));
          if (target === 0) crashTriggered();

          const loop = async (l: number) => {
            for (let i = 0; i < perLoop; i++) {
              const size = i % batchEvery === batchEvery - 1 ? 2 + ((l + i) % 3) : 1;
              const request: Request = Array.from({ length: size }, (_, k) => ({
                type: size === 1 ? 'single' : 'batched',
                streamId: `s-${(l + i) % 3}`,
                eventId: `run${run}-l${l}-r${i}-e${k}`,
                payload: { run, loop: l, request: i, index: k, size },
              }));
              requests.push(request);
              if (ledger.health().writer === 'restarting') madeWhileRestarting++;
              try {
                const results = size === 1 ? [await ledger.append(request[0]!)] : await ledger.appendBatch(request);
                for (const r of results) acked.set(r.eventId, r);
                if (++acks === target) crashTriggered();
              } catch (error) {
                assertCrashed(error);
                failed.push(request);
              }
            }
          };

          const crash = (async () => {
            await triggered;
            if (extraDelayMs > 0) await sleep(extraDelayMs);
            await crashWriter(ledger);
          })();
          const work = Promise.all(Array.from({ length: loops }, (_, l) => loop(l)));
          await crash;
          await restarted(ledger, restartsBefore + 1);
          await work;
          crashedTotal += failed.length;

          // Retrying with the same eventIds (and content) is safe whatever the outcome was.
          const retried = await Promise.all(failed.map((request) => (request.length === 1 ? ledger.append(request[0]!).then((r) => [r]) : ledger.appendBatch(request))));
          const retriedById = new Map(retried.flat().map((r) => [r.eventId, r]));

          const expectedIds = requests.flat().map((input) => input.eventId!);
          const rows = ledger.readAll({ from: headBefore + 1 });
          const counts = new Map<string, number>();
          for (const row of rows) counts.set(row.eventId, (counts.get(row.eventId) ?? 0) + 1);
          assert.equal(rows.length, expectedIds.length, 'every event of the run, nothing else');
          for (const id of expectedIds) assert.equal(counts.get(id), 1, `${id} lands exactly once`);
          for (const [id, result] of acked) {
            const stored = ledger.get(result.sequence);
            assert.equal(stored?.eventId, id, `acknowledged ${id} is at #${result.sequence}`);
            assert.equal(stored?.contentHash, result.contentHash);
          }
          for (const [id, result] of retriedById) assert.equal(ledger.getByEventId(id)?.sequence, result.sequence);
          // A batch is whole and consecutive, whether acknowledged, retried or both.
          for (const request of requests.filter((r) => r.length > 1)) {
            const seqs = request.map((input) => ledger.getByEventId(input.eventId!)!.sequence);
            assert.deepEqual(seqs, seqs.map((_, k) => seqs[0]! + k), `batch ${request[0]!.eventId} is consecutive`);
          }
          const head = ledger.maxSequence();
          assert.equal(head, headBefore + expectedIds.length);
          assert.deepEqual(ledger.verifyContinuity(1, head), { continuous: true, missing: [] });
          const health = ledger.health();
          assert.equal(health.writer, 'running');
          assert.equal(health.restarts, restartsBefore + 1);
          assert.equal(health.pendingAppends, 0);
        },
      ),
      { numRuns: 8 },
    );

    assert.ok(crashedTotal > 0, 'some crash landed while requests were in flight');
    assert.ok(madeWhileRestarting > 0, 'some requests were made while the writer restarted (they wait for it)');
    assert.deepEqual(chainOf(ledger.path), { ok: true, checked: ledger.maxSequence() });
    assert.equal(ledger.health().restarts, run);
    // Each crash logged at error, each restart at info.
    assert.equal(logger.calls.filter(([level, , message]) => level === 'error' && message === 'writer crashed; restarting').length, run);
    assert.equal(logger.calls.filter(([level, , message]) => level === 'info' && message === 'writer restarted').length, run);
    t.diagnostic(`runs ${run}, requests failed as crashed ${crashedTotal}, made while restarting ${madeWhileRestarting}`);
  });

  test('more than maxRestarts crashes in the window: failed, an error event, appends refused, reads served', async (t) => {
    const logger = collectingLogger();
    const ledger = await createLedger(t, { logger, maxRestarts: 2, restartWindowMs: 60_000 });
    const errors: LedgerError[] = [];
    ledger.on('error', (error) => errors.push(error));
    await ledger.appendBatch([{ type: 'a', eventId: 'a' }, { type: 'b', eventId: 'b' }]);

    for (let crash = 1; crash <= 2; crash++) {
      await crashWriter(ledger);
      assert.equal(ledger.health().writer, 'restarting');
      await restarted(ledger, crash);
      assert.equal((await ledger.append({ type: 'between', eventId: `between-${crash}` })).sequence, 2 + crash);
    }
    assert.equal(errors.length, 0);

    // The third crash, with a request in flight.
    const inFlight = ledger.append({ type: 'lost', eventId: 'lost' });
    const outcome = inFlight.then(
      () => undefined,
      (error: unknown) => error,
    );
    // Sent to the worker (a few microtasks), then killed before its reply can arrive (a macrotask).
    for (let i = 0; i < 10; i++) await null;
    assert.equal(ledger.pendingAppends, 1);
    await crashWriter(ledger);
    const lostError = await outcome;
    // Either it was committed before the kill (then it is in the file) or it failed as crashed.
    if (lostError === undefined) assert.equal(ledger.getByEventId('lost')?.type, 'lost');
    else assertCrashed(lostError);

    const health = ledger.health();
    assert.equal(health.writer, 'failed');
    assert.equal(health.degraded, true);
    assert.equal(health.restarts, 2);
    assert.equal(errors.length, 1, "one 'error' event");
    assert.ok(errors[0] instanceof LedgerError);
    assert.equal(errors[0].code, 'WRITER_UNAVAILABLE');

    await assert.rejects(ledger.append({ type: 'refused' }), (err: LedgerError) => {
      assert.equal(err.code, 'WRITER_UNAVAILABLE');
      return true;
    });
    await assert.rejects(ledger.appendBatch([{ type: 'x' }, { type: 'y' }]), (err: LedgerError) => err.code === 'WRITER_UNAVAILABLE');
    await assert.rejects(ledger.append({ type: 'lost', eventId: 'lost' }), (err: LedgerError) => err.code === 'WRITER_UNAVAILABLE');

    // Reads keep working.
    const head = ledger.maxSequence();
    assert.ok(head === 4 || head === 5);
    assert.deepEqual(
      ledger.readAll().map((e) => e.eventId).slice(0, 4),
      ['a', 'b', 'between-1', 'between-2'],
    );
    assert.equal(ledger.get(1)?.type, 'a');
    assert.deepEqual(ledger.verifyContinuity(1, head), { continuous: true, missing: [] });
    assert.equal(chainOf(ledger.path).ok, true);

    assert.equal(logger.calls.filter(([level, , message]) => level === 'error' && message === 'writer crashed; restarting').length, 2);
    assert.equal(logger.calls.filter(([level, , message]) => level === 'info' && message === 'writer restarted').length, 2);
    assert.equal(logger.find('fatal', { code: 'WRITER_UNAVAILABLE' }).length, 1);
    assert.ok(logger.find('warn', { code: 'WRITER_UNAVAILABLE' }).length >= 3, 'refused appends are logged at warn with their code');
  });
});

describe('a writer that breaks its protocol', () => {
  test('an unexpected message ends that writer through the crash path, never a throw in the port listener; a new writer takes over', async (t) => {
    const logger = collectingLogger();
    const ledger = await createLedger(t, { logger, durability: 'normal' });
    assert.equal((await ledger.append({ type: 'before' })).sequence, 1);
    const writer = writerOf(ledger)!;

    // Each would have been a throw inside the 'message' listener: an uncaught exception in the app.
    assert.doesNotThrow(() => writer.receiveForTesting({ kind: 'surprise' }));
    assert.equal(logger.find('error', { message: "{ kind: 'surprise' }" }).length, 1);
    await waitFor(() => ledger.health().restarts === 1 && ledger.health().writer === 'running');
    // Outcomes without their columns: reading them used to throw inside the listener.
    assert.doesNotThrow(() => writer.receiveForTesting({ kind: 'outcomes' }));
    await waitFor(() => ledger.health().restarts === 2 && ledger.health().writer === 'running');
    const none = new Float64Array(0);
    const unknownRequest = { kind: 'outcomes', ids: [424242], errors: [], sequences: none, streamVersions: none, authorityTimestamps: none, localTimestamps: none, contentHashes: '', prevHashes: '' };
    assert.doesNotThrow(() => writer.receiveForTesting(unknownRequest));
    assert.equal(logger.find('error', { message: 'an outcome of unknown request 424242' }).length, 1);
    await waitFor(() => ledger.health().restarts === 3 && ledger.health().writer === 'running');

    assert.equal((await ledger.append({ type: 'after' })).sequence, 2);
    assert.equal(ledger.health().writer, 'running');
    assert.equal(chainOf(ledger.path).ok, true);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

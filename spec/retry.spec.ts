/**
 * Retries of transient SQLite failures under genuine contention: another process holds the
 * ledger file's write lock (BEGIN IMMEDIATE on a raw better-sqlite3 connection,
 * spec/fixtures/processes/file-locker.ts) while appends are made.
 *   - held for less than the retry budget: the appends wait it out and succeed;
 *   - held for longer: WRITE_FAILED with { attempts, sqliteCode }, within the retry budget (SQLite's
 *     own busy timeout must not multiply it), counted in health(); the next append succeeds;
 *   - a halt is never retried.
 * The logger records the retries, the refusal and the successes.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { LedgerError } from '../lib/index.ts';
import { collectingLogger } from './helpers/collecting-logger.ts';
import { chainOf, createLedger } from './helpers/temp-ledger.ts';
import { holdWriteLock } from './helpers/write-lock-holder.ts';

describe('retries of a busy ledger file', () => {
  test('a lock held for less than the retry budget is waited out: the appends succeed', async (t) => {
    const logger = collectingLogger();
    // Default retry { attempts: 3, delayMs: 50 }: at least 50 + 100 + 200 ms of backoff.
    const ledger = await createLedger(t, { logger });
    await ledger.append({ type: 'before' });

    const busy = await holdWriteLock(t, ledger.path, 120);
    const started = performance.now();
    const results = await Promise.all([
      ledger.append({ type: 'during', eventId: 'd1' }),
      ledger.append({ type: 'during', eventId: 'd2' }),
      ledger.appendBatch([{ type: 'during', eventId: 'd3' }, { type: 'during', eventId: 'd4' }]),
    ]);
    const elapsed = performance.now() - started;
    const heldMs = await busy.released;

    assert.deepEqual(
      results.flat().map((r) => [r.eventId, r.sequence]),
      [['d1', 2], ['d2', 3], ['d3', 4], ['d4', 5]],
    );
    // The appends really waited for the other process: they could not commit while it held the lock.
    assert.ok(heldMs >= 100, `held ${heldMs} ms`);
    assert.ok(elapsed >= 90, `appended after ${elapsed} ms, while the lock was held for ${heldMs} ms`);
    const retries = logger.find('warn').filter(([, , message]) => message === 'ledger file busy; retrying');
    assert.ok(retries.length >= 1, 'the busy file was retried, and logged at warn');
    assert.match(String(retries[0]![1].sqliteCode), /^SQLITE_BUSY/);
    assert.equal(retries[0]![1].attempt, 1);

    const health = ledger.health();
    assert.equal(health.failedWriteCount, 0);
    assert.equal(health.appendedCount, 5);
    assert.equal(health.writer, 'running');
    assert.deepEqual(ledger.verifyContinuity(1, 5), { continuous: true, missing: [] });
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('a lock held past the retries fails with WRITE_FAILED within the budget; then appends succeed', async (t) => {
    const logger = collectingLogger();
    // Backoff 20 + 40 + 80 ms (plus up to 50 % jitter): well under a second.
    const ledger = await createLedger(t, { logger, retry: { attempts: 3, delayMs: 20 } });
    const first = await ledger.append({ type: 'before', eventId: 'before' });

    const busy = await holdWriteLock(t, ledger.path);
    const started = performance.now();
    let error: LedgerError | undefined;
    await assert.rejects(ledger.append({ type: 'blocked', eventId: 'blocked' }), (err: LedgerError) => {
      error = err;
      return true;
    });
    const elapsed = performance.now() - started;
    assert.equal(error!.name, 'LedgerError');
    assert.equal(error!.code, 'WRITE_FAILED');
    assert.equal(error!.details.attempts, 4, 'the first try and 3 retries');
    assert.match(String(error!.details.sqliteCode), /^SQLITE_BUSY/);
    assert.ok(elapsed >= 20 + 40 + 80 - 5, `gave up after ${elapsed} ms: the backoff was skipped`);
    assert.ok(elapsed < 1000, `gave up after ${Math.round(elapsed)} ms: SQLite's busy timeout multiplied the budget`);
    assert.equal(ledger.health().failedWriteCount, 1);
    assert.equal(ledger.getByEventId('blocked'), undefined);
    assert.equal(ledger.maxSequence(), 1);

    // Logged: three retries at warn, then the refusal at warn with its code.
    const retries = logger.calls.filter(([level, , message]) => level === 'warn' && message === 'ledger file busy; retrying');
    assert.deepEqual(
      retries.map(([, fields]) => fields.attempt),
      [1, 2, 3],
    );
    const refused = logger.find('warn', { code: 'WRITE_FAILED' });
    assert.equal(refused.length, 1, 'the rejected append is logged at warn with its code');
    assert.equal(refused[0]![1].attempts, 4);

    busy.release();
    await busy.released;
    const after = await ledger.append({ type: 'after', eventId: 'after' });
    assert.equal(after.sequence, 2);
    assert.equal(after.prevHash, first.contentHash);
    // The successes are logged at debug with their eventId and sequence.
    assert.equal(logger.find('debug', { eventId: 'after', sequence: 2 }).length, 1);
    assert.equal(logger.find('debug', { eventId: 'before', sequence: 1 }).length, 1);
    assert.equal(logger.find('debug', { eventId: 'blocked' }).length, 0);
    const health = ledger.health();
    assert.equal(health.failedWriteCount, 1);
    assert.equal(health.appendedCount, 2);
    assert.deepEqual(chainOf(ledger.path), { ok: true, checked: 2 });
  });

  test('a halt is never retried: LEDGER_HALTED comes back at once', async (t) => {
    const logger = collectingLogger();
    // One retry would take at least 500 ms.
    const ledger = await createLedger(t, { logger, retry: { attempts: 5, delayMs: 500 } });
    const halt = await ledger.halt('incident');
    const started = performance.now();
    await assert.rejects(ledger.append({ type: 'after_halt' }), (err: LedgerError) => {
      assert.equal(err.code, 'LEDGER_HALTED');
      assert.equal(err.details.haltSequence, halt.sequence);
      return true;
    });
    await assert.rejects(ledger.appendBatch([{ type: 'a' }, { type: 'b' }]), (err: LedgerError) => err.code === 'LEDGER_HALTED');
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 450, `LEDGER_HALTED took ${Math.round(elapsed)} ms: it was retried`);
    assert.equal(logger.calls.filter(([, , message]) => message === 'ledger file busy; retrying').length, 0);
    assert.equal(logger.find('warn', { code: 'LEDGER_HALTED' }).length, 2);
    assert.equal(ledger.health().failedWriteCount, 0);
    assert.equal(ledger.health().halted, true);
    assert.equal(ledger.maxSequence(), 1);
  });
});

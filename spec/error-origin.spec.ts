/**
 * Errors that come back from the writer thread say where the app called and what the facts are:
 * the caller's stack (the writer's error kept as `cause`), and the expected and actual versions
 * in the message of WRONG_EXPECTED_VERSION.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LedgerError } from '../lib/index.ts';
import { createLedger } from './helpers/temp-ledger.ts';

async function appendFromHereExpectingVersion(ledger: Awaited<ReturnType<typeof createLedger>>, expectedVersion: number | 'stream_exists'): Promise<unknown> {
  return ledger.append({ type: 'deposited', streamId: 'acct-1', expectedVersion }).then(
    () => assert.fail('the append should be refused'),
    (error: unknown) => error,
  );
}

test("a writer's refusal carries the caller's stack, with the writer's error as cause", async (t) => {
  const ledger = await createLedger(t);
  await ledger.append({ type: 'opened', streamId: 'acct-1' });
  const error = (await appendFromHereExpectingVersion(ledger, 5)) as LedgerError;
  assert.ok(error instanceof LedgerError);
  assert.equal(error.code, 'WRONG_EXPECTED_VERSION');
  assert.match(error.stack!, /appendFromHereExpectingVersion/);
  assert.match(error.stack!, /error-origin\.spec\.ts/);
  assert.doesNotMatch(error.stack!.split('\n')[1]!, /fromWire|onMessage/);
  assert.ok(error.cause instanceof LedgerError);
  assert.equal((error.cause as LedgerError).code, 'WRONG_EXPECTED_VERSION');

  const batch = await ledger.appendBatch([{ type: 'x' }], { streamId: 'acct-1', expectedVersion: 9 }).then(() => assert.fail("refused"), (e: unknown) => e as LedgerError);
  assert.equal(batch.code, 'WRONG_EXPECTED_VERSION');
  assert.match(batch.stack!, /error-origin\.spec\.ts/);
});

test('WRONG_EXPECTED_VERSION says expected and actual in its message, and when the stream does not exist', async (t) => {
  const ledger = await createLedger(t);
  await ledger.append({ type: 'opened', streamId: 'acct-1' });
  const moved = (await appendFromHereExpectingVersion(ledger, 5)) as LedgerError;
  assert.equal(
    moved.message,
    "WRONG_EXPECTED_VERSION: the stream is not at the version the append expects; re-read the stream and decide again (stream 'acct-1': expected 5, but the stream is at version 0)",
  );
  assert.deepEqual({ ...moved.details }, { streamId: 'acct-1', expected: 5, actual: 0 });
  const missing = await ledger.append({ type: 'x', streamId: 'nobody', expectedVersion: 'stream_exists' }).then(() => assert.fail("refused"), (e: unknown) => e as LedgerError);
  assert.equal(
    missing.message,
    "WRONG_EXPECTED_VERSION: the stream is not at the version the append expects; re-read the stream and decide again (stream 'nobody': expected stream_exists, but the stream does not exist)",
  );
});

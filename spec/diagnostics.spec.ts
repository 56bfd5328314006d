/**
 * node:diagnostics_channel: appends, failures, commits, halts and verification progress are
 * published on `stele:*` channels; with nobody subscribed no message is built.
 */
import assert from 'node:assert/strict';
import diagnosticsChannel from 'node:diagnostics_channel';
import { test, type TestContext } from 'node:test';
import type { DiagnosticMessages } from '../lib/index.ts';
import { hasDiagnosticSubscribers, publishDiagnostic } from '../lib/diagnostics.ts';
import { createLedger } from './helpers/temp-ledger.ts';

type Name = keyof DiagnosticMessages;

function listen<N extends Name>(t: TestContext, name: N): DiagnosticMessages[N][] {
  const seen: DiagnosticMessages[N][] = [];
  const listener = (message: unknown) => seen.push(message as DiagnosticMessages[N]);
  diagnosticsChannel.subscribe(name, listener);
  t.after(() => diagnosticsChannel.unsubscribe(name, listener));
  return seen;
}

test('an acknowledged request is one stele:append message and one stele:commit of its group', async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  const appends = listen(t, 'stele:append');
  const commits = listen(t, 'stele:commit');
  await ledger.append({ type: 'a' });
  await ledger.appendBatch([{ type: 'b' }, { type: 'b' }, { type: 'b' }]);
  assert.equal(appends.length, 2);
  assert.deepEqual(
    appends.map(({ path, events, firstSequence, lastSequence }) => ({ path, events, firstSequence, lastSequence })),
    [
      { path: ledger.path, events: 1, firstSequence: 1, lastSequence: 1 },
      { path: ledger.path, events: 3, firstSequence: 2, lastSequence: 4 },
    ],
  );
  assert.ok(appends.every((m) => m.durationMs >= 0));
  assert.equal(commits.reduce((sum, c) => sum + c.events, 0), 4);
  assert.equal(commits.at(-1)?.lastSequence, 4);
  assert.ok(commits.every((c) => c.path === ledger.path && c.failedRequests === 0));
});

test('a refused request is a stele:append:error message with its code', async (t) => {
  const ledger = await createLedger(t);
  const errors = listen(t, 'stele:append:error');
  const appends = listen(t, 'stele:append');
  await ledger.append({ type: 'a', streamId: 's' });
  await assert.rejects(ledger.append({ type: 'a', streamId: 's', expectedVersion: 'no_stream' }), { code: 'WRONG_EXPECTED_VERSION' });
  await assert.rejects(ledger.appendBatch([{ type: '' }, { type: 'b' }]), { code: 'INVALID_EVENT' });
  assert.deepEqual(errors.map((e) => [e.events, e.code]), [[1, 'WRONG_EXPECTED_VERSION'], [2, 'INVALID_EVENT']]);
  assert.equal(appends.length, 1);
});

test('halts and verification progress are published', async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  await ledger.appendBatch(Array.from({ length: 50 }, () => ({ type: 'a' })));
  const halts = listen(t, 'stele:halt');
  const progress = listen(t, 'stele:verify:progress');
  const done = listen(t, 'stele:verify:done');
  const own: number[] = [];
  const result = await ledger.verify({ onProgress: (p) => own.push(p.checked) });
  assert.equal(result.ok, true);
  assert.ok(progress.length >= 1);
  assert.deepEqual(progress.map((p) => p.checked), own, "the caller's onProgress still hears every range");
  assert.equal(progress.at(-1)?.checked, progress.at(-1)?.total);
  assert.deepEqual(done.map(({ ok, checked }) => ({ ok, checked })), [{ ok: true, checked: result.checked }]);
  const halt = await ledger.halt('drill');
  assert.deepEqual(halts, [{ path: ledger.path, reason: 'drill', sequence: halt.sequence }]);
});

test('with nobody subscribed, no message is built', (t) => {
  const name = 'stele:halt';
  assert.equal(hasDiagnosticSubscribers(name), false);
  let built = 0;
  publishDiagnostic(name, () => {
    built++;
    return { path: '/x', reason: 'r', sequence: 1 };
  });
  assert.equal(built, 0);
  const seen = listen(t, name);
  publishDiagnostic(name, () => {
    built++;
    return { path: '/x', reason: 'r', sequence: 1 };
  });
  assert.equal(built, 1);
  assert.equal(seen.length, 1);
});

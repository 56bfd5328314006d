/**
 * Standard disposal: `await using` closes a ledger when its block ends, however it ends;
 * `using` closes a subscription. Node 20 defines Symbol.asyncDispose and Symbol.dispose itself
 * (no polyfill): the spec checks that the symbols the ledger uses are those.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isLedgerError, Ledger, openLedger } from '../lib/index.ts';
import { tempLedgerPath } from './helpers/temp-ledger.ts';

test('the runtime provides the well-known symbols the ledger implements', () => {
  // Node 20 names them nodejs.*; the standard's own descriptions are Symbol.asyncDispose/dispose.
  assert.match(String(Symbol.asyncDispose.description), /^(nodejs|Symbol)\.asyncDispose$/);
  assert.match(String(Symbol.dispose.description), /^(nodejs|Symbol)\.dispose$/);
  assert.equal(typeof Ledger.prototype[Symbol.asyncDispose], 'function');
});

test('await using closes the ledger at the end of the block, and on a throw', async (t) => {
  const path = tempLedgerPath(t);
  let kept: Ledger | undefined;
  {
    await using ledger = await openLedger(path);
    kept = ledger;
    await ledger.append({ type: 'job_done' });
  }
  assert.equal(kept.health().writer, 'closed');
  await assert.rejects(kept.append({ type: 'late' }), (error) => isLedgerError(error, 'LEDGER_CLOSED'));

  await assert.rejects(
    (async () => {
      await using ledger = await openLedger(path);
      kept = ledger;
      throw new Error('boom');
    })(),
    { message: 'boom' },
  );
  assert.equal(kept.health().writer, 'closed');
  // The lock went with it: the file opens again, with what was committed.
  await using again = await openLedger(path);
  assert.equal(again.maxSequence(), 1);
});

test('using closes a subscription when its block ends; await using also waits for it to stop', async (t) => {
  await using ledger = await openLedger(tempLedgerPath(t));
  await ledger.append({ type: 'a' });
  let handled = 0;
  let outer;
  {
    using subscription = ledger.subscribe({}, () => {
      handled++;
    });
    outer = subscription;
  }
  assert.equal(outer.closed, true);
  await outer.done;
  {
    await using stream = ledger.subscribe({ from: 1 });
    outer = stream;
  }
  assert.equal(outer.closed, true);
  assert.ok(handled <= 1);
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LedgerError, type ExpectedVersion } from '../lib/index.ts';
import { createLedger } from './helpers/temp-ledger.ts';

function wrongVersion(expected: ExpectedVersion, actual: number | 'no_stream') {
  return (err: LedgerError) => {
    assert.equal(err.code, 'WRONG_EXPECTED_VERSION');
    assert.deepEqual(err.details, { streamId: 's', expected, actual });
    return true;
  };
}

describe('expected version', () => {
  test("'any' always succeeds", async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 'a', streamId: 's', expectedVersion: 'any' });
    await ledger.append({ type: 'a', streamId: 's', expectedVersion: 'any' });
    assert.equal(ledger.streamVersion('s'), 1);
  });

  test("'no_stream' succeeds on a new stream and fails once it exists", async (t) => {
    const ledger = await createLedger(t);
    assert.equal((await ledger.append({ type: 'a', streamId: 's', expectedVersion: 'no_stream' })).streamVersion, 0);
    await assert.rejects(ledger.append({ type: 'a', streamId: 's', expectedVersion: 'no_stream' }), wrongVersion('no_stream', 0));
  });

  test("'stream_exists' fails on a new stream and succeeds once it exists", async (t) => {
    const ledger = await createLedger(t);
    await assert.rejects(
      ledger.append({ type: 'a', streamId: 's', expectedVersion: 'stream_exists' }),
      wrongVersion('stream_exists', 'no_stream'),
    );
    await ledger.append({ type: 'a', streamId: 's' });
    assert.equal((await ledger.append({ type: 'a', streamId: 's', expectedVersion: 'stream_exists' })).streamVersion, 1);
  });

  test('a number must equal the version of the stream’s last event', async (t) => {
    const ledger = await createLedger(t);
    await assert.rejects(ledger.append({ type: 'a', streamId: 's', expectedVersion: 0 }), wrongVersion(0, 'no_stream'));
    await ledger.append({ type: 'a', streamId: 's' });
    await ledger.append({ type: 'a', streamId: 's', expectedVersion: 0 });
    await assert.rejects(ledger.append({ type: 'a', streamId: 's', expectedVersion: 0 }), wrongVersion(0, 1));
    await assert.rejects(ledger.append({ type: 'a', streamId: 's', expectedVersion: 5 }), wrongVersion(5, 1));
    assert.equal((await ledger.append({ type: 'a', streamId: 's', expectedVersion: 1 })).streamVersion, 2);
    assert.equal(ledger.maxSequence(), 3);
  });

  test('a batch checks its expected version before its first event and fails whole', async (t) => {
    const ledger = await createLedger(t);
    const batch = [{ type: 'a' }, { type: 'b' }];
    assert.equal((await ledger.appendBatch(batch, { streamId: 's', expectedVersion: 'no_stream' })).length, 2);
    await assert.rejects(ledger.appendBatch(batch, { streamId: 's', expectedVersion: 'no_stream' }), wrongVersion('no_stream', 1));
    await assert.rejects(ledger.appendBatch(batch, { streamId: 's', expectedVersion: 0 }), wrongVersion(0, 1));
    await ledger.appendBatch(batch, { streamId: 's', expectedVersion: 1 });
    await ledger.appendBatch(batch, { streamId: 's', expectedVersion: 'stream_exists' });
    await ledger.appendBatch(batch, { streamId: 's', expectedVersion: 'any' });
    await assert.rejects(
      ledger.appendBatch(batch, { streamId: 'fresh', expectedVersion: 'stream_exists' }),
      (err: LedgerError) => err.code === 'WRONG_EXPECTED_VERSION' && err.details.actual === 'no_stream',
    );
    assert.equal(ledger.streamVersion('s'), 7);
    assert.equal(ledger.streamVersion('fresh'), undefined);
    assert.equal(ledger.maxSequence(), 8);
  });

  test('per-event expected versions inside a batch see the batch’s own earlier events', async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch([
      { type: 'a', streamId: 's', expectedVersion: 'no_stream' },
      { type: 'b', streamId: 's', expectedVersion: 0 },
      { type: 'c', streamId: 's', expectedVersion: 1 },
    ]);
    await assert.rejects(
      ledger.appendBatch([
        { type: 'd', streamId: 's', expectedVersion: 2 },
        { type: 'e', streamId: 's', expectedVersion: 2 },
      ]),
      wrongVersion(2, 3),
    );
    assert.equal(ledger.streamVersion('s'), 2);
  });

  test('an invalid expected version is INVALID_EVENT naming the field', async (t) => {
    const ledger = await createLedger(t);
    for (const expectedVersion of [-1, 1.5, Number.NaN, 'latest', null]) {
      await assert.rejects(
        ledger.append({ type: 'a', streamId: 's', expectedVersion: expectedVersion as never }),
        (err: LedgerError) => err.code === 'INVALID_EVENT' && err.details.field === 'expectedVersion',
      );
    }
    assert.equal(ledger.maxSequence(), 0);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateAgentKeyPair, openLedger, openReplica, verifyLedgerFile, verifyReplicaFile, witnessClearHalt, type LedgerError } from '../lib/index.ts';
import { chainOf, createLedger, tempLedgerPath } from './helpers/temp-ledger.ts';

function invalid(field: string, extra: Record<string, unknown> = {}) {
  return (err: LedgerError) => {
    assert.equal(err.code, 'INVALID_EVENT');
    assert.equal(err.details.field, field);
    for (const [key, value] of Object.entries(extra)) assert.equal(err.details[key], value);
    return true;
  };
}

describe('bad input fails that request only', () => {
  test('EVENT_TOO_LARGE reports size and limit; the next valid append works', async (t) => {
    const ledger = await createLedger(t, { maxEventBytes: 2048 });
    await assert.rejects(ledger.append({ type: 'big', payload: 'é'.repeat(2000) }), (err: LedgerError) => {
      assert.equal(err.code, 'EVENT_TOO_LARGE');
      assert.equal(err.details.limit, 2048);
      assert.ok((err.details.size as number) > 4000, 'size counts UTF-8 bytes');
      return true;
    });
    assert.equal((await ledger.append({ type: 'small', payload: 'ok' })).sequence, 1);
  });

  test('an array whose length runs far past its elements is EVENT_TOO_LARGE at once, not walked', async (t) => {
    const ledger = await createLedger(t);
    // Two elements, length 2^32 - 1: walking it index by index would block the caller for minutes.
    const sparse = Object.assign([1, 2], { length: 2 ** 32 - 1 });
    const started = performance.now();
    await assert.rejects(ledger.append({ type: 'sparse', metadata: { tags: sparse } }), (err: LedgerError) => {
      assert.equal(err.code, 'EVENT_TOO_LARGE');
      assert.equal(err.details.field, 'metadata');
      assert.equal(err.details.path, 'metadata.tags');
      assert.equal(err.details.size, 2 * (2 ** 32 - 1) + 1);
      assert.equal(err.details.limit, 1024 * 1024);
      return true;
    });
    await assert.rejects(ledger.appendBatch([{ type: 'ok' }, { type: 'sparse', payload: sparse }]), (err: LedgerError) => {
      assert.equal(err.code, 'EVENT_TOO_LARGE');
      assert.equal(err.details.index, 1);
      return true;
    });
    // A typed array is judged by its length too, before superjson converts it element by element.
    await assert.rejects(ledger.append({ type: 'bytes', payload: { image: new Uint8Array(50_000_000) } }), (err: LedgerError) => {
      assert.equal(err.code, 'EVENT_TOO_LARGE');
      assert.equal(err.details.path, 'payload.image');
      assert.equal(err.details.size, 100_000_001);
      return true;
    });
    assert.ok(performance.now() - started < 5_000, 'refused without walking 2^32 indexes');
    assert.equal((await ledger.append({ type: 'small', payload: [1, 2] })).sequence, 1);
  });

  test('a batch with a hole is INVALID_EVENT at the hole; a batch past 100,000 events is a RangeError at once', async (t) => {
    const ledger = await createLedger(t);
    const holey: Array<{ type: string }> = [{ type: 'a' }, { type: 'b' }];
    holey[3] = { type: 'd' };
    await assert.rejects(ledger.appendBatch(holey), (err: LedgerError) => {
      assert.equal(err.code, 'INVALID_EVENT');
      assert.equal(err.details.index, 2);
      assert.equal(err.details.field, 'input');
      return true;
    });
    const started = performance.now();
    for (const length of [100_001, 2 ** 32 - 1]) {
      await assert.rejects(ledger.appendBatch(Object.assign([{ type: 'a' }], { length })), (err: unknown) => {
        assert.ok(err instanceof RangeError, String(err));
        assert.match(err.message, new RegExp(`at most 100000 events .*got ${length}`));
        return true;
      });
    }
    assert.ok(performance.now() - started < 5_000, 'refused from the length alone');
    assert.equal(ledger.maxSequence(), 0);
    assert.equal((await ledger.append({ type: 'small', payload: [1, 2] })).sequence, 1);
  });

  test('payloads that cannot be serialised are INVALID_EVENT with the path', async (t) => {
    const ledger = await createLedger(t);
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    await assert.rejects(ledger.append({ type: 'f', payload: { handler: () => 1 } }), invalid('payload', { path: 'payload.handler' }));
    await assert.rejects(ledger.append({ type: 's', payload: [1, Symbol('x')] }), invalid('payload', { path: 'payload[1]' }));
    await assert.rejects(ledger.append({ type: 'c', payload: cycle }), invalid('payload', { path: 'payload.self' }));
    await assert.rejects(ledger.append({ type: 'm', metadata: new Map([['k', () => 0]]) }), invalid('metadata'));
    // superjson would store a DataView as {}: refused, not emptied.
    await assert.rejects(ledger.append({ type: 'd', payload: { view: new DataView(new ArrayBuffer(8)) } }), invalid('payload', { path: 'payload.view' }));
    let deep: unknown = 'bottom';
    for (let i = 0; i < 1000; i++) deep = [deep];
    await assert.rejects(ledger.append({ type: 'deep', payload: deep }), invalid('payload'));
    // Shared references that are not cycles are fine.
    const shared = { n: 1 };
    const ok = await ledger.append({ type: 'shared', payload: { a: shared, b: shared } });
    assert.deepEqual(ledger.get(ok.sequence)!.payload, { a: { n: 1 }, b: { n: 1 } });
    assert.equal(ledger.maxSequence(), 1);
  });

  test('malformed fields are INVALID_EVENT naming the field', async (t) => {
    const ledger = await createLedger(t);
    await assert.rejects(ledger.append(null as never), invalid('input'));
    await assert.rejects(ledger.append({} as never), invalid('type'));
    await assert.rejects(ledger.append({ type: '' }), invalid('type'));
    await assert.rejects(ledger.append({ type: 'x'.repeat(300) }), invalid('type'));
    await assert.rejects(ledger.append({ type: 'a\uD800b' }), invalid('type'));
    await assert.rejects(ledger.append({ type: 't', streamId: 42 as never }), invalid('streamId'));
    await assert.rejects(ledger.append({ type: 't', streamId: '$system' }), invalid('streamId'));
    await assert.rejects(ledger.append({ type: 't', eventId: '' }), invalid('eventId'));
    await assert.rejects(ledger.append({ type: 't', localTimestamp: new Date(Number.NaN) }), invalid('localTimestamp'));
    await assert.rejects(ledger.append({ type: 't', localTimestamp: 12 as never }), invalid('localTimestamp'));
    await assert.rejects(ledger.appendBatch([{ type: 'ok' }, { type: '' }]), invalid('type', { index: 1 }));
    assert.equal(ledger.maxSequence(), 0);
    assert.equal((await ledger.append({ type: 'valid' })).sequence, 1);
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('misused arguments throw TypeError or RangeError naming the fix', async (t) => {
    const ledger = await createLedger(t);
    assert.throws(() => ledger.get(Number.NaN), RangeError);
    assert.throws(() => ledger.get(0), RangeError);
    assert.throws(() => ledger.get('1' as never), TypeError);
    assert.throws(() => ledger.readAll({ limit: -1 }), RangeError);
    assert.throws(() => ledger.readAll({ from: 1.5 }), RangeError);
    assert.throws(() => ledger.readStream(7 as never), TypeError);
    await assert.rejects(ledger.appendBatch('nope' as never), TypeError);
    // A lone surrogate would be stored as U+FFFD in agent_keys, which then no longer matches the chain.
    await assert.rejects(ledger.registerAgentKey('YG\udc00', generateAgentKeyPair().publicKey), { name: 'RangeError', message: 'agentId contains a lone UTF-16 surrogate' });
    assert.equal(ledger.maxSequence(), 0);
  });

  test('read and verify arguments of the wrong shape are TypeErrors naming the argument, never a raw property read', async (t) => {
    const ledger = await createLedger(t, { durability: 'normal' });
    await ledger.append({ type: 't', streamId: 's' });
    const type = (message: string) => ({ name: 'TypeError', message });
    for (const bad of [null, 'x', 5, []]) {
      const got = bad === null ? 'null' : Array.isArray(bad) ? 'an array' : typeof bad === 'string' ? "'x'" : '5';
      assert.throws(() => ledger.readAll(bad as never), type(`readAll(options) must be an object, got ${got}`));
      assert.throws(() => ledger.readStream('s', bad as never), type(`readStream(options) must be an object, got ${got}`));
      assert.throws(() => ledger.proofBundle(1, bad as never), type(`proofBundle(options) must be an object, got ${got}`));
      await assert.rejects(ledger.verify(bad as never), type(`verify(options) must be an object, got ${got}`));
      await assert.rejects(verifyLedgerFile(ledger.path, bad as never), type(`verifyLedgerFile(options) must be an object, got ${got}`));
    }
    // A misspelled option would silently read or verify everything.
    assert.throws(() => ledger.readAll({ form: 2 } as never), type('Misspelled option "form" should be "from"'));
    assert.throws(() => ledger.readStream('s', { fromversion: 1 } as never), type('Misspelled option "fromversion" should be "fromVersion"'));
    await assert.rejects(ledger.verify({ rangesize: 10 } as never), type('Misspelled option "rangesize" should be "rangeSize"'));
    await assert.rejects(verifyLedgerFile(ledger.path, { sidecar: false } as never), /Unknown verify option "sidecar"; known options: from, to, signal/);
    assert.throws(() => ledger.proofBundle(1, { checkpoints: 'x' } as never), type('Misspelled option "checkpoints" should be "checkpoint"'));
    for (const signal of ['x', {}, null, 1]) {
      const got = signal === null ? 'null' : typeof signal === 'string' ? "'x'" : signal === 1 ? '1' : 'an object';
      await assert.rejects(ledger.verify({ signal: signal as never }), type(`signal must be an AbortSignal, got ${got}`));
      await assert.rejects(verifyLedgerFile(ledger.path, { signal: signal as never }), type(`signal must be an AbortSignal, got ${got}`));
    }
    await assert.rejects(ledger.verify({ headSidecar: 'no' as never }), type("headSidecar must be a boolean, got 'no'"));
    await assert.rejects(openReplica(ledger.path, null as never), type('openReplica(options) must be an object, got null'));
    await assert.rejects(openReplica(ledger.path, { durability: 'normal' } as never), /Unknown openReplica option "durability"; known options: logger/);
    await assert.rejects(verifyReplicaFile(ledger.path, ledger.path, 7 as never), type('verifyReplicaFile: replicaId must be a string, got 7'));
    // The right shapes still work, an aborted signal included.
    assert.equal(ledger.readAll({ from: 1, limit: 1 }).length, 1);
    assert.equal(ledger.readStream('s', { fromVersion: 0 }).length, 1);
    assert.deepEqual(await ledger.verify({ signal: new AbortController().signal, headSidecar: false }), { ok: true, checked: 1 });
    await assert.rejects(ledger.verify({ signal: AbortSignal.abort(new Error('stop')) }), { message: 'stop' });
  });

  test('a bad value is described in the error, never stringified: an array of length 2^32 - 1 costs nothing', async (t) => {
    const ledger = await createLedger(t, { durability: 'normal' });
    const huge = () => Object.assign([1], { length: 2 ** 32 - 1 });
    const started = performance.now();
    await assert.rejects(ledger.verify({ rangeSize: huge() as never }), { name: 'TypeError', message: 'rangeSize must be a positive integer, got an array' });
    await assert.rejects(ledger.verify({ from: huge() as never }), { name: 'TypeError', message: 'from must be a positive integer, got an array' });
    await assert.rejects(ledger.close({ timeoutMs: huge() as never }), { name: 'TypeError', message: 'timeoutMs must be a number >= 0, got an array' });
    await assert.rejects(ledger.append({ type: 't', expectedVersion: huge() as never }), invalid('expectedVersion', { value: 'an array' }));
    await assert.rejects(ledger.registerAgentKey('bot', 'key', { role: huge() as never }), { name: 'TypeError', message: "role must be one of 'agent', 'witness', got an array" });
    await assert.rejects(ledger.append({ type: 'm', payload: new Map([[{ id: 7 }, () => 1]]) }), invalid('payload', { path: 'payload.get(an object)' }));
    await assert.rejects(ledger.append({ type: 'm', payload: new Map([[huge(), 1]]) }), (err: LedgerError) => err.code === 'EVENT_TOO_LARGE');
    // Ceremony witness lists: checked for shape (at most 64 entries of two strings) before use.
    const keys = { alice: generateAgentKeyPair(), bob: generateAgentKeyPair() };
    for (const [name, pair] of Object.entries(keys)) await ledger.registerAgentKey(name, pair.publicKey, { role: 'witness' });
    await ledger.halt('maintenance');
    await assert.rejects(ledger.clearHalt({ reason: 'ok', witnesses: huge() as never }), { name: 'RangeError', message: `clearHalt: at most 64 witnesses, got ${2 ** 32 - 1}` });
    await assert.rejects(ledger.clearHalt({ reason: 'ok', witnesses: [{ witnessId: huge(), signature: 'x' }] as never }), {
      name: 'TypeError',
      message: 'clearHalt: witnesses[0] must be { witnessId: string, signature: string }',
    });
    assert.ok(performance.now() - started < 10_000, 'every refusal came at once');
    // The ledger is intact and the ceremony still works.
    const { halt } = ledger.haltState();
    await ledger.clearHalt({ reason: 'ok', witnesses: Object.entries(keys).map(([name, pair]) => witnessClearHalt(halt!, 'ok', name, pair.secretKey)) });
    assert.equal((await ledger.append({ type: 'after' })).sequence, ledger.maxSequence());
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('bad options throw before anything is opened', async (t) => {
    const path = tempLedgerPath(t);
    await assert.rejects(openLedger(path, { durability: 'sometimes' as never }), {
      name: 'RangeError',
      message: "durability must be one of 'full', 'normal', got 'sometimes'",
    });
    await assert.rejects(openLedger(path, { maxPendingAppends: -1 }), {
      name: 'RangeError',
      message: 'maxPendingAppends must be a positive integer, got -1',
    });
    await assert.rejects(openLedger(path, { maxEventBytes: '1mb' as never }), TypeError);
    await assert.rejects(openLedger(path, { onfull: 'reject' } as never), {
      name: 'TypeError',
      message: 'Misspelled option "onfull" should be "onFull"',
    });
    await assert.rejects(openLedger(path, { flavour: 1 } as never), /Unknown option "flavour"/);
    await assert.rejects(openLedger(''), TypeError);
  });
});

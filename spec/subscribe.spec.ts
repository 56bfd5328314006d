/**
 * Live subscriptions (`ledger.subscribe`):
 *   - catch-up from `from` (default 1), the caught-up marker, then live events, exactly once;
 *   - filters by stream and type, with the position moving on across filtered events;
 *   - the async-iterator form, paging, backpressure from a slow handler;
 *   - a handler or onCaughtUp that throws stops the subscription and rejects `done`;
 *   - close(), close() inside the handler, asyncDispose, and the ledger's close();
 *   - a read-only ledger following a writer in another process, woken by file notifications.
 * Nothing here waits for time to pass: every wait is for an expected delivery.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openLedger, type LedgerError, type LedgerEvent, type SubscriptionItem } from '../lib/index.ts';
import { collectingLogger } from './helpers/collecting-logger.ts';
import { runChild } from './helpers/run-child.ts';
import { createLedger, reopen, tempDir } from './helpers/temp-ledger.ts';

const SUBSCRIBE_CHILD = new URL('./fixtures/processes/subscriber.ts', import.meta.url);

/** Records what a subscription delivers; `until(n)` resolves once n entries are recorded. */
function recorder() {
  const log: string[] = [];
  const events: LedgerEvent[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const record = (entry: string) => {
    log.push(entry);
    for (const waiter of waiters.filter((w) => log.length >= w.count)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  };
  return {
    log,
    events,
    handler: (event: LedgerEvent) => {
      events.push(event);
      record(`${event.sequence} ${event.eventId}`);
    },
    onCaughtUp: (sequence: number) => record(`caught_up ${sequence}`),
    until: (count: number) =>
      log.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
  };
}

const describeItem = (item: SubscriptionItem) =>
  item.kind === 'event' ? `${item.event.sequence} ${item.event.eventId}` : `caught_up ${item.sequence}`;

/** A missed delivery would wait forever; the limit fails the test instead, and closes its ledgers. */
const LIMIT = { timeout: 60_000 };

const closedError = (err: LedgerError) => {
  assert.equal(err.code, 'LEDGER_CLOSED');
  return true;
};

describe('catch-up, then live', () => {
  test('from defaults to 1: stored events, the caught-up marker, then each new commit once', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch([
      { type: 'a', eventId: 'e1' },
      { type: 'b', eventId: 'e2', payload: { n: 2n, at: new Date(0) } },
      { type: 'a', eventId: 'e3' },
    ]);
    const r = recorder();
    const subscription = ledger.subscribe({ onCaughtUp: r.onCaughtUp }, r.handler);
    await r.until(4);
    assert.deepEqual(r.log, ['1 e1', '2 e2', '3 e3', 'caught_up 3']);
    await ledger.append({ type: 'c', eventId: 'e4' });
    await ledger.appendBatch([{ type: 'c', eventId: 'e5' }, { type: 'd', eventId: 'e6' }], { streamId: 's' });
    await r.until(7);
    assert.deepEqual(r.log, ['1 e1', '2 e2', '3 e3', 'caught_up 3', '4 e4', '5 e5', '6 e6']);
    // Delivered events are the stored events, decoded like every read.
    assert.deepEqual(r.events, ledger.readAll());
    assert.deepEqual(r.events[1]!.payload, { n: 2n, at: new Date(0) });
    assert.equal(subscription.closed, false);
    subscription.close();
    await subscription.done;
    assert.equal(subscription.closed, true);
  });

  test('from in the middle, from just past the head, from beyond the head, on an empty ledger', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    const empty = recorder();
    ledger.subscribe({ onCaughtUp: empty.onCaughtUp }, empty.handler);
    await empty.until(1);
    assert.deepEqual(empty.log, ['caught_up 0']);

    await ledger.appendBatch(Array.from({ length: 5 }, (_, i) => ({ type: 't', eventId: `e${i + 1}` })));
    const middle = recorder();
    ledger.subscribe({ from: 3, onCaughtUp: middle.onCaughtUp }, middle.handler);
    const live = recorder();
    ledger.subscribe({ from: ledger.maxSequence() + 1, onCaughtUp: live.onCaughtUp }, live.handler);
    const beyond = recorder();
    ledger.subscribe({ from: 9, onCaughtUp: beyond.onCaughtUp }, beyond.handler);
    await Promise.all([middle.until(4), live.until(1), beyond.until(1)]);
    assert.deepEqual(middle.log, ['3 e3', '4 e4', '5 e5', 'caught_up 5']);
    assert.deepEqual(live.log, ['caught_up 5']);
    assert.deepEqual(beyond.log, ['caught_up 5']);

    await ledger.appendBatch(Array.from({ length: 4 }, (_, i) => ({ type: 't', eventId: `e${i + 6}` })));
    await Promise.all([middle.until(8), live.until(5), beyond.until(2), empty.until(10)]);
    assert.deepEqual(middle.log.slice(4), ['6 e6', '7 e7', '8 e8', '9 e9']);
    assert.deepEqual(live.log, ['caught_up 5', '6 e6', '7 e7', '8 e8', '9 e9']);
    assert.deepEqual(beyond.log, ['caught_up 5', '9 e9']);
    assert.deepEqual(empty.log, ['caught_up 0', ...Array.from({ length: 9 }, (_, i) => `${i + 1} e${i + 1}`)]);
  });

  test('pages of batchSize rows deliver everything in order, filtered or not', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch(
      Array.from({ length: 7 }, (_, i) => ({ type: i % 3 === 0 ? 'x' : 'y', eventId: `e${i + 1}` })),
    );
    const all = recorder();
    ledger.subscribe({ batchSize: 2, onCaughtUp: all.onCaughtUp }, all.handler);
    const xs = recorder();
    ledger.subscribe({ batchSize: 1, types: ['x'], onCaughtUp: xs.onCaughtUp }, xs.handler);
    await Promise.all([all.until(8), xs.until(4)]);
    assert.deepEqual(all.log, ['1 e1', '2 e2', '3 e3', '4 e4', '5 e5', '6 e6', '7 e7', 'caught_up 7']);
    assert.deepEqual(xs.log, ['1 e1', '4 e4', '7 e7', 'caught_up 7']);
  });
});

describe('filters', () => {
  test('streamId, types and both apply to delivery; the position moves on across filtered events', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch([{ type: 'x', eventId: 'a1' }, { type: 'y', eventId: 'a2' }], { streamId: 'a' });
    await ledger.appendBatch([{ type: 'x', eventId: 'b1' }, { type: 'y', eventId: 'b2' }], { streamId: 'b' });
    await ledger.append({ type: 'z', eventId: 'd1' });
    const byStream = recorder();
    ledger.subscribe({ streamId: 'a', onCaughtUp: byStream.onCaughtUp }, byStream.handler);
    const byType = recorder();
    ledger.subscribe({ types: ['y', 'z'], onCaughtUp: byType.onCaughtUp }, byType.handler);
    const both = recorder();
    ledger.subscribe({ streamId: 'b', types: ['y'], onCaughtUp: both.onCaughtUp }, both.handler);
    const none = recorder();
    ledger.subscribe({ streamId: 'nowhere', onCaughtUp: none.onCaughtUp }, none.handler);
    await Promise.all([byStream.until(3), byType.until(4), both.until(2), none.until(1)]);
    // The marker carries the head even when the newest events were filtered out.
    assert.deepEqual(byStream.log, ['1 a1', '2 a2', 'caught_up 5']);
    assert.deepEqual(byType.log, ['2 a2', '4 b2', '5 d1', 'caught_up 5']);
    assert.deepEqual(both.log, ['4 b2', 'caught_up 5']);
    assert.deepEqual(none.log, ['caught_up 5']);

    // Live: filtered-out commits first, then one that every filter above (but `none`) accepts.
    await ledger.appendBatch([{ type: 'x', eventId: 'b3' }, { type: 'x', eventId: 'b4' }], { streamId: 'b' });
    await ledger.append({ type: 'x', eventId: 'a3', streamId: 'a' });
    await ledger.append({ type: 'y', eventId: 'b5', streamId: 'b' });
    await ledger.append({ type: 'y', eventId: 'a4', streamId: 'a' });
    await Promise.all([byStream.until(5), byType.until(6), both.until(3)]);
    assert.deepEqual(byStream.log.slice(3), ['8 a3', '10 a4']);
    assert.deepEqual(byType.log.slice(4), ['9 b5', '10 a4']);
    assert.deepEqual(both.log.slice(2), ['9 b5']);
    // Appending into `nowhere` proves it missed nothing and delivered nothing else.
    await ledger.append({ type: 'q', eventId: 'n1', streamId: 'nowhere' });
    await none.until(2);
    assert.deepEqual(none.log, ['caught_up 5', '11 n1']);
  });
});

describe('the async-iterator form', () => {
  test('yields events, the marker once, then live events; leaving the loop closes it', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch([{ type: 'a', eventId: 'e1' }, { type: 'a', eventId: 'e2' }]);
    const stream = ledger.subscribe({ from: 1, batchSize: 1 });
    const seen: string[] = [];
    for await (const item of stream) {
      seen.push(describeItem(item));
      if (item.kind === 'caught_up') await ledger.appendBatch([{ type: 'b', eventId: 'e3' }, { type: 'b', eventId: 'e4' }]);
      if (seen.length === 5) break;
    }
    assert.deepEqual(seen, ['1 e1', '2 e2', 'caught_up 2', '3 e3', '4 e4']);
    assert.equal(stream.closed, true);
    assert.throws(() => stream[Symbol.asyncIterator](), {
      name: 'TypeError',
      message: 'a subscription can be iterated only once',
    });
  });

  test('a pending next() waits for the next commit; close() ends it with done: true', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    const stream = ledger.subscribe({ types: ['wanted'] });
    const iterator = stream[Symbol.asyncIterator]();
    assert.deepEqual(await iterator.next(), { done: false, value: { kind: 'caught_up', sequence: 0 } });
    const pending = iterator.next();
    await ledger.append({ type: 'unwanted', eventId: 'u1' });
    await ledger.append({ type: 'wanted', eventId: 'w1' });
    const next = await pending;
    assert.equal(next.done, false);
    assert.equal(describeItem(next.value as SubscriptionItem), '2 w1');
    const waiting = iterator.next();
    stream.close();
    assert.deepEqual(await waiting, { done: true, value: undefined });
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
  });

  test('onCaughtUp is called in the iterator form too, before the marker is yielded', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 'a', eventId: 'e1' });
    const order: string[] = [];
    for await (const item of ledger.subscribe({ onCaughtUp: (sequence) => void order.push(`callback ${sequence}`) })) {
      order.push(describeItem(item));
      if (item.kind === 'caught_up') break;
    }
    assert.deepEqual(order, ['1 e1', 'callback 1', 'caught_up 1']);
  });
});

describe('backpressure', () => {
  test('a slow async handler is awaited: calls never overlap and arrive in order', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    let active = 0;
    let maxActive = 0;
    const sequences: number[] = [];
    let reached: (() => void) | undefined;
    const all = new Promise<void>((resolve) => (reached = resolve));
    const subscription = ledger.subscribe({ batchSize: 3 }, async (event) => {
      active++;
      maxActive = Math.max(maxActive, active);
      for (let i = 0; i < event.sequence % 4; i++) await new Promise((resolve) => setImmediate(resolve));
      sequences.push(event.sequence);
      active--;
      if (event.sequence === 40) reached!();
    });
    const appends = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0 ? ledger.append({ type: 'one' }) : ledger.appendBatch([{ type: 'pair' }, { type: 'pair' }]),
    );
    await Promise.all(appends);
    await ledger.appendBatch(Array.from({ length: 10 }, () => ({ type: 'tail' })));
    await all;
    assert.equal(maxActive, 1);
    assert.deepEqual(sequences, Array.from({ length: 40 }, (_, i) => i + 1));
    await subscription[Symbol.asyncDispose]();
    assert.equal(subscription.closed, true);
  });
});

describe('failures', () => {
  test('a handler that throws stops the subscription; done rejects with its error, which is logged', LIMIT, async (t) => {
    const logger = collectingLogger();
    const ledger = await createLedger(t, { logger });
    await ledger.appendBatch(Array.from({ length: 4 }, (_, i) => ({ type: 't', eventId: `e${i + 1}` })));
    const boom = new Error('projection failed');
    const calls: number[] = [];
    const subscription = ledger.subscribe({}, (event) => {
      calls.push(event.sequence);
      if (event.sequence === 2) throw boom;
    });
    await assert.rejects(subscription.done, (err) => err === boom);
    assert.deepEqual(calls, [1, 2]);
    assert.equal(subscription.closed, true);
    const logged = logger.find('error', { sequence: 2 });
    assert.equal(logged.length, 1);
    assert.deepEqual(logged[0], ['error', { sequence: 2, error: 'Error: projection failed' }, 'subscription stopped: its handler or a read failed']);
    await assert.rejects(subscription[Symbol.asyncDispose](), (err) => err === boom);
  });

  test('a handler whose promise rejects, and an onCaughtUp that throws, stop it the same way', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 't' });
    const rejected = new Error('async failure');
    const asyncFailing = ledger.subscribe({}, async () => {
      await Promise.resolve();
      throw rejected;
    });
    await assert.rejects(asyncFailing.done, (err) => err === rejected);
    const thrown = new RangeError('not ready');
    const calls: number[] = [];
    const caughtUpFailing = ledger.subscribe(
      {
        onCaughtUp: () => {
          throw thrown;
        },
      },
      (event) => void calls.push(event.sequence),
    );
    await assert.rejects(caughtUpFailing.done, (err) => err === thrown);
    assert.deepEqual(calls, [1]);
    assert.equal(caughtUpFailing.closed, true);
  });

  test('misuse throws TypeError or RangeError naming the option and the fix', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    const cases: [unknown, unknown, string, string][] = [
      [{ from: 0 }, undefined, 'RangeError', 'from must be a positive integer, got 0'],
      [{ from: '1' }, undefined, 'TypeError', "from must be a positive integer, got '1'"],
      [{ colour: 'a' }, undefined, 'TypeError', 'Unknown subscribe option "colour"; known options: from, streamId, types, onCaughtUp, batchSize, pollIntervalMs'],
      [{ stream: 'a' }, undefined, 'TypeError', 'Misspelled option "stream" should be "streamId"'],
      [{ streamid: 'a' }, undefined, 'TypeError', 'Misspelled option "streamid" should be "streamId"'],
      [{ streamId: '' }, undefined, 'TypeError', "streamId must be a non-empty string, got ''"],
      [{ types: [] }, undefined, 'RangeError', 'types must list at least one type; omit it to receive every type'],
      [{ types: 'x' }, undefined, 'TypeError', "types must be an array of non-empty strings, got 'x'"],
      [{ types: ['x', 3] }, undefined, 'TypeError', 'types[1] must be a non-empty string, got 3'],
      [{ types: Object.assign(['x'], { length: 2 ** 32 - 1 }) }, undefined, 'TypeError', 'types[1] must be a non-empty string, got undefined'],
      [{ batchSize: 10_001 }, undefined, 'RangeError', 'batchSize must be an integer from 1 to 10000, got 10001'],
      [{ pollIntervalMs: 1 }, undefined, 'RangeError', 'pollIntervalMs must be an integer from 10 to 2147483647, got 1'],
      [{ onCaughtUp: 'yes' }, undefined, 'TypeError', "onCaughtUp must be a function, got 'yes'"],
      [null, undefined, 'TypeError', 'subscribe options must be an object, got null'],
      [{}, 'handler', 'TypeError', "subscribe's handler must be a function, got 'handler'; omit it to iterate instead"],
    ];
    for (const [options, handler, name, message] of cases) {
      assert.throws(() => ledger.subscribe(options as never, handler as never), { name, message }, message);
    }
    const withHandler = ledger.subscribe({}, () => {});
    assert.throws(() => (withHandler as unknown as AsyncIterable<unknown>)[Symbol.asyncIterator](), {
      name: 'TypeError',
      message: 'a subscription with a handler cannot also be iterated',
    });
  });
});

describe('closing', () => {
  test('close() inside the handler: no further call; done resolves', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.appendBatch(Array.from({ length: 3 }, () => ({ type: 't' })));
    const calls: number[] = [];
    const subscription = ledger.subscribe({}, (event) => {
      calls.push(event.sequence);
      subscription.close();
    });
    await subscription.done;
    assert.deepEqual(calls, [1]);
    assert.equal(subscription.closed, true);
  });

  test("the ledger's close() closes every subscription: done resolves, a pending next() ends", LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 't', eventId: 'e1' });
    const r = recorder();
    const subscription = ledger.subscribe({ onCaughtUp: r.onCaughtUp }, r.handler);
    const stream = ledger.subscribe();
    const iterator = stream[Symbol.asyncIterator]();
    assert.equal(describeItem((await iterator.next()).value as SubscriptionItem), '1 e1');
    assert.equal(describeItem((await iterator.next()).value as SubscriptionItem), 'caught_up 1');
    const pending = iterator.next();
    await r.until(2);
    const neverIterated = ledger.subscribe({ from: 1 });
    await ledger.close();
    await subscription.done;
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.deepEqual([subscription.closed, stream.closed, neverIterated.closed], [true, true, true]);
    assert.deepEqual(r.log, ['1 e1', 'caught_up 1']);
    assert.throws(() => ledger.subscribe({}), closedError);
    assert.throws(() => ledger.subscribe({}, () => {}), closedError);
  });

  test('subscriptions come and go: closing the last one and subscribing again still sees everything', LIMIT, async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 't', eventId: 'e1' });
    const first = recorder();
    const one = ledger.subscribe({ onCaughtUp: first.onCaughtUp }, first.handler);
    await first.until(2);
    one.close();
    await one.done;
    await ledger.append({ type: 't', eventId: 'e2' });
    const second = recorder();
    ledger.subscribe({ onCaughtUp: second.onCaughtUp }, second.handler);
    await second.until(3);
    await ledger.append({ type: 't', eventId: 'e3' });
    await second.until(4);
    assert.deepEqual(first.log, ['1 e1', 'caught_up 1']);
    assert.deepEqual(second.log, ['1 e1', '2 e2', 'caught_up 2', '3 e3']);
  });
});

describe('another process', () => {
  test('a readonly ledger follows a writer in another process, woken by file notifications', { timeout: 120_000 }, async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'ledger.db');
    const setup = await openLedger(path);
    await setup.appendBatch([{ type: 'before', eventId: 'p1' }, { type: 'before', eventId: 'p2' }]);
    await setup.close();

    const reader = await reopen(t, path, { readonly: true });
    const all = recorder();
    // The safety timer is an hour: only file notifications wake these subscriptions. The child
    // keeps committing heartbeats until told to stop, so every commit is followed by a notification.
    const slow = { pollIntervalMs: 3_600_000 };
    const subscription = reader.subscribe({ ...slow, onCaughtUp: all.onCaughtUp }, all.handler);
    const odd = reader.subscribe({ ...slow, streamId: 'odd', batchSize: 2 });
    const oddItems: string[] = [];
    const oddDone = (async () => {
      for await (const item of odd) {
        oddItems.push(describeItem(item));
        if (item.kind === 'event' && item.event.eventId === 'child-5-2') break;
      }
    })();
    await all.until(3);
    assert.deepEqual(all.log, ['1 p1', '2 p2', 'caught_up 2']);

    const sizes = [1, 3, 1, 5, 2, 3];
    const child = runChild(t, SUBSCRIBE_CHILD, [path, sizes.join(',')], { stdin: true });
    const acked: string[] = [];
    for (;;) {
      const message = (await child.next()) as { kind: string; events?: { sequence: number; eventId: string }[] };
      if (message.kind === 'ack') for (const e of message.events!) acked.push(`${e.sequence} ${e.eventId}`);
      if (message.kind === 'acked_all') break;
    }
    assert.equal(acked.length, sizes.reduce((sum, size) => sum + size, 0));
    await all.until(3 + acked.length);
    await oddDone;
    child.end('stop');
    assert.deepEqual(await child.exited, { code: 0, signal: null });

    // Everything the child acknowledged, in order; after it only heartbeats, gap-free.
    const lastAcked = 2 + acked.length;
    assert.deepEqual(all.log.slice(0, 3 + acked.length), ['1 p1', '2 p2', 'caught_up 2', ...acked]);
    const after = all.events.filter((e) => e.sequence > lastAcked);
    assert.deepEqual(after.map((e) => [e.sequence, e.type]), after.map((_, i) => [lastAcked + 1 + i, 'heartbeat']));
    assert.deepEqual(all.events, reader.readAll({ limit: all.events.length }));
    assert.deepEqual(oddItems, ['caught_up 2', ...acked.filter((entry) => / child-[135]-/.test(entry))]);
    assert.equal(odd.closed, true);
    subscription.close();
    await subscription.done;
  });
});

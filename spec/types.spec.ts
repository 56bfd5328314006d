/**
 * Typed events: `eventTypes` schemas (or a hand-written type map) flow into the types of
 * `append`, `appendBatch` and every read. The type-level half of this spec is compiled by
 * `npm test`'s typecheck: each `@ts-expect-error` fails the typecheck if the line it marks
 * compiles. The run-time half checks that what the types promise is what the ledger does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import {
  openLedger,
  isLedgerError,
  type AppendInput,
  type EventOf,
  type EventsOf,
  type InputOf,
  type Ledger,
  type LedgerEvent,
} from '../lib/index.ts';
import { tempLedgerPath } from './helpers/temp-ledger.ts';

const eventTypes = {
  order_placed: z.object({ orderId: z.string(), total: z.number().positive() }),
  order_cancelled: z.object({ orderId: z.string(), reason: z.string().optional() }),
  heartbeat: true,
} as const;

type Shop = EventsOf<typeof eventTypes>;

/** A hand-written map, for `openLedger<Manual>(path)`. */
type Manual = {
  deposited: { cents: bigint };
  note: string | undefined;
};

/** Exact type equality, for the assertions below. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_: T): void {}

// Never called: it only has to compile (or, on @ts-expect-error lines, not compile).
async function typeLevel(shop: Ledger<Shop>, manual: Ledger<Manual>, untyped: Ledger): Promise<void> {
  await shop.append({ type: 'order_placed', payload: { orderId: 'o-1', total: 9.5 } });
  await shop.append({ type: 'order_cancelled', payload: { orderId: 'o-1' } });
  await shop.append({ type: 'heartbeat' });
  // @ts-expect-error an unknown type
  await shop.append({ type: 'order_shipped', payload: { orderId: 'o-1' } });
  // @ts-expect-error a wrong payload: total is a number
  await shop.append({ type: 'order_placed', payload: { orderId: 'o-1', total: '9.5' } });
  // @ts-expect-error a missing field
  await shop.append({ type: 'order_placed', payload: { orderId: 'o-1' } });
  // @ts-expect-error a required payload omitted
  await shop.append({ type: 'order_placed' });
  // @ts-expect-error another type's payload
  await shop.appendBatch([{ type: 'order_cancelled', payload: { total: 3 } }]);
  await shop.appendBatch([
    { type: 'order_placed', payload: { orderId: 'o-2', total: 1 } },
    { type: 'order_cancelled', payload: { orderId: 'o-2', reason: 'typo' } },
  ]);

  const event = shop.get(1);
  if (event?.type === 'order_placed') expectType<Equal<typeof event.payload, { orderId: string; total: number }>>(true);
  if (event?.type === 'order_cancelled') expectType<Equal<typeof event.payload.reason, string | undefined>>(true);
  if (event?.type === 'heartbeat') expectType<Equal<typeof event.payload, unknown>>(true);
  for (const e of shop.readAll()) {
    // @ts-expect-error not narrowed yet: payload is a union, total may be absent
    void e.payload.total;
    if (e.type === 'order_placed') void e.payload.total;
  }
  expectType<Equal<ReturnType<typeof shop.readStream>, EventOf<Shop>[]>>(true);
  for (const e of shop.events({ types: ['order_placed'] })) {
    if (e.type === 'order_placed') expectType<Equal<typeof e.payload.total, number>>(true);
    // @ts-expect-error order_placed has no reason
    if (e.type === 'order_placed') void e.payload.reason;
  }
  shop.subscribe({}, (e) => {
    if (e.type === 'order_placed') void e.payload.total.toFixed(2);
  });
  for await (const item of shop.subscribe({ from: 1 })) {
    if (item.kind === 'event' && item.event.type === 'order_cancelled') void item.event.payload.orderId.toUpperCase();
  }
  // Stele's own events are in the union, under types no app type can match.
  const system = shop.get(2);
  if (system?.type === 'stele.halted') expectType<Equal<typeof system.payload, unknown>>(true);

  await manual.append({ type: 'deposited', payload: { cents: 5n } });
  await manual.append({ type: 'note' });
  // @ts-expect-error cents is a bigint
  await manual.append({ type: 'deposited', payload: { cents: 5 } });

  // A typed ledger goes wherever a plain Ledger is taken (a health check, a backup job).
  const plain: Ledger = shop;
  void plain;

  // Untyped: exactly today's types.
  expectType<Equal<InputOf<Record<string, unknown>>, AppendInput>>(true);
  expectType<Equal<EventOf<Record<string, unknown>>, LedgerEvent>>(true);
  await untyped.append({ type: 'anything', payload: { at: new Date() } });
  expectType<Equal<ReturnType<typeof untyped.get>, LedgerEvent | undefined>>(true);
  expectType<Equal<Parameters<typeof untyped.append>[0], AppendInput>>(true);
  expectType<Equal<ReturnType<typeof untyped.readAll>, LedgerEvent[]>>(true);
}
void typeLevel;

test('a ledger opened with eventTypes schemas is typed by them, and enforces at run time what the types forbid', async (t) => {
  const ledger = await openLedger(tempLedgerPath(t), { eventTypes });
  t.after(() => ledger.close());
  expectType<Equal<typeof ledger, Ledger<Shop>>>(true);

  await ledger.append({ type: 'order_placed', streamId: 'order-1', payload: { orderId: 'o-1', total: 9.5 } });
  await ledger.append({ type: 'order_cancelled', streamId: 'order-1', payload: { orderId: 'o-1', reason: 'changed mind' } });
  let total = 0;
  const reasons: (string | undefined)[] = [];
  for (const event of ledger.readStream('order-1')) {
    if (event.type === 'order_placed') total += event.payload.total;
    else if (event.type === 'order_cancelled') reasons.push(event.payload.reason);
  }
  assert.equal(total, 9.5);
  assert.deepEqual(reasons, ['changed mind']);

  // What the types refuse, the ledger refuses too (a cast stands for untyped JavaScript callers).
  await assert.rejects(
    ledger.append({ type: 'order_placed', payload: { orderId: 'o-1', total: '9.5' } } as unknown as InputOf<Shop>),
    (error) => isLedgerError(error, 'INVALID_EVENT'),
  );
  await assert.rejects(
    ledger.append({ type: 'order_shipped', payload: {} } as unknown as InputOf<Shop>),
    (error) => isLedgerError(error, 'UNKNOWN_EVENT_TYPE'),
  );
  // The opening recorded the taxonomy ($types), then the two orders.
  assert.equal(ledger.maxSequence(), 3);
});

test('a hand-written type map types the ledger without schemas; values round-trip as typed', async (t) => {
  const ledger = await openLedger<Manual>(tempLedgerPath(t));
  t.after(() => ledger.close());
  await ledger.append({ type: 'deposited', streamId: 'acct-1', payload: { cents: 500n } });
  const event = ledger.get(1);
  assert.ok(event?.type === 'deposited');
  assert.equal(event.payload.cents + 1n, 501n);
});

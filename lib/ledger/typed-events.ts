/**
 * Types that follow the events: a map of event type → payload type, written by hand
 * (`openLedger<MyEvents>(path)`) or inferred from the `eventTypes` schemas, turned into the
 * inputs `append` accepts and the discriminated union reads return. Types only: nothing here
 * exists at run time.
 *
 * The payload type of a schema is its Standard Schema *input* type, on the way in and on the way
 * out: Stele stores the payload as it was sent (a signature covers those bytes), after checking
 * it with the schema, and never stores the schema's output. A schema that transforms or fills
 * defaults therefore reads back as it was written, and the types say so.
 */
import type { AppendInput, LedgerEvent } from '../event.ts';
import type { StandardSchemaV1 } from '../format/payload-schema.ts';

/**
 * Event type → payload type. A ledger typed with one accepts only these types, each with its
 * payload, and reads return a union discriminated on `type`.
 *
 * @example
 * ```ts
 * type Shop = {
 *   order_placed: { orderId: string; total: number };
 *   order_cancelled: { orderId: string; reason?: string };
 *   heartbeat: undefined;
 * };
 * const ledger = await openLedger<Shop>('shop.db');
 * await ledger.append({ type: 'order_placed', payload: { orderId: 'o-1', total: 9.5 } });
 * ```
 */
export type EventMap = { [type: string]: unknown };

/**
 * The map of an untyped ledger: any type, any payload (inputs are `AppendInput`, reads
 * `LedgerEvent`). The default of {@link Ledger}'s parameter. It is `any` rather than
 * `Record<string, unknown>` so that a typed ledger can be passed where a plain `Ledger` is taken
 * (a health check, a backup job): TypeScript cannot measure a ledger's type parameter as
 * covariant (it is an input of `append` and an output of reads), and would otherwise refuse it.
 *
 * @example
 * ```ts
 * const ledger: Ledger<UntypedEvents> = await openLedger('audit.db'); // same as Ledger
 * function nightlyBackup(any: Ledger) { return any.backup(`/backups/${Date.now()}.db`); }
 * await nightlyBackup(await openLedger<{ order_placed: { total: number } }>('shop.db'));
 * ```
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UntypedEvents = any;

/**
 * What `eventTypes` maps a type to: a Standard Schema v1 validator of its payload, or `true`.
 *
 * @example
 * ```ts
 * const eventTypes = { deposited: z.object({ cents: z.bigint() }), app_started: true } satisfies EventTypeSchemas;
 * ```
 */
export type EventTypeSchemas = Record<string, StandardSchemaV1 | true>;

/**
 * The {@link EventMap} of an `eventTypes` option: each schema's input type (`unknown` for `true`).
 *
 * @example
 * ```ts
 * const eventTypes = { deposited: z.object({ cents: z.bigint() }), app_started: true };
 * type Bank = EventsOf<typeof eventTypes>; // { deposited: { cents: bigint }; app_started: unknown }
 * ```
 */
export type EventsOf<Schemas extends EventTypeSchemas> = {
  [Type in keyof Schemas & string]: Schemas[Type] extends { readonly '~standard': { readonly types?: infer Types } }
    ? NonNullable<Types> extends { readonly input: infer Input }
      ? Input
      : unknown
    : unknown;
};

/**
 * The events Stele appends itself (agent keys, halts), which a typed ledger's reads can return
 * next to the app's own: their types start with `stele.`, so they never match an app type.
 *
 * @example
 * ```ts
 * for (const event of ledger.readAll()) {
 *   if (event.type === 'stele.halted') console.warn('halted:', event.payload);
 * }
 * ```
 */
export type SystemEvent = LedgerEvent<`stele.${string}`, unknown>;

/**
 * What reads of a ledger typed with `Events` return: one {@link LedgerEvent} per type, discriminated
 * on `type`, or a {@link SystemEvent}. Untyped, it is `LedgerEvent`.
 *
 * @example
 * ```ts
 * function total(events: Iterable<EventOf<Shop>>): number {
 *   let sum = 0;
 *   for (const event of events) if (event.type === 'order_placed') sum += event.payload.total;
 *   return sum;
 * }
 * ```
 */
export type EventOf<Events extends EventMap> = string extends keyof Events
  ? LedgerEvent
  : { [Type in keyof Events & string]: LedgerEvent<Type, Events[Type]> }[keyof Events & string] | SystemEvent;

/**
 * What `append` of a ledger typed with `Events` accepts: a known type with its payload (required
 * unless the payload type admits `undefined`). Untyped, it is `AppendInput`.
 *
 * @example
 * ```ts
 * const input: InputOf<Shop> = { type: 'order_cancelled', streamId: 'order-1', payload: { orderId: 'o-1' } };
 * await ledger.append(input);
 * ```
 */
export type InputOf<Events extends EventMap> = string extends keyof Events
  ? AppendInput
  : {
      [Type in keyof Events & string]: undefined extends Events[Type]
        ? AppendInput<Type, Events[Type]>
        : AppendInput<Type, Events[Type]> & { payload: Events[Type] };
    }[keyof Events & string];

/**
 * The public shapes of {@link Ledger.subscribe}, and its options resolved and checked.
 */
import { requireFunction, requireInteger, requireKnownKeys, requireOptions, requireTypeList } from '../arguments.ts';
import { describeValue } from '../errors.ts';
import type { LedgerEvent } from '../event.ts';

/**
 * Options of {@link Ledger.subscribe}.
 *
 * @example
 * ```ts
 * // Every deposit of one account, from the beginning, then live.
 * const options: SubscribeOptions = { from: 1, streamId: 'acct-1', types: ['deposited'] };
 * for await (const item of ledger.subscribe(options)) {
 *   if (item.kind === 'event') console.log(item.event.sequence, item.event.payload);
 * }
 * ```
 */
export interface SubscribeOptions {
  /**
   * First sequence to deliver (default 1: the whole ledger, then live). To receive only events
   * appended from now on, pass `ledger.maxSequence() + 1`.
   */
  from?: number;
  /** Deliver only this stream's events. */
  streamId?: string;
  /** Deliver only events of these types (a non-empty list). */
  types?: readonly string[];
  /**
   * Called once, when the subscription has delivered every matching event up to the head it
   * found, with that head's sequence (0 for an empty ledger). Awaited before the next event.
   */
  onCaughtUp?: (sequence: number) => void | Promise<void>;
  /** Rows read per page, which bounds the subscription's memory (default 500, at most 10,000). */
  batchSize?: number;
  /**
   * How often a waiting subscription checks for commits that no file-system notification
   * announced (default 1,000 ms, at least 10). File-system notifications usually wake it at once.
   */
  pollIntervalMs?: number;
}

/**
 * Receives each event of a {@link Subscription}. The next event waits until the returned promise
 * settles, so a slow handler slows the subscription down instead of piling events up in memory.
 * A handler that throws (or rejects) stops the subscription: {@link Subscription.done} rejects
 * with that error.
 *
 * @example
 * ```ts
 * const handler: SubscriptionHandler = async (event) => {
 *   await projection.apply(event);
 * };
 * ```
 */
export type SubscriptionHandler<Event = LedgerEvent> = (event: Event) => void | Promise<void>;

/**
 * What a {@link SubscriptionStream} yields: an event, or once, the marker that every event up to
 * the head found at that moment (`sequence`) has been delivered and what follows is live.
 *
 * @example
 * ```ts
 * for await (const item of ledger.subscribe({ from: 1 })) {
 *   if (item.kind === 'caught_up') console.log('live from', item.sequence + 1);
 *   else console.log(item.event.type);
 * }
 * ```
 */
export type SubscriptionItem<Event = LedgerEvent> =
  | { readonly kind: 'event'; readonly event: Event }
  | { readonly kind: 'caught_up'; readonly sequence: number };

/**
 * A subscription with a handler, from `ledger.subscribe(options, handler)`. It runs until
 * {@link Subscription.close}, until the ledger closes, or until the handler throws.
 *
 * @example
 * ```ts
 * const subscription = ledger.subscribe({ from: 1, onCaughtUp: (seq) => console.log('live after', seq) }, (event) => {
 *   console.log(event.sequence, event.type);
 * });
 * subscription.done.catch((error) => console.error('subscription stopped', error));
 * // later
 * subscription.close();
 * ```
 */
export interface Subscription extends AsyncDisposable, Disposable {
  /**
   * Resolves once the subscription has stopped after `close()` or the ledger's `close()` (after
   * a handler call in progress has returned); rejects with the error of a handler that threw, or
   * of a read that failed. Observe it: an unobserved rejection is an unhandled rejection.
   */
  readonly done: Promise<void>;
  /** True once closed, by `close()`, by the ledger closing or by a failure. */
  readonly closed: boolean;
  /** Stops delivery: no handler call starts after this. Idempotent; safe inside the handler. */
  close(): void;
  /** `close()`, then waits for {@link Subscription.done}. */
  [Symbol.asyncDispose](): Promise<void>;
  /** `close()`, for `using`: no handler call starts after the block ends. */
  [Symbol.dispose](): void;
}

/**
 * A subscription without a handler, from `ledger.subscribe(options)`: an async iterable of
 * {@link SubscriptionItem}s that can be iterated once. Iteration pulls: nothing is read ahead of
 * the consumer beyond one page. Leaving a `for await` loop (break, return, throw) closes it; the
 * iteration ends when it is closed, including by the ledger's `close()`.
 *
 * @example
 * ```ts
 * const stream = ledger.subscribe({ from: ledger.maxSequence() + 1, types: ['order_placed'] });
 * for await (const item of stream) {
 *   if (item.kind === 'event') await ship(item.event.payload);
 * }
 * ```
 */
export interface SubscriptionStream<Event = LedgerEvent> extends AsyncIterable<SubscriptionItem<Event>>, AsyncDisposable, Disposable {
  /** True once closed, by `close()`, by leaving the loop, by the ledger closing or by a failure. */
  readonly closed: boolean;
  /** Stops the iteration: a pending or later `next()` returns `done: true`. Idempotent. */
  close(): void;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
  /** Same as `close()`, for `using`. */
  [Symbol.dispose](): void;
}

const DEFAULT_BATCH_SIZE = 500;
const MAX_BATCH_SIZE = 10_000;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
const MIN_POLL_INTERVAL_MS = 10;

const KNOWN_OPTIONS = ['from', 'streamId', 'types', 'onCaughtUp', 'batchSize', 'pollIntervalMs'];

/** @internal */
export interface ResolvedSubscribeOptions {
  readonly from: number;
  readonly streamId: string | null;
  /** JSON array of the types, bound to `json_each`; null for every type. */
  readonly typesJson: string | null;
  readonly onCaughtUp: ((sequence: number) => void | Promise<void>) | undefined;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
}

/**
 * Defaults, then validation naming the option and the fix, then the resolved options.
 * @internal
 */
export function resolveSubscribeOptions(given: SubscribeOptions | undefined): ResolvedSubscribeOptions {
  const options = requireOptions('subscribe options', given) as SubscribeOptions;
  requireKnownKeys(options, KNOWN_OPTIONS, 'subscribe');
  const from = options.from === undefined ? 1 : requireInteger('from', options.from, 1);
  let streamId: string | null = null;
  if (options.streamId !== undefined) {
    if (typeof options.streamId !== 'string' || options.streamId.length === 0) {
      throw new TypeError(`streamId must be a non-empty string, got ${describeValue(options.streamId)}`);
    }
    streamId = options.streamId;
  }
  let typesJson: string | null = null;
  if (options.types !== undefined) typesJson = requireTypeList(options.types, 'receive every type');
  if (options.onCaughtUp !== undefined) requireFunction('onCaughtUp', options.onCaughtUp);
  return Object.freeze({
    from,
    streamId,
    typesJson,
    onCaughtUp: options.onCaughtUp,
    batchSize: options.batchSize === undefined ? DEFAULT_BATCH_SIZE : requireInteger('batchSize', options.batchSize, 1, MAX_BATCH_SIZE),
    pollIntervalMs:
      options.pollIntervalMs === undefined
        ? DEFAULT_POLL_INTERVAL_MS
        : requireInteger('pollIntervalMs', options.pollIntervalMs, MIN_POLL_INTERVAL_MS, 2 ** 31 - 1),
  });
}

/**
 * Live subscriptions: catch up from a sequence, then follow new commits as they land, in sequence
 * order, exactly once, with no gaps, whichever process or thread appends.
 *
 * How a subscription learns that something was committed is commit-watcher.ts.
 *
 * Reads are pages of `batchSize` rows, each page one read transaction that also reads the head, so
 * the memory of a subscription is bounded by one page whatever its lag, and filtered events still
 * advance its position.
 */
import { describeValue } from '../errors.ts';
import { decodeRow } from '../format/event-decoding.ts';
import type { CommitWatcher, SubscriptionLog } from './commit-watcher.ts';
import {
  resolveSubscribeOptions,
  type ResolvedSubscribeOptions,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionHandler,
  type SubscriptionItem,
  type SubscriptionStream,
} from './subscription-options.ts';

/** A new live subscription on `watcher`: checked options, then delivery (a handler) or a stream. */
export function openSubscription(
  watcher: CommitWatcher,
  options: SubscribeOptions | undefined,
  handler: SubscriptionHandler | undefined,
  log: SubscriptionLog,
): Subscription | SubscriptionStream {
  if (handler !== undefined && typeof handler !== 'function') {
    throw new TypeError(`subscribe's handler must be a function, got ${describeValue(handler)}; omit it to iterate instead`);
  }
  const subscription = new LiveSubscription(watcher, resolveSubscribeOptions(options), handler, log);
  watcher.add(subscription);
  subscription.start();
  return subscription;
}

/** @internal The one implementation of both public shapes. */
class LiveSubscription implements Subscription, SubscriptionStream {
  readonly #hub: CommitWatcher;
  readonly #options: ResolvedSubscribeOptions;
  readonly #handler: SubscriptionHandler | undefined;
  readonly #log: SubscriptionLog;
  /** Next sequence to read; filtered events advance it too. */
  #next: number;
  #closed = false;
  #iterated = false;
  /** Resolves the wait for a change, when waiting. */
  #wake: (() => void) | undefined;
  #done: Promise<void> | undefined;

  constructor(hub: CommitWatcher, options: ResolvedSubscribeOptions, handler: SubscriptionHandler | undefined, log: SubscriptionLog) {
    this.#hub = hub;
    this.#options = options;
    this.#handler = handler;
    this.#log = log;
    this.#next = options.from;
  }

  /** With a handler, starts delivering; without, waits for the consumer to iterate. */
  start(): void {
    const handler = this.#handler;
    if (!handler) return;
    this.#iterated = true;
    this.#done = (async () => {
      let sequence: number | undefined;
      try {
        for await (const item of this.#items()) {
          if (item.kind !== 'event') continue;
          sequence = item.event.sequence;
          await handler(item.event);
        }
      } catch (error) {
        this.#log('error', { sequence, error: String(error) }, 'subscription stopped: its handler or a read failed');
        throw error;
      }
    })();
  }

  get done(): Promise<void> {
    // Only the handler form has one; the stream form reports through next().
    return this.#done ?? Promise.resolve();
  }

  get closed(): boolean {
    return this.#closed;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#hub.release(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#done;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionItem> {
    if (this.#iterated) {
      throw new TypeError(this.#handler ? 'a subscription with a handler cannot also be iterated' : 'a subscription can be iterated only once');
    }
    this.#iterated = true;
    return this.#items();
  }

  /** Called by the watcher when a commit happened. */
  wake(): void {
    this.#wake?.();
  }

  async *#items(): AsyncGenerator<SubscriptionItem, void, undefined> {
    const { batchSize, onCaughtUp } = this.#options;
    try {
      let caughtUp = false;
      let mustRead = true;
      let seen = this.#hub.generation;
      while (!this.#closed) {
        if (!mustRead && seen === this.#hub.generation) {
          await this.#changed();
          continue;
        }
        // Read after noting the generation: a commit racing with this read bumps it, and the
        // loop reads again instead of waiting; one that the read already saw costs one empty read.
        seen = this.#hub.generation;
        const { rows, head } = this.#hub.readPage(this.#next, this.#options);
        for (const row of rows) {
          if (this.#closed) return;
          this.#next = row.sequence + 1;
          yield { kind: 'event', event: decodeRow(row) };
        }
        if (this.#closed) return;
        // A full page may have more behind it; a short one read everything up to the head.
        mustRead = rows.length === batchSize;
        if (mustRead) continue;
        this.#next = Math.max(this.#next, head + 1);
        if (!caughtUp) {
          caughtUp = true;
          await onCaughtUp?.(head);
          if (this.#closed) return;
          yield { kind: 'caught_up', sequence: head };
        }
      }
    } finally {
      this.close();
    }
  }

  /** Waits for the hub to see a commit, for the safety timer, or for close(). */
  #changed(): Promise<void> {
    return new Promise((resolve) => {
      // Not unref'd: a waiting live subscription keeps the process alive, like a listening socket.
      const timer = setTimeout(() => {
        finish();
        this.#hub.check();
      }, this.#options.pollIntervalMs);
      const finish = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
      this.#wake = finish;
    });
  }
}

/**
 * Live subscriptions: catch up from a sequence, then follow new commits as they land, in sequence
 * order, exactly once, with no gaps, whichever process or thread appends.
 *
 * How a subscription learns that something was committed, without busy-polling:
 * - `PRAGMA data_version` on a read-only connection changes whenever another connection commits
 *   (the writer worker of this process, or a writer in another process). It is cheap (it reads the
 *   WAL index header), so it is the gate in front of every read.
 * - `fs.watch` on the ledger's *directory* says when to look. The directory, not the `-wal` file:
 *   SQLite deletes and recreates the `-wal` when the last connection closes and the next one
 *   opens, and an inotify watch on a deleted file never fires again. Commits write the `-wal`
 *   (IN_MODIFY), checkpoints write the main file; both names are watched.
 * - A commit becomes visible only once the writer has synced its WAL frames and published them in
 *   the WAL index (`-shm`, shared memory, invisible to inotify), so the notification of the write
 *   usually arrives before the commit is visible; and inotify merges a burst of writes into one
 *   event. Each notification is therefore followed by a few re-checks at growing intervals (1 ms
 *   to 640 ms). A commit whose sync takes longer than that is found by the next commit's
 *   notification or by the safety timer.
 * - A slow safety timer (`pollIntervalMs`, default 1 s) checks `data_version` while a subscription
 *   waits, for file systems where `fs.watch` reports nothing (network mounts, some containers).
 *
 * Reads are pages of `batchSize` rows, each page one read transaction that also reads the head, so
 * the memory of a subscription is bounded by one page whatever its lag, and filtered events still
 * advance its position.
 */
import type Database from 'better-sqlite3';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { EVENT_COLUMNS, type EventRow } from '../format/columns.ts';
import { describeValue, LedgerError } from '../errors.ts';
import type { LedgerEvent } from '../event.ts';
import type { Ledger } from './ledger.ts';
import { openReadConnection } from '../sqlite/native-sql.ts';
import { decodeRow } from '../format/event-decoding.ts';
import type { LogLevel } from '../writer/protocol.ts';

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
export type SubscriptionHandler = (event: LedgerEvent) => void | Promise<void>;

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
export type SubscriptionItem =
  | { readonly kind: 'event'; readonly event: LedgerEvent }
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
export interface Subscription extends AsyncDisposable {
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
export interface SubscriptionStream extends AsyncIterable<SubscriptionItem>, AsyncDisposable {
  /** True once closed, by `close()`, by leaving the loop, by the ledger closing or by a failure. */
  readonly closed: boolean;
  /** Stops the iteration: a pending or later `next()` returns `done: true`. Idempotent. */
  close(): void;
  /** Same as `close()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const DEFAULT_BATCH_SIZE = 500;
const MAX_BATCH_SIZE = 10_000;
const DEFAULT_POLL_INTERVAL_MS = 1_000;
const MIN_POLL_INTERVAL_MS = 10;
/** Delays of the re-checks after a notification that found no commit yet (see the module comment). */
const SETTLE_DELAYS_MS = [1, 2, 5, 10, 20, 40, 80, 160, 320, 640];

const KNOWN_OPTIONS = ['from', 'streamId', 'types', 'onCaughtUp', 'batchSize', 'pollIntervalMs'];

interface ResolvedSubscribeOptions {
  readonly from: number;
  readonly streamId: string | null;
  /** JSON array of the types, bound to `json_each`; null for every type. */
  readonly typesJson: string | null;
  readonly onCaughtUp: ((sequence: number) => void | Promise<void>) | undefined;
  readonly batchSize: number;
  readonly pollIntervalMs: number;
}

/** @internal */
export type SubscriptionLog = (level: LogLevel, fields: Record<string, unknown>, message: string) => void;

/**
 * One per ledger: the read-only connection, the directory watcher and the change counter shared by
 * its subscriptions. Opened with the first live subscription, closed with the last.
 *
 * Its own connection rather than the ledger's reader: each page is a read transaction (the head
 * and the rows from one snapshot), and the filters run in SQL, so that events a subscription does
 * not want are never decoded.
 * @internal
 */
export class SubscriptionHub {
  readonly #path: string;
  readonly #log: SubscriptionLog;
  readonly #dbName: string;
  readonly #walName: string;
  readonly #subscriptions = new Set<LiveSubscription>();
  #db: Database.Database | undefined;
  #readPage: ((from: number, options: ResolvedSubscribeOptions) => { rows: EventRow[]; head: number }) | undefined;
  #dataVersion: (() => number) | undefined;
  #lastDataVersion = 0;
  /** Incremented for each change seen; subscriptions compare it with the value before their read. */
  #generation = 0;
  #watcher: FSWatcher | undefined;
  #checkQueued = false;
  #settleTimer: NodeJS.Timeout | undefined;
  #settleStep = 0;
  #closed = false;

  constructor(path: string, log: SubscriptionLog) {
    this.#path = path;
    this.#log = log;
    this.#dbName = basename(path);
    this.#walName = `${this.#dbName}-wal`;
  }

  get generation(): number {
    return this.#generation;
  }

  subscribe(options: SubscribeOptions | undefined, handler: SubscriptionHandler | undefined): Subscription | SubscriptionStream {
    if (handler !== undefined && typeof handler !== 'function') {
      throw new TypeError(`subscribe's handler must be a function, got ${describeValue(handler)}; omit it to iterate instead`);
    }
    const resolved = resolveSubscribeOptions(options);
    if (this.#closed) throw LedgerError.of('LEDGER_CLOSED', { path: this.#path });
    this.#open();
    const subscription = new LiveSubscription(this, resolved, handler, this.#log);
    this.#subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  #open(): void {
    if (this.#db) return;
    const db = openReadConnection(this.#path);
    try {
      this.#prepare(db);
    } catch (error) {
      db.close();
      throw error;
    }
    try {
      this.#watcher = watch(dirname(this.#path), { persistent: true }, (_event, filename) => {
        if (filename === null || filename === this.#walName || filename === this.#dbName) this.#queueCheck();
      });
      this.#watcher.on('error', (error) => this.#stopWatching(error));
    } catch (error) {
      // ENOSPC (inotify watch limit), EPERM...: the safety timer still finds every commit.
      this.#stopWatching(error);
    }
  }

  #prepare(db: Database.Database): void {
    const page = db.prepare<[number, number, string | null, string | null, string | null, string | null, number], EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events
       WHERE sequence BETWEEN ? AND ?
         AND (? IS NULL OR stream_id = ?)
         AND (? IS NULL OR type IN (SELECT value FROM json_each(?)))
       ORDER BY sequence LIMIT ?`,
    );
    const head = db.prepare<[], number>('SELECT coalesce(max(sequence), 0) FROM events').pluck();
    const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    // One snapshot for the head and the rows: rows beyond the head read here cannot exist in it.
    const readPage = db.transaction((from: number, o: ResolvedSubscribeOptions) => {
      const top = head.get()!;
      const rows = top < from ? [] : page.all(from, top, o.streamId, o.streamId, o.typesJson, o.typesJson, o.batchSize);
      return { rows, head: top };
    });
    // The baseline is read before any subscription's first page, so a commit after it is a change.
    this.#lastDataVersion = dataVersion.get()!;
    this.#db = db;
    this.#readPage = readPage;
    this.#dataVersion = () => dataVersion.get()!;
  }

  #stopWatching(error: unknown): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#log('warn', { path: this.#path, error: String(error) }, `subscriptions cannot watch the ledger's directory; they poll instead`);
  }

  /** Coalesces a burst of file-system notifications into one check. */
  #queueCheck(): void {
    this.#settleStep = 0;
    if (this.#checkQueued) return;
    this.#checkQueued = true;
    clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    setImmediate(() => {
      this.#checkQueued = false;
      this.#settle();
    });
  }

  /**
   * Checks now and again a little later, whatever this check found: the writer writes the WAL
   * frames (the notification), then syncs them (durability 'full': often milliseconds), and only
   * then publishes the commit in the WAL index; and one notification can stand for several
   * writes (inotify merges identical events), the last of which may not be published yet. The
   * series ends about 1.3 s after the last notification; the safety timer remains.
   */
  #settle(): void {
    this.#settleTimer = undefined;
    if (!this.#db) return;
    this.check();
    if (this.#settleStep >= SETTLE_DELAYS_MS.length) return;
    this.#settleTimer = setTimeout(() => this.#settle(), SETTLE_DELAYS_MS[this.#settleStep++]).unref();
  }

  /**
   * Wakes the subscriptions when a commit happened since the last check. Returns whether one did.
   * Also the hook for a writer in this process to call right after an acknowledgement.
   */
  check(): boolean {
    if (!this.#dataVersion) return false;
    try {
      const version = this.#dataVersion();
      if (version === this.#lastDataVersion) return false;
      this.#lastDataVersion = version;
    } catch (error) {
      // Let the subscriptions read: a persistent failure surfaces there, through done or next().
      this.#log('warn', { path: this.#path, error: String(error) }, 'subscriptions could not read data_version');
    }
    this.#generation++;
    for (const subscription of this.#subscriptions) subscription.wake();
    return true;
  }

  /** @internal */
  readPage(from: number, options: ResolvedSubscribeOptions): { rows: EventRow[]; head: number } {
    return this.#readPage!(from, options);
  }

  /** @internal */
  release(subscription: LiveSubscription): void {
    if (!this.#subscriptions.delete(subscription) || this.#subscriptions.size > 0) return;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearTimeout(this.#settleTimer);
    this.#settleTimer = undefined;
    this.#readPage = undefined;
    this.#dataVersion = undefined;
    this.#db?.close();
    this.#db = undefined;
  }

  /** Closes every subscription and the connection; called by the ledger's close(). */
  close(): void {
    this.#closed = true;
    for (const subscription of this.#subscriptions) subscription.close();
  }
}

/** @internal The one implementation of both public shapes. */
class LiveSubscription implements Subscription, SubscriptionStream {
  readonly #hub: SubscriptionHub;
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

  constructor(hub: SubscriptionHub, options: ResolvedSubscribeOptions, handler: SubscriptionHandler | undefined, log: SubscriptionLog) {
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

  [Symbol.asyncIterator](): AsyncIterator<SubscriptionItem> {
    if (this.#iterated) {
      throw new TypeError(this.#handler ? 'a subscription with a handler cannot also be iterated' : 'a subscription can be iterated only once');
    }
    this.#iterated = true;
    return this.#items();
  }

  /** @internal Called by the hub when a commit happened. */
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

/** Defaults, then validation naming the option and the fix, then the resolved options. */
function resolveSubscribeOptions(options: SubscribeOptions | undefined): ResolvedSubscribeOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`subscribe options must be an object, got ${describeValue(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.includes(key)) {
      const near = KNOWN_OPTIONS.find((known) => known.toLowerCase() === key.toLowerCase());
      throw new TypeError(
        near ? `Misspelled option "${key}" should be "${near}"` : `Unknown subscribe option "${key}"; known options: ${KNOWN_OPTIONS.join(', ')}`,
      );
    }
  }
  const from = options.from === undefined ? 1 : integer('from', options.from, 1, Number.MAX_SAFE_INTEGER);
  let streamId: string | null = null;
  if (options.streamId !== undefined) {
    if (typeof options.streamId !== 'string' || options.streamId.length === 0) {
      throw new TypeError(`streamId must be a non-empty string, got ${describeValue(options.streamId)}`);
    }
    streamId = options.streamId;
  }
  let typesJson: string | null = null;
  if (options.types !== undefined) {
    const types: unknown = options.types;
    if (!Array.isArray(types)) throw new TypeError(`types must be an array of non-empty strings, got ${describeValue(types)}`);
    // Every index, holes included: forEach would skip holes, and walk a length set to 2^32 - 1.
    for (let index = 0; index < types.length; index++) {
      const type: unknown = types[index];
      if (typeof type !== 'string' || type.length === 0) throw new TypeError(`types[${index}] must be a non-empty string, got ${describeValue(type)}`);
    }
    if (types.length === 0) throw new RangeError('types must list at least one type; omit it to receive every type');
    typesJson = JSON.stringify(types);
  }
  if (options.onCaughtUp !== undefined && typeof options.onCaughtUp !== 'function') {
    throw new TypeError(`onCaughtUp must be a function, got ${describeValue(options.onCaughtUp)}`);
  }
  return Object.freeze({
    from,
    streamId,
    typesJson,
    onCaughtUp: options.onCaughtUp,
    batchSize: options.batchSize === undefined ? DEFAULT_BATCH_SIZE : integer('batchSize', options.batchSize, 1, MAX_BATCH_SIZE),
    pollIntervalMs:
      options.pollIntervalMs === undefined
        ? DEFAULT_POLL_INTERVAL_MS
        : integer('pollIntervalMs', options.pollIntervalMs, MIN_POLL_INTERVAL_MS, 2 ** 31 - 1),
  });
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be an integer, got ${describeValue(value)}`);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}


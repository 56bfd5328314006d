/**
 * How a ledger's subscriptions learn that something was committed, without busy-polling:
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
 * @internal
 */
import type Database from 'better-sqlite3';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { LedgerError } from '../errors.ts';
import { EVENT_COLUMNS, type EventRow } from '../format/columns.ts';
import type { LogLevel } from '../options.ts';
import { openReadConnection } from '../sqlite/connections.ts';
import { MAX_SEQUENCE_SQL } from '../sqlite/queries.ts';
import type { ResolvedSubscribeOptions } from './subscription-options.ts';

/** Delays of the re-checks after a notification that found no commit yet (see the module comment). */
const SETTLE_DELAYS_MS = [1, 2, 5, 10, 20, 40, 80, 160, 320, 640];

export type SubscriptionLog = (level: LogLevel, fields: Record<string, unknown>, message: string) => void;

/** What the watcher wakes: a live subscription. */
export interface Watching {
  wake(): void;
  close(): void;
}

/**
 * One per ledger: the read-only connection, the directory watcher and the change counter shared by
 * its subscriptions. Opened with the first live subscription, closed with the last.
 *
 * Its own connection rather than the ledger's reader: each page is a read transaction (the head
 * and the rows from one snapshot), and the filters run in SQL, so that events a subscription does
 * not want are never decoded.
 * @internal
 */
export class CommitWatcher {
  readonly #path: string;
  readonly #log: SubscriptionLog;
  readonly #dbName: string;
  readonly #walName: string;
  readonly #subscriptions = new Set<Watching>();
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

  /** Starts waking `subscription` on each commit; opens the connection and the watch with the first. */
  add(subscription: Watching): void {
    if (this.#closed) throw LedgerError.of('LEDGER_CLOSED', { path: this.#path });
    this.#open();
    this.#subscriptions.add(subscription);
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
    const head = db.prepare<[], number>(MAX_SEQUENCE_SQL).pluck();
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

  /** One page of rows from `from`, filtered as `options` say, and the head, from one snapshot. */
  readPage(from: number, options: ResolvedSubscribeOptions): { rows: EventRow[]; head: number } {
    return this.#readPage!(from, options);
  }

  /** Stops waking `subscription`; the last one closes the connection and the watch. */
  release(subscription: Watching): void {
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

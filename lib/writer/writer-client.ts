/**
 * The main-thread side of the writer: starts and supervises the worker, keeps the map of pending
 * requests, coalesces appends made in the same tick into one message, and admits them through
 * {@link Admission} (backpressure).
 *
 * Supervision: if the worker dies, requests it had been sent reject with WRITER_CRASHED (their
 * outcome is unknown; a retry with the same eventId is safe), requests not yet sent wait, and a
 * new worker starts after a backoff and re-runs its startup self-verification. Too many
 * restarts in the window and the writer is `failed`: appends reject with WRITER_UNAVAILABLE.
 * A message the protocol does not allow is treated like a crash of that worker: it is ended,
 * never answered with a `throw` inside the port's listener (which would reach the host app).
 * @internal
 */
import { inspect } from 'node:util';
import { commitMessage, publishDiagnostic } from '../diagnostics.ts';
import { fromWire, LedgerError } from '../errors.ts';
import type { EncodedEvent } from '../format/event-encoding.ts';
import type { ResolvedOptions } from '../options.ts';
import { Admission } from './admission.ts';
import { unpackEvents, type AppendRequest, type FromWriter, type GroupOutcomes, type StoredEvent, type ToWriter, type WriterSettings } from './protocol.ts';
import { spawnWriter, type WriterConnection, type WriterLog } from './spawn-writer.ts';

export type WriterState = 'starting' | 'running' | 'restarting' | 'failed' | 'closed';

interface Pending {
  /** What the request sent: its size, and the ids and streams its outcome does not repeat. */
  events: EncodedEvent[];
  /** Posted to the current worker, so its outcome dies with that worker. */
  sent: boolean;
  resolve(events: StoredEvent[]): void;
  reject(error: Error): void;
}

const MAX_RESTART_DELAY_MS = 4_000;
/** Queued events that are posted at once instead of at the end of the tick. */
const EAGER_FLUSH_EVENTS = 128;

/** What the worker needs of the resolved options: the part that crosses to its thread. */
function writerSettings(path: string, options: ResolvedOptions): WriterSettings {
  return {
    path,
    durability: options.durability,
    driftThresholdMs: options.driftThresholdMs,
    requireSignatures: options.requireSignatures,
    startupVerifyRows: options.startupVerifyRows,
    expectedHead: options.expectedHead,
    trustedCheckpoint: options.trustedCheckpoint,
    logKey: options.checkpoint?.logKey,
    onInconsistency: options.onInconsistency,
    retry: options.retry,
    witnessQuorum: options.witnessQuorum,
    create: options.create,
  };
}

/** How long a closing worker may take to answer what it was sent before it is terminated. */
const WORKER_CLOSE_GRACE_MS = 30_000;

export class WriterClient {
  readonly #settings: WriterSettings;
  readonly #supervision: { maxRestarts: number; restartWindowMs: number };
  readonly #log: WriterLog;
  /** Room for appends: taken with `admit()` before {@link submit}, given back as outcomes arrive. */
  readonly admission: Admission;
  readonly #pending = new Map<number, Pending>();
  #connection: WriterConnection | undefined;
  #state: WriterState = 'starting';
  #queue: AppendRequest[] = [];
  /** Events in #queue, not yet posted to the worker. */
  #queuedEvents = 0;
  #flushScheduled = false;
  #nextId = 1;
  readonly #idleWaiters: Array<() => void> = [];
  /** Why submit() refuses: set once closing or failed. */
  #refusal: LedgerError | undefined;
  #restartTimes: number[] = [];
  #restartTimer: NodeJS.Timeout | undefined;
  #onClosed: (() => void) | undefined;
  #onFailed: ((error: LedgerError) => void) | undefined;
  /** The ledger's path stopped naming the writer's file (LEDGER_FILE_REPLACED). */
  fileReplaced = false;
  readonly stats = { appendedCount: 0, failedWriteCount: 0, lastWriteAt: undefined as Date | undefined, restarts: 0 };

  private constructor(settings: WriterSettings, options: ResolvedOptions, log: WriterLog) {
    this.#settings = settings;
    this.#supervision = { maxRestarts: options.maxRestarts, restartWindowMs: options.restartWindowMs };
    this.admission = new Admission({ maxPendingAppends: options.maxPendingAppends, onFull: options.onFull });
    this.#log = log;
  }

  /** Starts a supervised writer for `path`; rejects with the worker's refusal (a LedgerError) if the first start fails. */
  static async start(path: string, options: ResolvedOptions, log: WriterLog): Promise<WriterClient> {
    const settings = writerSettings(path, options);
    const client = new WriterClient(settings, options, log);
    const { connection } = await spawnWriter(settings, log);
    client.#attach(connection);
    return client;
  }

  get state(): WriterState {
    return this.#state;
  }

  /** Events queued or awaiting their outcome. */
  get pendingAppends(): number {
    return this.admission.pending;
  }

  /** Called once, when the writer gives up restarting and appends fail with WRITER_UNAVAILABLE. */
  onFailed(listener: (error: LedgerError) => void): void {
    this.#onFailed = listener;
  }

  #attach(connection: WriterConnection): void {
    this.#connection = connection;
    this.#state = 'running';
    const { worker, port } = connection;
    let crashed = false;
    const onCrash = (cause: Record<string, unknown>) => {
      if (crashed || this.#connection !== connection || this.#state === 'closed') return;
      crashed = true;
      this.#crashed(cause);
    };
    port.on('message', (message: FromWriter) => {
      const unexpected = this.#receive(message);
      if (unexpected === undefined) return;
      // A worker that breaks the protocol cannot be trusted with the rest of its requests.
      this.#log('error', { message: unexpected }, 'the writer sent a message the protocol does not allow; ending it');
      onCrash({ cause: `unexpected message from the writer: ${unexpected}` });
      void worker.terminate();
    });
    worker.on('error', (error) => onCrash({ cause: String(error) }));
    worker.on('exit', (exitCode) => onCrash({ exitCode }));
    this.#updateRef();
    this.#flush();
  }

  /** Handles one message of a running worker; returns a description of it when the protocol does not allow it. */
  #receive(message: FromWriter): string | undefined {
    switch (message?.kind) {
      case 'outcomes': {
        const unexpected = this.#checkOutcomes(message);
        if (unexpected !== undefined) return unexpected;
        this.#settleGroup(message);
        publishDiagnostic('stele:commit', () => commitMessage(this.#settings.path, message));
        return undefined;
      }
      case 'log':
        this.#log(message.level, message.fields, message.message);
        return undefined;
      case 'replaced':
        // Appends are refused from now on; what was sent is refused by the worker itself.
        this.fileReplaced = message.error.code === 'LEDGER_FILE_REPLACED';
        this.#state = 'failed';
        this.#refusal = fromWire(message.error);
        return undefined;
      case 'closed':
        this.#onClosed?.();
        return undefined;
      default:
        return inspect(message);
    }
  }

  /** Why `outcomes` cannot be this client's (a description), or undefined: every request pending, every column complete. */
  #checkOutcomes(outcomes: GroupOutcomes): string | undefined {
    const { ids, errors, sequences } = outcomes;
    if (!Array.isArray(ids) || !Array.isArray(errors) || !(sequences instanceof Float64Array)) return `outcomes of another shape: ${inspect(outcomes)}`;
    const refused = new Set(errors.map(([id]) => id));
    let count = 0;
    for (const id of ids) {
      const pending = this.#pending.get(id);
      if (!pending) return `an outcome of unknown request ${inspect(id)}`;
      if (!refused.has(id)) count += pending.events.length;
    }
    const columns = [outcomes.streamVersions, outcomes.authorityTimestamps, outcomes.localTimestamps];
    if (sequences.length !== count || columns.some((column) => column?.length !== count) || outcomes.contentHashes?.length !== count * 64 || outcomes.prevHashes?.length !== count * 64) {
      return `outcomes whose columns do not hold ${count} events`;
    }
    return undefined;
  }

  #settleGroup(outcomes: GroupOutcomes): void {
    const errors = outcomes.errors.length === 0 ? undefined : new Map(outcomes.errors);
    let at = 0;
    for (const id of outcomes.ids) {
      const pending = this.#pending.get(id)!;
      this.#pending.delete(id);
      const size = pending.events.length;
      this.#release(size);
      const error = errors?.get(id);
      if (error) {
        if (error.code === 'WRITE_FAILED' || error.code === 'DISK_FULL') this.stats.failedWriteCount++;
        pending.reject(fromWire(error));
        continue;
      }
      this.stats.appendedCount += size;
      this.stats.lastWriteAt = new Date();
      pending.resolve(unpackEvents(outcomes, pending.events, at));
      at += size;
    }
  }

  /** The worker died: what it had been sent is lost in flight; the rest waits for a new worker. */
  #crashed(cause: Record<string, unknown>): void {
    publishDiagnostic('stele:writer:crash', () => ({ path: this.#settings.path, cause }));
    this.#connection?.port.close();
    this.#connection = undefined;
    for (const [id, pending] of this.#pending) {
      if (!pending.sent) continue;
      this.#pending.delete(id);
      this.#release(pending.events.length);
      pending.reject(LedgerError.of('WRITER_CRASHED', { ...cause, outcome: 'unknown', retry: 'safe with the same eventId' }));
    }
    if (this.#state === 'closed') return;
    const now = Date.now();
    this.#restartTimes = this.#restartTimes.filter((at) => now - at < this.#supervision.restartWindowMs);
    if (this.#restartTimes.length >= this.#supervision.maxRestarts) {
      this.#fail(LedgerError.of('WRITER_UNAVAILABLE', { ...cause, restarts: this.stats.restarts }, 'the writer kept crashing and is no longer restarted'));
      return;
    }
    this.#restartTimes.push(now);
    this.#state = 'restarting';
    const delay = Math.min(MAX_RESTART_DELAY_MS, 50 * 2 ** (this.#restartTimes.length - 1));
    this.#log('error', { ...cause, restartInMs: delay }, 'writer crashed; restarting');
    this.#restartTimer = setTimeout(() => void this.#restart(), delay);
    this.#updateRef();
  }

  async #restart(): Promise<void> {
    this.#restartTimer = undefined;
    this.stats.restarts++;
    try {
      const { connection, head } = await spawnWriter(this.#settings, this.#log);
      if (this.#state !== 'restarting') {
        // Closed while the new worker was starting.
        connection.port.postMessage({ kind: 'close' } satisfies ToWriter);
        return;
      }
      this.#log('info', { head, restarts: this.stats.restarts }, 'writer restarted');
      this.#attach(connection);
    } catch (error) {
      // A writer that refuses to start (lock held, inconsistent file) is not retried.
      this.#fail(error instanceof LedgerError ? error : LedgerError.of('WRITER_UNAVAILABLE', { cause: String(error) }));
    }
  }

  #fail(error: LedgerError): void {
    this.#state = 'failed';
    this.#refusal = error.code === 'WRITER_UNAVAILABLE' ? error : LedgerError.of('WRITER_UNAVAILABLE', { cause: error.code, ...error.details });
    this.#rejectAll(this.#refusal);
    this.#log('fatal', { code: error.code, ...error.details }, 'writer failed; appends are refused, reads keep working');
    this.#onFailed?.(this.#refusal);
  }

  /** Why appends are refused now (closing, or the writer failed), or undefined. */
  get refusal(): LedgerError | undefined {
    return this.#refusal;
  }

  /**
   * Sends one request (one append or one batch) whose room the caller took with
   * `admission.admit()`, and resolves with what the database assigned. Requests made in the same
   * tick travel together in one message.
   */
  submit(events: EncodedEvent[]): Promise<StoredEvent[]> {
    if (this.#refusal) {
      this.release(events.length);
      return Promise.reject(this.#refusal);
    }
    const id = this.#nextId++;
    const result = new Promise<StoredEvent[]>((resolve, reject) => this.#pending.set(id, { events, sent: false, resolve, reject }));
    this.#queue.push({ id, events });
    this.#queuedEvents += events.length;
    if (this.#queuedEvents >= EAGER_FLUSH_EVENTS) {
      // A caller issuing many appends in one tick: hand the writer a first group now, so that it
      // commits while this thread is still encoding the rest.
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    this.#updateRef();
    return result;
  }

  /** Gives back room taken for a request that will not be submitted. */
  release(size: number): void {
    this.#release(size);
  }

  #release(size: number): void {
    this.admission.release(size);
    this.#settleIdle();
    this.#updateRef();
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    // While restarting, requests wait in the queue for the next worker.
    if (this.#queue.length === 0 || !this.#connection) return;
    for (const request of this.#queue) this.#pending.get(request.id)!.sent = true;
    const message: ToWriter = { kind: 'append', requests: this.#queue };
    this.#queue = [];
    this.#queuedEvents = 0;
    this.#connection.port.postMessage(message);
  };

  /** Keeps the process alive only while work is pending, like a socket with requests in flight. */
  #updateRef(): void {
    const busy = this.admission.pending > 0 || this.admission.waiting > 0 || this.#onClosed !== undefined;
    if (this.#restartTimer) {
      if (busy) this.#restartTimer.ref();
      else this.#restartTimer.unref();
    }
    if (!this.#connection) return;
    if (busy) {
      this.#connection.worker.ref();
      this.#connection.port.ref();
    } else {
      this.#connection.worker.unref();
      this.#connection.port.unref();
    }
  }

  /**
   * Resolves once nothing is queued, in flight, waiting for room, or holding room on its way to
   * {@link submit} (a caller just admitted is still validating and encoding).
   */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#pending.size === 0 && this.admission.waiting === 0 && this.admission.pending === 0;
  }

  #settleIdle(): void {
    if (this.#isIdle()) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /**
   * Flushes what was submitted (waiting at most `timeoutMs`), then closes the writer's connection
   * and ends the worker. What never reached the writer by then rejects with LEDGER_CLOSED; what
   * it had been sent gets its real outcome (committed, or refused and not written). Nothing is
   * ever half-written, since each request commits whole or not at all.
   */
  async close(timeoutMs: number): Promise<void> {
    const closing = LedgerError.of('LEDGER_CLOSED');
    this.#refusal ??= closing;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = await Promise.race([this.drain().then(() => true as const), deadline]);
    clearTimeout(timer);
    if (!drained) {
      // What is still on the caller's thread (queued, waiting for room, or admitted and not yet
      // submitted) is refused and never written; what the writer has gets its real outcome.
      const late = LedgerError.of('LEDGER_CLOSED', { timeoutMs }, 'not flushed before the close timeout');
      if (this.#refusal === closing) this.#refusal = late;
      this.#rejectAll(late, { unsentOnly: true });
    }
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const connection = this.#connection;
    this.#state = 'closed';
    if (connection) {
      const closed = new Promise<void>((resolve) => (this.#onClosed = resolve));
      const exited = new Promise<void>((resolve) => connection.worker.once('exit', () => resolve()));
      this.#updateRef();
      connection.port.postMessage({ kind: 'close' } satisfies ToWriter);
      // Every request sent before the close is committed or refused by the worker before it
      // closes (a group waiting on a locked file stops retrying), so its caller learns the
      // outcome. Only a worker stuck for 30 s (a hung disk) is terminated: then it is unknown.
      const finished = await Promise.race([closed.then(() => true), exited.then(() => true), sleep(WORKER_CLOSE_GRACE_MS).then(() => false)]);
      if (!finished) await connection.worker.terminate();
      this.#connection = undefined;
      connection.port.close();
      await exited;
    }
    this.#rejectAll(LedgerError.of('LEDGER_CLOSED', { outcome: 'unknown', retry: 'safe with the same eventId' }));
    this.#onClosed = undefined;
  }

  #rejectAll(error: LedgerError, { unsentOnly = false } = {}): void {
    let rejected = 0;
    for (const [id, pending] of this.#pending) {
      if (unsentOnly && pending.sent) continue;
      this.#pending.delete(id);
      rejected += pending.events.length;
      pending.reject(error);
    }
    this.#queue = this.#queue.filter((request) => this.#pending.has(request.id));
    this.#queuedEvents = this.#queue.reduce((sum, request) => sum + request.events.length, 0);
    this.admission.releaseAll(rejected);
    this.#settleIdle();
    this.#updateRef();
  }

  /** For specs: kills the worker thread as a crash would, mid-whatever it was doing. */
  crashForTesting(): Promise<number> {
    // Keep the process alive until the kill is done, even on an idle ledger.
    this.#connection?.worker.ref();
    return this.#connection?.worker.terminate() ?? Promise.resolve(0);
  }

  /** For specs: delivers `message` as if the worker had sent it. */
  receiveForTesting(message: unknown): void {
    this.#connection?.port.emit('message', message);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

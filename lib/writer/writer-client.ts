/**
 * The main-thread side of the writer: starts and supervises the worker, keeps the map of pending
 * requests, coalesces appends made in the same tick into one message, and applies backpressure.
 *
 * Supervision: if the worker dies, requests it had been sent reject with WRITER_CRASHED (their
 * outcome is unknown; a retry with the same eventId is safe), requests not yet sent wait, and a
 * new worker starts after a backoff and re-runs its startup self-verification. Too many
 * restarts in the window and the writer is `failed`: appends reject with WRITER_UNAVAILABLE.
 * @internal
 */
import { inspect } from 'node:util';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fromWire, LedgerError } from '../errors.ts';
import { workerScript } from '../runtime/worker-script.ts';
import type { AppendRequest, EncodedEvent, FromWriter, Head, LogLevel, StoredEvent, ToWriter, WriterSettings } from './protocol.ts';

export interface BackpressureSettings {
  /** Most events queued or in flight at once. */
  maxPendingAppends: number;
  /** Past the limit: wait for room, or reject with BACKPRESSURE. */
  onFull: 'wait' | 'reject';
}

export interface SupervisionSettings {
  /** Restarts allowed within `restartWindowMs` before the writer is declared failed. */
  maxRestarts: number;
  restartWindowMs: number;
}

/** What the writer tells its owner, besides outcomes. */
export interface WriterHooks {
  log(level: LogLevel, fields: Record<string, unknown>, message: string): void;
  /** The writer gave up restarting; appends now fail with WRITER_UNAVAILABLE. */
  failed(error: LedgerError): void;
}

export type WriterState = 'starting' | 'running' | 'restarting' | 'failed' | 'closed';

interface Pending {
  size: number;
  /** Posted to the current worker, so its outcome dies with that worker. */
  sent: boolean;
  resolve(events: StoredEvent[]): void;
  reject(error: Error): void;
}

interface Connection {
  worker: Worker;
  port: MessagePort;
}

const MAX_RESTART_DELAY_MS = 4_000;
/** Queued events that are posted at once instead of at the end of the tick. */
const EAGER_FLUSH_EVENTS = 128;

export class WriterClient {
  readonly #settings: WriterSettings;
  readonly #limits: BackpressureSettings;
  readonly #supervision: SupervisionSettings;
  readonly #hooks: WriterHooks;
  readonly #pending = new Map<number, Pending>();
  #connection: Connection | undefined;
  #state: WriterState = 'starting';
  #queue: AppendRequest[] = [];
  /** Events in #queue, not yet posted to the worker. */
  #queuedEvents = 0;
  #flushScheduled = false;
  #nextId = 1;
  /** Events queued or awaiting their outcome; what backpressure bounds. */
  #pendingEvents = 0;
  /** Callers waiting for room, oldest first. */
  readonly #roomWaiters = new Fifo<{ size: number; wake(reserved: boolean): void }>();
  readonly #idleWaiters: Array<() => void> = [];
  /** Why submit() refuses: set once closing or failed. */
  #refusal: LedgerError | undefined;
  #restartTimes: number[] = [];
  #restartTimer: NodeJS.Timeout | undefined;
  #onClosed: (() => void) | undefined;
  readonly stats = { appendedCount: 0, failedWriteCount: 0, lastWriteAt: undefined as Date | undefined, restarts: 0 };

  private constructor(settings: WriterSettings, limits: BackpressureSettings, supervision: SupervisionSettings, hooks: WriterHooks) {
    this.#settings = settings;
    this.#limits = limits;
    this.#supervision = supervision;
    this.#hooks = hooks;
  }

  /** Starts a supervised writer; rejects with the worker's refusal (a LedgerError) if the first start fails. */
  static async start(
    settings: WriterSettings,
    limits: BackpressureSettings,
    supervision: SupervisionSettings,
    hooks: WriterHooks,
  ): Promise<{ client: WriterClient; head: Head | null; schemaVersion: number }> {
    const client = new WriterClient(settings, limits, supervision, hooks);
    const { connection, head, schemaVersion } = await spawnWriter(settings, hooks.log);
    client.#attach(connection);
    return { client, head, schemaVersion };
  }

  get state(): WriterState {
    return this.#state;
  }

  /** Events queued or awaiting their outcome. */
  get pendingAppends(): number {
    return this.#pendingEvents;
  }

  #attach(connection: Connection): void {
    this.#connection = connection;
    this.#state = 'running';
    const { worker, port } = connection;
    port.on('message', (message: FromWriter) => {
      switch (message.kind) {
        case 'outcomes':
          for (const outcome of message.outcomes) {
            const pending = this.#pending.get(outcome.id);
            if (!pending) throw new Error(`writer answered unknown request ${outcome.id}`);
            this.#pending.delete(outcome.id);
            this.#release(pending.size);
            if (outcome.ok) {
              this.stats.appendedCount += outcome.events.length;
              this.stats.lastWriteAt = new Date();
              pending.resolve(outcome.events);
            } else {
              if (outcome.error.code === 'WRITE_FAILED') this.stats.failedWriteCount++;
              pending.reject(fromWire(outcome.error));
            }
          }
          break;
        case 'log':
          this.#hooks.log(message.level, message.fields, message.message);
          break;
        case 'closed':
          this.#onClosed?.();
          break;
        default:
          throw new Error(`unexpected message from the writer: ${inspect(message)}`);
      }
    });
    let crashed = false;
    const onCrash = (cause: Record<string, unknown>) => {
      if (crashed || this.#connection !== connection || this.#state === 'closed') return;
      crashed = true;
      this.#crashed(cause);
    };
    worker.on('error', (error) => onCrash({ cause: String(error) }));
    worker.on('exit', (exitCode) => onCrash({ exitCode }));
    this.#updateRef();
    this.#flush();
  }

  /** The worker died: what it had been sent is lost in flight; the rest waits for a new worker. */
  #crashed(cause: Record<string, unknown>): void {
    this.#connection?.port.close();
    this.#connection = undefined;
    for (const [id, pending] of this.#pending) {
      if (!pending.sent) continue;
      this.#pending.delete(id);
      this.#release(pending.size);
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
    this.#hooks.log('error', { ...cause, restartInMs: delay }, 'writer crashed; restarting');
    this.#restartTimer = setTimeout(() => void this.#restart(), delay);
    this.#updateRef();
  }

  async #restart(): Promise<void> {
    this.#restartTimer = undefined;
    this.stats.restarts++;
    try {
      const { connection, head } = await spawnWriter(this.#settings, this.#hooks.log);
      if (this.#state !== 'restarting') {
        // Closed while the new worker was starting.
        connection.port.postMessage({ kind: 'close' } satisfies ToWriter);
        return;
      }
      this.#hooks.log('info', { head, restarts: this.stats.restarts }, 'writer restarted');
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
    this.#hooks.log('fatal', { code: error.code, ...error.details }, 'writer failed; appends are refused, reads keep working');
    this.#hooks.failed(this.#refusal);
  }

  /**
   * Sends one request (one append or one batch) and resolves with what the database assigned.
   * Requests made in the same tick travel together in one message.
   */
  async submit(size: number, encode: () => EncodedEvent[], reserved = false): Promise<StoredEvent[]> {
    if (this.#refusal) throw this.#refusal;
    // `reserved`: the caller already took the room with tryReserve() or whenRoom().
    if (!reserved && !this.tryReserve(size)) {
      if (this.#limits.onFull === 'reject') {
        throw LedgerError.of('BACKPRESSURE', { pending: this.#pendingEvents, limit: this.#limits.maxPendingAppends });
      }
      if (!(await this.whenRoom(size))) {
        if (this.#refusal) throw this.#refusal;
        this.#pendingEvents += size;
      }
    }
    // Encoded only once there is room: a caller waiting for room holds its input, not its encoding.
    let events: EncodedEvent[];
    try {
      events = encode();
    } catch (error) {
      this.#release(size);
      throw error;
    }
    const id = this.#nextId++;
    const result = new Promise<StoredEvent[]>((resolve, reject) => this.#pending.set(id, { size, sent: false, resolve, reject }));
    this.#queue.push({ id, events });
    this.#queuedEvents += size;
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

  /** Reserves room for `size` events now if there is some, for a submit(..., reserved = true) to come. */
  tryReserve(size: number): boolean {
    if (this.#refusal !== undefined || !this.#hasRoom(size)) return false;
    this.#pendingEvents += size;
    return true;
  }

  /** True when a request of `size` events would wait for room now (onFull 'wait'). */
  mustWait(size: number): boolean {
    return this.#refusal === undefined && this.#limits.onFull === 'wait' && !this.#hasRoom(size);
  }

  /**
   * Waits, in order, for room for `size` events and reserves it (true); false when the waiters
   * were released without room (the writer failed, crashed or is closing): nothing is reserved.
   */
  whenRoom(size: number): Promise<boolean> {
    return new Promise((wake) => this.#roomWaiters.push({ size, wake }));
  }

  /** Gives back room reserved by whenRoom() for a request that will not be submitted. */
  unreserve(size: number): void {
    this.#release(size);
  }

  /** A request larger than the whole limit still goes through, alone, when nothing else is pending. */
  #hasRoom(size: number): boolean {
    if (this.#roomWaiters.size > 0) return false;
    return this.#pendingEvents === 0 || this.#pendingEvents + size <= this.#limits.maxPendingAppends;
  }

  #release(size: number): void {
    this.#pendingEvents -= size;
    for (let next = this.#roomWaiters.peek(); next; next = this.#roomWaiters.peek()) {
      const fits = this.#pendingEvents === 0 || this.#pendingEvents + next.size <= this.#limits.maxPendingAppends;
      if (!fits) break;
      this.#roomWaiters.shift();
      // Reserve the room now, so that callers woken in the same tick cannot all take it.
      this.#pendingEvents += next.size;
      next.wake(true);
    }
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
    const busy = this.#pendingEvents > 0 || this.#roomWaiters.size > 0 || this.#onClosed !== undefined;
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

  /** Resolves once nothing is queued, in flight or waiting for room. */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#pending.size === 0 && this.#roomWaiters.size === 0;
  }

  #settleIdle(): void {
    if (this.#isIdle()) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /**
   * Flushes what was submitted (waiting at most `timeoutMs`), then closes the writer's connection
   * and ends the worker. What could not be flushed in time rejects with LEDGER_CLOSED; nothing is
   * ever half-written, since each request commits whole or not at all.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#refusal ??= LedgerError.of('LEDGER_CLOSED');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const drained = await Promise.race([this.drain().then(() => true as const), deadline]);
    clearTimeout(timer);
    if (!drained) this.#rejectAll(LedgerError.of('LEDGER_CLOSED', { timeoutMs }, 'not flushed before the close timeout'), { unsentOnly: true });
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const connection = this.#connection;
    this.#state = 'closed';
    if (connection) {
      const closed = new Promise<void>((resolve) => (this.#onClosed = resolve));
      const exited = new Promise<void>((resolve) => connection.worker.once('exit', () => resolve()));
      this.#updateRef();
      connection.port.postMessage({ kind: 'close' } satisfies ToWriter);
      // A worker stuck past the deadline is terminated; its requests' outcome is unknown.
      const finished = await Promise.race([closed.then(() => true), exited.then(() => true), sleep(drained ? 30_000 : 1_000).then(() => false)]);
      if (!finished) await connection.worker.terminate();
      this.#connection = undefined;
      connection.port.close();
      await exited;
    }
    this.#rejectAll(LedgerError.of('LEDGER_CLOSED', { outcome: 'unknown', retry: 'safe with the same eventId' }));
    this.#onClosed = undefined;
  }

  #rejectAll(error: LedgerError, { unsentOnly = false } = {}): void {
    for (const [id, pending] of this.#pending) {
      if (unsentOnly && pending.sent) continue;
      this.#pending.delete(id);
      pending.reject(error);
    }
    this.#queue = this.#queue.filter((request) => this.#pending.has(request.id));
    this.#queuedEvents = this.#queue.reduce((sum, request) => sum + request.events.length, 0);
    this.#pendingEvents = [...this.#pending.values()].reduce((sum, pending) => sum + pending.size, 0);
    for (const waiter of this.#roomWaiters.drain()) waiter.wake(false);
    this.#settleIdle();
    this.#updateRef();
  }

  /** @internal For specs: kills the worker thread as a crash would, mid-whatever it was doing. */
  crashForTesting(): Promise<number> {
    // Keep the process alive until the kill is done, even on an idle ledger.
    this.#connection?.worker.ref();
    return this.#connection?.worker.terminate() ?? Promise.resolve(0);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** Starts a writer worker and waits for its `ready`, or rejects with its refusal. */
function spawnWriter(
  settings: WriterSettings,
  log: WriterHooks['log'],
): Promise<{ connection: Connection; head: Head | null; schemaVersion: number }> {
  const { port1, port2 } = new MessageChannel();
  const script = workerScript('writer/writer-worker');
  const worker = new Worker(script.filename, {
    workerData: { ...script.workerData, settings, port: port2 },
    transferList: [port2],
  });
  return new Promise((resolve, reject) => {
    const settle = () => {
      worker.off('error', onStartupError);
      worker.off('exit', onStartupExit);
      port1.off('message', onMessage);
    };
    const onStartupError = (error: Error) => {
      settle();
      port1.close();
      reject(error);
    };
    const onStartupExit = (code: number) => {
      // The worker answers 'failed' and exits at once: its exit can be seen before its last
      // message, which is then still queued on the port. That answer, not the exit, is the outcome.
      for (let queued = receiveMessageOnPort(port1); queued; queued = receiveMessageOnPort(port1)) {
        const message = queued.message as FromWriter;
        if (message.kind !== 'log') return onMessage(message);
        log(message.level, message.fields, message.message);
      }
      onStartupError(LedgerError.of('WRITER_CRASHED', { exitCode: code }, 'the writer exited while starting'));
    };
    const onMessage = (message: FromWriter) => {
      if (message.kind === 'log') return log(message.level, message.fields, message.message);
      settle();
      if (message.kind === 'ready') {
        resolve({ connection: { worker, port: port1 }, head: message.head, schemaVersion: message.schemaVersion });
      } else if (message.kind === 'failed') {
        port1.close();
        reject(fromWire(message.error));
      } else {
        void worker.terminate();
        reject(new Error(`writer sent ${inspect(message)} before ready`));
      }
    };
    worker.on('error', onStartupError);
    worker.on('exit', onStartupExit);
    port1.on('message', onMessage);
  });
}

/**
 * First in, first out, with a constant-time shift. Array#shift moves every element: with a
 * million callers waiting for room it made waking each of them quadratic.
 */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    // Drop the consumed front once it is most of the array, so memory follows the waiters.
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Empties the queue, returning what it held in order. */
  drain(): T[] {
    const items = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    return items;
  }
}

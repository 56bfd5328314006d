/**
 * The main-thread side of the writer: starts the worker, keeps the map of pending requests,
 * coalesces appends made in the same tick into one message, and applies backpressure.
 * @internal
 */
import { inspect } from 'node:util';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { fromWire, LedgerError } from '../errors.ts';
import { workerScript } from '../worker-script.ts';
import type { AppendRequest, EncodedEvent, FromWriter, Head, StoredEvent, ToWriter, WriterSettings } from './protocol.ts';

export interface BackpressureSettings {
  /** Most events queued or in flight at once. */
  maxPendingAppends: number;
  /** Past the limit: wait for room, or reject with BACKPRESSURE. */
  onFull: 'wait' | 'reject';
}

interface Pending {
  size: number;
  resolve(events: StoredEvent[]): void;
  reject(error: Error): void;
}

export class WriterClient {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #limits: BackpressureSettings;
  readonly #pending = new Map<number, Pending>();
  #queue: AppendRequest[] = [];
  #flushScheduled = false;
  #nextId = 1;
  /** Events queued or awaiting their outcome; what backpressure bounds. */
  #pendingEvents = 0;
  /** Callers waiting for room, oldest first. */
  readonly #roomWaiters: Array<{ size: number; wake(): void }> = [];
  readonly #idleWaiters: Array<() => void> = [];
  #stopped: LedgerError | undefined;
  #onClosed: (() => void) | undefined;

  private constructor(worker: Worker, port: MessagePort, limits: BackpressureSettings) {
    this.#worker = worker;
    this.#port = port;
    this.#limits = limits;
  }

  /** Starts a writer worker and waits for its `ready` (or its refusal, as a LedgerError). */
  static start(
    settings: WriterSettings,
    limits: BackpressureSettings,
  ): Promise<{ client: WriterClient; head: Head | null; schemaVersion: number }> {
    const { port1, port2 } = new MessageChannel();
    const script = workerScript('writer/writer-worker');
    const worker = new Worker(script.filename, {
      workerData: { ...script.workerData, settings, port: port2 },
      transferList: [port2],
    });
    const client = new WriterClient(worker, port1, limits);
    return new Promise((resolve, reject) => {
      const onStartupError = (error: Error) => {
        port1.close();
        reject(error);
      };
      const onStartupExit = (code: number) =>
        onStartupError(LedgerError.of('WRITER_CRASHED', { exitCode: code }, 'the writer exited while starting'));
      worker.once('error', onStartupError);
      worker.once('exit', onStartupExit);
      port1.once('message', (message: FromWriter) => {
        worker.off('error', onStartupError);
        worker.off('exit', onStartupExit);
        if (message.kind === 'ready') {
          client.#listen();
          resolve({ client, head: message.head, schemaVersion: message.schemaVersion });
        } else if (message.kind === 'failed') {
          port1.close();
          reject(fromWire(message.error));
        } else {
          worker.terminate();
          reject(new Error(`writer sent ${inspect(message)} before ready`));
        }
      });
    });
  }

  #listen(): void {
    this.#port.on('message', (message: FromWriter) => {
      switch (message.kind) {
        case 'outcomes':
          for (const outcome of message.outcomes) {
            const pending = this.#pending.get(outcome.id);
            if (!pending) throw new Error(`writer answered unknown request ${outcome.id}`);
            this.#pending.delete(outcome.id);
            this.#release(pending.size);
            if (outcome.ok) pending.resolve(outcome.events);
            else pending.reject(fromWire(outcome.error));
          }
          break;
        case 'closed':
          this.#onClosed?.();
          break;
        default:
          throw new Error(`unexpected message from the writer: ${inspect(message)}`);
      }
    });
    this.#worker.on('error', (error) => this.#fail(LedgerError.of('WRITER_CRASHED', { cause: String(error) })));
    this.#worker.on('exit', (exitCode) => {
      if (!this.#stopped) this.#fail(LedgerError.of('WRITER_CRASHED', { exitCode }));
    });
    this.#updateRef();
  }

  /** Events queued or awaiting their outcome. */
  get pendingAppends(): number {
    return this.#pendingEvents;
  }

  /**
   * Sends one request (one append or one batch) and resolves with what the database assigned.
   * Requests made in the same tick travel together in one message.
   */
  async submit(events: EncodedEvent[]): Promise<StoredEvent[]> {
    if (this.#stopped) throw this.#stopped;
    const size = events.length;
    if (!this.#hasRoom(size)) {
      if (this.#limits.onFull === 'reject') {
        throw LedgerError.of('BACKPRESSURE', { pending: this.#pendingEvents, limit: this.#limits.maxPendingAppends });
      }
      // #release reserves the room before it wakes us.
      await new Promise<void>((wake) => this.#roomWaiters.push({ size, wake }));
      if (this.#stopped) throw this.#stopped;
    } else {
      this.#pendingEvents += size;
    }
    const id = this.#nextId++;
    const result = new Promise<StoredEvent[]>((resolve, reject) => this.#pending.set(id, { size, resolve, reject }));
    this.#queue.push({ id, events });
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flush);
    }
    this.#updateRef();
    return result;
  }

  /** A request larger than the whole limit still goes through, alone, when nothing else is pending. */
  #hasRoom(size: number): boolean {
    if (this.#roomWaiters.length > 0) return false;
    return this.#pendingEvents === 0 || this.#pendingEvents + size <= this.#limits.maxPendingAppends;
  }

  #release(size: number): void {
    this.#pendingEvents -= size;
    while (this.#roomWaiters.length > 0) {
      const next = this.#roomWaiters[0]!;
      const fits = this.#pendingEvents === 0 || this.#pendingEvents + next.size <= this.#limits.maxPendingAppends;
      if (!fits) break;
      this.#roomWaiters.shift();
      // Reserve the room now, so that callers woken in the same tick cannot all take it.
      this.#pendingEvents += next.size;
      next.wake();
    }
    this.#settleIdle();
    this.#updateRef();
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    if (this.#queue.length === 0) return;
    const message: ToWriter = { kind: 'append', requests: this.#queue };
    this.#queue = [];
    this.#port.postMessage(message);
  };

  /** Keeps the process alive only while work is pending, like a socket with requests in flight. */
  #updateRef(): void {
    if (this.#pendingEvents > 0 || this.#roomWaiters.length > 0 || this.#onClosed) {
      this.#worker.ref();
      this.#port.ref();
    } else {
      this.#worker.unref();
      this.#port.unref();
    }
  }

  /** Resolves once nothing is queued, in flight or waiting for room. */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #isIdle(): boolean {
    return this.#pending.size === 0 && this.#roomWaiters.length === 0;
  }

  #settleIdle(): void {
    if (this.#isIdle()) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** Flushes what was submitted, then closes the writer's connection and ends the worker. */
  async close(): Promise<void> {
    await this.drain();
    if (this.#stopped) return;
    this.#stopped = LedgerError.of('LEDGER_CLOSED');
    const closed = new Promise<void>((resolve) => (this.#onClosed = resolve));
    this.#updateRef();
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#port.postMessage({ kind: 'close' } satisfies ToWriter);
    await closed;
    this.#port.close();
    await exited;
  }

  /** The worker died: every pending request's outcome is unknown. */
  #fail(error: LedgerError): void {
    this.#stopped ??= error;
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      pending.reject(
        LedgerError.of('WRITER_CRASHED', { ...error.details, outcome: 'unknown', retry: 'safe with the same eventId' }),
      );
    }
    this.#queue = [];
    this.#pendingEvents = 0;
    for (const waiter of this.#roomWaiters.splice(0)) waiter.wake();
    this.#settleIdle();
    this.#onClosed?.();
    this.#updateRef();
  }
}

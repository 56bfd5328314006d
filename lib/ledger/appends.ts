/**
 * The append path on the caller's thread: take room, validate, encode, submit, acknowledge.
 * Room is taken in the caller's tick: past `maxPendingAppends` a caller waits holding only its
 * input and one promise (validation and encoding come once there is room), so even a million
 * calls made in one loop stay small.
 * @internal
 */
import { publishDiagnostic } from '../diagnostics.ts';
import { atCallSite, callSite, LedgerError } from '../errors.ts';
import type { AppendInput, AppendResult } from '../event.ts';
import { encodeInput, type EncodedEvent } from '../format/event-encoding.ts';
import { validatePayload } from '../format/payload-schema.ts';
import type { LogLevel, ResolvedOptions } from '../options.ts';
import type { StoredEvent } from '../writer/protocol.ts';
import type { Waiter } from '../writer/admission.ts';
import type { WriterClient } from '../writer/writer-client.ts';
import type { LedgerReader } from './reader.ts';
import { SignatureChecks } from './signature-checks.ts';
import type { AppendBatchOptions, ClockDriftWarning } from './ledger-types.ts';

/** One batch is one transaction and one message to the writer: bulk imports come in several. */
export const MAX_BATCH_EVENTS = 100_000;

/** What the append path needs of its ledger. */
export interface AppendContext {
  readonly path: string;
  readonly reader: LedgerReader;
  readonly options: ResolvedOptions;
  /** Absent when opened with `readonly: true`, or degraded. */
  readonly writer: WriterClient | undefined;
  /** Why there is no writer although one was asked for (allowDegraded). */
  readonly degradedBy: LedgerError | undefined;
  /** LEDGER_CLOSED once the ledger is closing. */
  assertOpen(): void;
  log(level: LogLevel, fields: Record<string, unknown>, message: string): void;
  warn(warning: ClockDriftWarning): void;
  /** What follows a commit before its caller hears of it (subscribers, sync replicas). */
  afterCommit(last: AppendResult): Promise<void> | undefined;
}

/** The append path of a caller woken from the wait for room. */
type WokenAppend = (input: AppendInput, admitted: boolean) => Promise<AppendResult>;

/**
 * One append() waiting for room: its input and the settling of its caller's promise, and nothing
 * else (no closure, no stack), since a loop may park a million of them.
 */
class ParkedAppend implements Waiter {
  readonly size = 1;
  readonly #append: WokenAppend;
  readonly #input: AppendInput;
  readonly #resolve: (result: AppendResult) => void;
  readonly #reject: (error: unknown) => void;

  constructor(append: WokenAppend, input: AppendInput, resolve: (result: AppendResult) => void, reject: (error: unknown) => void) {
    this.#append = append;
    this.#input = input;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  wake(admitted: boolean): void {
    this.#append(this.#input, admitted).then(this.#resolve, this.#reject);
  }
}

export class Appends {
  readonly #context: AppendContext;
  /** Appends accepted by an open ledger that have not reached the writer yet; close() waits for them. */
  readonly #entering = new Set<Promise<unknown>>();
  readonly #signatures: SignatureChecks;

  constructor(context: AppendContext) {
    this.#context = context;
    this.#signatures = new SignatureChecks((agentId) => context.reader.activeSigningKeys(agentId));
  }

  /** Settles once every append that entered before the call has reached the writer or failed. */
  entered(): Promise<unknown> {
    return Promise.allSettled(this.#entering);
  }

  append(input: AppendInput): Promise<AppendResult> {
    // Open or closing is decided when the app calls: an append made before close() that waits for
    // room may use close's timeout (admitted then, it is written); one made after it is refused.
    try {
      this.#context.assertOpen();
    } catch (error) {
      return this.#logged(1, () => Promise.reject(error));
    }
    const room = this.#room(1);
    // Where the app called: an error from the writer thread gets this stack (errors.ts atCallSite).
    if (room !== 'full') return this.#append(input, room, callSite(this.append));
    // A caller waiting for room holds only its input and its own promise: a captured stack is most
    // of what a call would hold (a million waiting calls, over a gigabyte). Its errors from the
    // writer thread carry the stack of its wake-up instead, the writer's error as their cause.
    const admission = this.#context.writer!.admission;
    return new Promise((resolve, reject) => admission.park(new ParkedAppend(this.#wokenAppend, input, resolve, reject)));
  }

  /** {@link #append} for a caller woken from the wait for room, bound once for every ParkedAppend. */
  readonly #wokenAppend: WokenAppend = (input, admitted) => this.#append(input, admitted, undefined);

  #append(input: AppendInput, room: boolean | LedgerError, site: Error | undefined): Promise<AppendResult> {
    return this.#logged(1, async () => {
      let events: EncodedEvent[];
      try {
        const writer = this.#writerOrThrow();
        // An input the ledger would refuse anyway says so before backpressure or a closing writer does.
        // Awaited only for an async schema: submitting in the caller's tick keeps appends, and
        // Stele's own events made after them, in the order they were made.
        const validated = this.#validate([input]);
        if (validated) await validated;
        if (room !== true) throw room === false ? (writer.refusal ?? LedgerError.of('LEDGER_CLOSED')) : room;
        events = [encodeInput(input, undefined, this.#context.options.maxEventBytes)];
      } catch (error) {
        if (room === true) this.#context.writer!.release(1);
        throw error;
      }
      const checked = this.#signatures.attach(events);
      if (checked) await checked;
      const submitted = this.#context.writer!.submit(events);
      const [stored] = await (site ? submitted.catch((error: unknown) => Promise.reject(atCallSite(error, site))) : submitted);
      return this.#acknowledge(stored!);
    });
  }

  appendBatch(inputs: AppendInput[], options: AppendBatchOptions): Promise<AppendResult[]> {
    const site = callSite(this.appendBatch);
    return this.#logged(Array.isArray(inputs) ? inputs.length : 0, async () => {
      this.#context.assertOpen();
      if (!Array.isArray(inputs)) throw new TypeError(`appendBatch takes an array of events, got ${typeof inputs}`);
      if (inputs.length > MAX_BATCH_EVENTS) {
        throw new RangeError(`appendBatch takes at most ${MAX_BATCH_EVENTS} events (one transaction); got ${inputs.length}: split it`);
      }
      if (typeof options !== 'object' || options === null) throw new TypeError('appendBatch options must be an object');
      this.#writerOrThrow();
      if (inputs.length === 0) return [];
      const validated = this.#validate(inputs);
      if (validated) await validated;
      const maxEventBytes = this.#context.options.maxEventBytes;
      // Array.from visits holes too (as undefined, refused with their index): map would skip them.
      const events: EncodedEvent[] = Array.from(inputs, (input, index) => {
        const withDefaults =
          index === 0 && options.expectedVersion !== undefined && input?.expectedVersion === undefined
            ? { ...input, expectedVersion: options.expectedVersion }
            : input;
        const stream = options.streamId !== undefined && input?.streamId === undefined ? { ...withDefaults, streamId: options.streamId } : withDefaults;
        return encodeInput(stream, index, maxEventBytes);
      });
      const ids = new Set<string>();
      for (const [index, event] of events.entries()) {
        if (ids.has(event.eventId)) {
          throw LedgerError.of('DUPLICATE_EVENT_ID', { eventId: event.eventId, index }, 'the same eventId appears twice in one batch');
        }
        ids.add(event.eventId);
      }
      const stored = await this.#submitEncoded(events, site);
      return stored.map((event) => this.#acknowledge(event));
    });
  }


  /** One of Stele's own events ($agents, $halt), built on an open ledger: no taxonomy check, no payload schema. */
  async appendSystem(build: () => EncodedEvent): Promise<AppendResult> {
    this.#context.assertOpen();
    const [stored] = await this.#submitEncoded([build()], callSite(this.appendSystem));
    const result = this.#acknowledge(stored!);
    await this.#context.afterCommit(result);
    return result;
  }

  /** The writer, or WRITER_UNAVAILABLE for a read-only or degraded ledger. */
  #writerOrThrow(): WriterClient {
    const { writer, degradedBy, path } = this.#context;
    if (writer) return writer;
    if (degradedBy) throw LedgerError.of('WRITER_UNAVAILABLE', { path, degraded: true, cause: degradedBy.code }, 'opened degraded');
    throw LedgerError.of('WRITER_UNAVAILABLE', { path, readonly: true }, 'opened with readonly: true');
  }

  /** Room for `size` events, taken in the caller's tick: true, 'full' (park the caller), or why there is none. */
  #room(size: number): boolean | LedgerError | 'full' {
    const writer = this.#context.writer;
    if (!writer) return false;
    if (writer.refusal) return writer.refusal;
    try {
      return writer.admission.tryAdmit(size) || 'full';
    } catch (error) {
      return error as LedgerError;
    }
  }

  /**
   * Takes room for already encoded events (waiting for it if need be), then submits them, after
   * the signature checks of events made before them (Stele's own events included: a revocation
   * must not overtake the signed events made before it). The ledger was open when the batch was
   * made; a close() since then leaves it its timeout.
   */
  async #submitEncoded(events: EncodedEvent[], site: Error): Promise<StoredEvent[]> {
    const writer = this.#writerOrThrow();
    // Awaited only when there is something to wait for: an extra tick would let later appends overtake.
    const checked = this.#signatures.attach(events);
    if (checked) await checked;
    let room = this.#room(events.length);
    if (room === 'full') room = await new Promise<boolean>((wake) => writer.admission.park({ size: events.length, wake }));
    if (room !== true) throw room === false ? (writer.refusal ?? LedgerError.of('LEDGER_CLOSED')) : room;
    return writer.submit(events).catch((error: unknown) => Promise.reject(atCallSite(error, site)));
  }

  /**
   * Validates inputs on the caller's thread: a closed taxonomy knows the type, and the type's
   * schema accepts the payload. The trigger checks the type again; schemas are checked only here.
   */
  #validate(inputs: AppendInput[]): void | Promise<void[]> {
    const types = this.#context.options.eventTypes;
    if (!types) return;
    let pending: Promise<void>[] | undefined;
    inputs.forEach((input, index) => {
      // A malformed input is left to encodeInput, which names the field.
      if (typeof input !== 'object' || input === null || typeof input.type !== 'string') return;
      const at = inputs.length > 1 ? index : undefined;
      if (!Object.hasOwn(types, input.type)) {
        throw LedgerError.of('UNKNOWN_EVENT_TYPE', { ...(at === undefined ? {} : { index: at }), type: input.type });
      }
      const schema = types[input.type]!;
      if (schema === true) return;
      const result = validatePayload(schema, input.type, input.payload, at);
      if (result) (pending ??= []).push(result);
    });
    if (pending) return Promise.all(pending);
  }

  /** Logs (and publishes on `stele:append*`) the outcome of a request of `events` events, then passes it on. */
  async #logged<T extends AppendResult | AppendResult[]>(events: number, work: () => Promise<T>): Promise<T> {
    const context = this.#context;
    const started = performance.now();
    try {
      const result = await this.#enter(work);
      const all: AppendResult[] = Array.isArray(result) ? result : [result];
      const last = all.at(-1);
      const replicated = last && context.afterCommit(last);
      if (replicated) await replicated;
      if (context.options.logger) {
        for (const r of all) context.log('debug', { eventId: r.eventId, sequence: r.sequence }, 'appended');
      }
      if (last) {
        publishDiagnostic('stele:append', () => ({
          path: context.path, events: all.length, firstSequence: all[0]!.sequence, lastSequence: last.sequence, durationMs: performance.now() - started,
        }));
      }
      return result;
    } catch (error) {
      publishDiagnostic('stele:append:error', () => ({
        path: context.path, events, code: error instanceof LedgerError ? error.code : undefined, error, durationMs: performance.now() - started,
      }));
      if (context.options.logger) {
        const fields = error instanceof LedgerError ? { code: error.code, ...error.details } : { error: String(error) };
        context.log(error instanceof LedgerError && error.code === 'WRITER_INCONSISTENCY' ? 'fatal' : 'warn', fields, 'append refused');
      }
      throw error;
    }
  }

  #enter<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.#entering.add(running);
    const done = () => this.#entering.delete(running);
    running.then(done, done);
    return running;
  }

  #acknowledge(stored: StoredEvent): AppendResult {
    const driftMs = stored.authorityTimestamp - stored.localTimestamp;
    const thresholdMs = this.#context.options.driftThresholdMs;
    // Same rule as the events_clock_drift trigger, which has already recorded the warning row.
    if (Math.abs(driftMs) > thresholdMs) {
      this.#context.log('warn', { sequence: stored.sequence, eventId: stored.eventId, driftMs }, 'clock drift');
      this.#context.warn({ kind: 'clock_drift', sequence: stored.sequence, eventId: stored.eventId, driftMs, thresholdMs });
    }
    return {
      ...stored,
      authorityTimestamp: new Date(stored.authorityTimestamp),
      localTimestamp: new Date(stored.localTimestamp),
    };
  }
}

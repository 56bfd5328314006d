/**
 * The public facade: {@link openLedger} and {@link Ledger}. Appends travel to the writer worker;
 * reads run synchronously on a read-only connection of the caller's thread.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { describeValue, LedgerError } from '../errors.ts';
import { createHash } from 'node:crypto';
import { DEFAULT_STREAM, type AppendInput, type AppendResult, type ExpectedVersion, type LedgerEvent, type LedgerHead } from '../event.ts';
import { encodeInput, systemEvent } from '../format/event-encoding.ts';
import { resolveOptions, type LedgerOptions, type Logger, type ResolvedOptions } from '../options.ts';
import { LedgerReader } from './reader.ts';
import { checkWitnesses, type WitnessSignature } from '../format/signing.ts';
import { validatePayload } from '../format/payload-schema.ts';
import { SubscriptionHub, type SubscribeOptions, type Subscription, type SubscriptionHandler, type SubscriptionStream } from './subscription.ts';
import { verifyLedgerFile, type VerifyOptions, type VerifyResult } from '../verify/verify-ledger-file.ts';
import type { LogLevel } from '../writer/protocol.ts';
import type { EncodedEvent, StoredEvent } from '../writer/protocol.ts';
import { WriterClient } from '../writer/writer-client.ts';
import { Replication, type ReplicaHealth } from '../replication/replica-set.ts';
import type { ReplicationReceipt, VerificationResult } from '../replication/replicator.ts';

/**
 * Options of {@link Ledger.appendBatch}.
 *
 * @example
 * ```ts
 * const options: AppendBatchOptions = { streamId: 'cart-7', expectedVersion: 'no_stream' };
 * await ledger.appendBatch([{ type: 'item_added', payload: { sku: 'A' } }, { type: 'checked_out' }], options);
 * ```
 */
export interface AppendBatchOptions {
  /** Stream of every input that names none. */
  streamId?: string;
  /** Checked against the batch's first event, before anything of the batch is written. */
  expectedVersion?: ExpectedVersion;
}

/**
 * Options of {@link Ledger.readAll}.
 *
 * @example
 * ```ts
 * const next = ledger.readAll({ from: lastSeen + 1, limit: 500 });
 * ```
 */
export interface ReadAllOptions {
  /** First sequence to return (default 1). */
  from?: number;
  /** Most events to return (default: all). */
  limit?: number;
}

/**
 * Options of {@link Ledger.readStream}.
 *
 * @example
 * ```ts
 * // The account's history after the snapshot taken at version 40.
 * const recent = ledger.readStream('acct-1', { fromVersion: 41, limit: 100 });
 * ```
 */
export interface ReadStreamOptions {
  /** First stream version to return (default 0). */
  fromVersion?: number;
  /** Most events to return (default: all). */
  limit?: number;
}

/**
 * A clock drift warning, emitted as `'warning'` after the event was accepted.
 *
 * @example
 * ```ts
 * ledger.on('warning', (w) => {
 *   if (w.kind === 'clock_drift') console.warn(`#${w.sequence} drifted ${w.driftMs} ms (threshold ${w.thresholdMs} ms)`);
 * });
 * ```
 */
export interface ClockDriftWarning {
  kind: 'clock_drift';
  sequence: number;
  eventId: string;
  driftMs: number;
  thresholdMs: number;
}

/**
 * Whether the ledger is halted, since when and why.
 *
 * @example
 * ```ts
 * const { halted, reason, at, sequence } = ledger.haltState();
 * if (halted) console.error(`halted at #${sequence} since ${at?.toISOString()}: ${reason}`);
 * ```
 */
export interface HaltState {
  halted: boolean;
  /** Reason given to the current halt (or to the ceremony that cleared the last one). */
  reason: string | undefined;
  /** Authority time of the newest halt or clearing event. */
  at: Date | undefined;
  /** Sequence of the newest halt or clearing event. */
  sequence: number | undefined;
  /** The current halt's place in the chain, which witnesses sign to clear it; undefined when not halted. */
  halt: { sequence: number; contentHash: string } | undefined;
}

/**
 * Options of {@link Ledger.registerAgentKey}.
 *
 * @example
 * ```ts
 * await ledger.registerAgentKey('alice', alice.publicKey, { keyId: 'alice-2026', role: 'witness' });
 * ```
 */
export interface RegisterAgentKeyOptions {
  /** Names this key among the agent's keys; defaults to a fingerprint of the public key. */
  keyId?: string;
  /** `'agent'` (default) signs events; `'witness'` signs ceremonies such as clearing a halt. */
  role?: 'agent' | 'witness';
}

/**
 * Emitted as `'warning'` when `allowDegraded` opened a ledger whose writer could not start.
 *
 * @example
 * ```ts
 * const ledger = await openLedger('audit.db', { allowDegraded: true });
 * ledger.on('warning', (w) => {
 *   if (w.kind === 'degraded') console.error('reads only: the writer failed with', w.code, w.details);
 * });
 * ```
 */
export interface DegradedWarning {
  kind: 'degraded';
  code: string;
  details: Readonly<Record<string, unknown>>;
}

/**
 * Emitted as `'warning'` when a replica failed to confirm; `health().replicas` keeps its state.
 *
 * @example
 * ```ts
 * ledger.on('warning', (w) => {
 *   if (w.kind === 'replication') console.error(`replica ${w.replicaId} confirmed only up to #${w.sequence}`, w.error?.code);
 * });
 * ```
 */
export interface ReplicationWarning {
  kind: 'replication';
  replicaId: string;
  /** The replica's confirmed head. */
  sequence: number;
  error: LedgerError | undefined;
}

/**
 * Events a {@link Ledger} emits.
 *
 * @example
 * ```ts
 * ledger.on('warning', (warning) => console.warn(warning.kind, warning));
 * ledger.on('error', (error) => console.error('the writer stopped restarting', error.code));
 * ```
 */
export interface LedgerEvents {
  warning: [ClockDriftWarning | DegradedWarning | ReplicationWarning];
  /** The writer crashed more than `maxRestarts` times in `restartWindowMs` and is not restarted. */
  error: [LedgerError];
}

/**
 * What {@link Ledger.health} reports.
 *
 * @example
 * ```ts
 * app.get('/health', (req, res) => {
 *   const h = ledger.health();
 *   res.status(h.writer === 'running' && !h.halted ? 200 : 503).json(h);
 * });
 * ```
 */
export interface LedgerHealth {
  writer: 'starting' | 'running' | 'restarting' | 'failed' | 'closed';
  /** Reads work but appends do not: the writer could not start or gave up restarting. */
  degraded: boolean;
  halted: boolean;
  /** Highest sequence; undefined once closed. */
  headSequence: number | undefined;
  lastWriteAt: Date | undefined;
  /** Events appended through this ledger object. */
  appendedCount: number;
  /** Requests that failed with WRITE_FAILED. */
  failedWriteCount: number;
  pendingAppends: number;
  restarts: number;
  /** Each replica's confirmed sequence, lag and last outcome (empty without replicas). */
  replicas: ReplicaHealth[];
}

/**
 * An open ledger file. Create one with {@link openLedger}.
 *
 * @example
 * ```ts
 * const ledger = await openLedger('audit.db');
 * const { sequence } = await ledger.append({ type: 'user_login', payload: { user: 'ada' } });
 * console.log(ledger.get(sequence)?.payload); // { user: 'ada' }
 * await ledger.close();
 * ```
 */
export class Ledger extends EventEmitter<LedgerEvents> {
  readonly #path: string;
  readonly #options: ResolvedOptions;
  /** Absent when opened with `readonly: true`. */
  readonly #writer: WriterClient | undefined;
  readonly #reader: LedgerReader;
  /** Why there is no writer although one was asked for (allowDegraded). */
  readonly #degradedBy: LedgerError | undefined;
  readonly #replication: Replication;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link openLedger}. */
  constructor(
    path: string,
    options: ResolvedOptions,
    writer: WriterClient | undefined,
    reader: LedgerReader,
    degradedBy?: LedgerError,
  ) {
    super();
    this.#path = path;
    this.#options = options;
    this.#writer = writer;
    this.#reader = reader;
    this.#degradedBy = degradedBy;
    this.#replication = new Replication(options.replicas, options.replication, (receipt) => {
      this.log('warn', { replicaId: receipt.replicaId, sequence: receipt.sequence, code: receipt.error?.code }, 'replica did not confirm');
      this.emit('warning', { kind: 'replication', replicaId: receipt.replicaId, sequence: receipt.sequence, error: receipt.error });
    });
  }

  /** Absolute path of the ledger file. */
  get path(): string {
    return this.#path;
  }

  /** Events queued or in flight to the writer. */
  get pendingAppends(): number {
    return this.#writer?.pendingAppends ?? 0;
  }

  /** True when opened with `readonly: true`: reads only, no writer. */
  get readonly(): boolean {
    return this.#writer === undefined;
  }

  /** The writer, or WRITER_UNAVAILABLE for a read-only or degraded ledger. */
  #writerOrThrow(): WriterClient {
    if (this.#writer) return this.#writer;
    if (this.#degradedBy) {
      throw LedgerError.of('WRITER_UNAVAILABLE', { path: this.#path, degraded: true, cause: this.#degradedBy.code }, 'opened degraded');
    }
    throw LedgerError.of('WRITER_UNAVAILABLE', { path: this.#path, readonly: true }, 'opened with readonly: true');
  }

  /** @internal */
  log(level: LogLevel, fields: Record<string, unknown>, message: string): void {
    safeLog(this.#options.logger, level, fields, message);
  }

  /**
   * The ledger's condition, for a health endpoint or a status bar.
   *
   * @example
   * ```ts
   * const h = ledger.health();
   * if (h.degraded || h.halted || h.writer !== 'running') alertOps(h);
   * ```
   */
  health(): LedgerHealth {
    const writer = this.#writer;
    const halted = this.#closing ? false : this.#reader.haltState().halted;
    return {
      writer: this.#closing ? 'closed' : writer ? writer.state : this.#degradedBy ? 'failed' : 'closed',
      degraded: this.#degradedBy !== undefined || writer?.state === 'failed',
      halted,
      headSequence: this.#closing ? undefined : this.#reader.head()?.sequence ?? 0,
      lastWriteAt: writer?.stats.lastWriteAt,
      appendedCount: writer?.stats.appendedCount ?? 0,
      failedWriteCount: writer?.stats.failedWriteCount ?? 0,
      pendingAppends: writer?.pendingAppends ?? 0,
      restarts: writer?.stats.restarts ?? 0,
      replicas: this.#closing ? [] : this.#replication.health(this.#reader.head()?.sequence ?? 0),
    };
  }

  /**
   * Validates inputs on the caller's thread: a closed taxonomy knows the type, and the type's
   * schema accepts the payload. The trigger checks the type again; schemas are checked only here.
   */
  #validate(inputs: AppendInput[]): void | Promise<void[]> {
    const types = this.#options.eventTypes;
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

  /** Appends accepted by an open ledger that have not reached the writer yet; close() waits for them. */
  readonly #entering = new Set<Promise<unknown>>();

  #enter<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.#entering.add(running);
    const done = () => this.#entering.delete(running);
    running.then(done, done);
    return running;
  }

  /** Logs the outcome of an append request, successful or not, then passes it on. */
  async #logged<T extends AppendResult | AppendResult[]>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await this.#enter(work);
      const replicated = this.#afterCommit(result);
      if (replicated) await replicated;
      if (this.#options.logger) {
        for (const r of Array.isArray(result) ? result : [result]) this.log('debug', { eventId: r.eventId, sequence: r.sequence }, 'appended');
      }
      return result;
    } catch (error) {
      if (this.#options.logger) {
        const fields = error instanceof LedgerError ? { code: error.code, ...error.details } : { error: String(error) };
        this.log(error instanceof LedgerError && error.code === 'WRITER_INCONSISTENCY' ? 'fatal' : 'warn', fields, 'append refused');
      }
      throw error;
    }
  }

  /**
   * Appends one event. Resolves once it is committed (at the configured durability) and visible
   * to every read of this ledger; rejects with a {@link LedgerError} and writes nothing otherwise.
   *
   * @example
   * ```ts
   * const r = await ledger.append({ type: 'deposited', streamId: 'acct-1', payload: { cents: 500n } });
   * r.sequence; r.streamVersion; r.contentHash;
   * ```
   */
  append(input: AppendInput): Promise<AppendResult> {
    const writer = this.#writer;
    // Room is taken in the caller's tick: past maxPendingAppends a caller waits holding only its
    // input and one promise (validation and encoding come once there is room), so even a million
    // calls made in one loop stay small.
    if (writer?.tryReserve(1)) return this.#append(input, true);
    if (writer?.mustWait(1)) return writer.whenRoom(1).then((reserved) => this.#append(input, reserved));
    return this.#append(input, false);
  }

  #append(input: AppendInput, reserved: boolean): Promise<AppendResult> {
    return this.#logged(async () => {
      const writer = this.#writer;
      try {
        this.#assertOpen();
        this.#writerOrThrow();
        await this.#validate([input]);
      } catch (error) {
        if (reserved) writer?.unreserve(1);
        throw error;
      }
      const [stored] = await writer!.submit(1, () => [encodeInput(input, undefined, this.#options.maxEventBytes)], reserved);
      return this.#acknowledge(stored!);
    });
  }

  /**
   * Appends several events atomically: all commit, in order and with consecutive sequences, or
   * none does. Duplicate event ids inside one batch fail the whole batch. A batch is one
   * transaction: at most 100,000 events (RangeError beyond; split bulk imports).
   *
   * @example
   * ```ts
   * await ledger.appendBatch(
   *   [{ type: 'item_added', payload: { sku: 'A' } }, { type: 'item_added', payload: { sku: 'B' } }],
   *   { streamId: 'cart-7', expectedVersion: 'no_stream' },
   * );
   * ```
   */
  appendBatch(inputs: AppendInput[], options: AppendBatchOptions = {}): Promise<AppendResult[]> {
    return this.#logged(() => this.#appendBatch(inputs, options));
  }

  async #appendBatch(inputs: AppendInput[], options: AppendBatchOptions): Promise<AppendResult[]> {
    this.#assertOpen();
    if (!Array.isArray(inputs)) throw new TypeError(`appendBatch takes an array of events, got ${typeof inputs}`);
    if (inputs.length > MAX_BATCH_EVENTS) {
      throw new RangeError(`appendBatch takes at most ${MAX_BATCH_EVENTS} events (one transaction); got ${inputs.length}: split it`);
    }
    if (typeof options !== 'object' || options === null) throw new TypeError('appendBatch options must be an object');
    const writer = this.#writerOrThrow();
    if (inputs.length === 0) return [];
    await this.#validate(inputs);
    // Array.from visits holes too (as undefined, refused with their index): map would skip them.
    const events: EncodedEvent[] = Array.from(inputs, (input, index) => {
      const withDefaults =
        index === 0 && options.expectedVersion !== undefined && input?.expectedVersion === undefined
          ? { ...input, expectedVersion: options.expectedVersion }
          : input;
      const stream = options.streamId !== undefined && input?.streamId === undefined ? { ...withDefaults, streamId: options.streamId } : withDefaults;
      return encodeInput(stream, index, this.#options.maxEventBytes);
    });
    const ids = new Set<string>();
    for (const [index, event] of events.entries()) {
      if (ids.has(event.eventId)) {
        throw LedgerError.of('DUPLICATE_EVENT_ID', { eventId: event.eventId, index }, 'the same eventId appears twice in one batch');
      }
      ids.add(event.eventId);
    }
    const stored = await writer.submit(events.length, () => events);
    return stored.map((event) => this.#acknowledge(event));
  }

  #acknowledge(stored: StoredEvent): AppendResult {
    const driftMs = stored.authorityTimestamp - stored.localTimestamp;
    // Same rule as the events_clock_drift trigger, which has already recorded the warning row.
    if (Math.abs(driftMs) > this.#options.driftThresholdMs) {
      this.log('warn', { sequence: stored.sequence, eventId: stored.eventId, driftMs }, 'clock drift');
      this.emit('warning', {
        kind: 'clock_drift',
        sequence: stored.sequence,
        eventId: stored.eventId,
        driftMs,
        thresholdMs: this.#options.driftThresholdMs,
      });
    }
    return {
      ...stored,
      authorityTimestamp: new Date(stored.authorityTimestamp),
      localTimestamp: new Date(stored.localTimestamp),
    };
  }

  /** The event at `sequence`, or undefined. */
  get(sequence: number): LedgerEvent | undefined {
    this.#assertOpen();
    return this.#reader.get(requireInteger('sequence', sequence, 1));
  }

  /** The event with this id, or undefined. */
  getByEventId(eventId: string): LedgerEvent | undefined {
    this.#assertOpen();
    if (typeof eventId !== 'string') throw new TypeError(`eventId must be a string, got ${typeof eventId}`);
    return this.#reader.getByEventId(eventId);
  }

  /** Events in sequence order, from `from` (default 1), at most `limit`. */
  readAll(options: ReadAllOptions = {}): LedgerEvent[] {
    this.#assertOpen();
    const from = options.from === undefined ? 1 : requireInteger('from', options.from, 1);
    return this.#reader.readAll(from, limitOf(options.limit));
  }

  /**
   * A stream's events in version order. STREAM_NOT_FOUND when the stream has no event.
   * Events appended without a streamId are in {@link DEFAULT_STREAM}.
   */
  readStream(streamId: string, options: ReadStreamOptions = {}): LedgerEvent[] {
    this.#assertOpen();
    if (typeof streamId !== 'string') throw new TypeError(`streamId must be a string, got ${typeof streamId}`);
    const fromVersion = options.fromVersion === undefined ? 0 : requireInteger('fromVersion', options.fromVersion, 0);
    return this.#reader.readStream(streamId, fromVersion, limitOf(options.limit));
  }

  /** Version of the stream's last event, or undefined when the stream has none. */
  streamVersion(streamId: string = DEFAULT_STREAM): number | undefined {
    this.#assertOpen();
    if (typeof streamId !== 'string') throw new TypeError(`streamId must be a string, got ${typeof streamId}`);
    return this.#reader.streamVersion(streamId);
  }

  /** The newest event's sequence and content hash, or undefined when the ledger is empty. */
  head(): LedgerHead | undefined {
    this.#assertOpen();
    return this.#reader.head();
  }

  /** The highest sequence; 0 when the ledger is empty. */
  maxSequence(): number {
    return this.head()?.sequence ?? 0;
  }

  /** Whether every sequence in [start, end] exists, and which do not. */
  verifyContinuity(start: number, end: number): { continuous: boolean; missing: number[] } {
    this.#assertOpen();
    requireInteger('start', start, 1);
    requireInteger('end', end, start);
    if (end - start > MAX_CONTINUITY_RANGE) {
      throw new RangeError(`verifyContinuity checks at most ${MAX_CONTINUITY_RANGE} sequences at once; split the range`);
    }
    const missing = this.#reader.missingBetween(start, end);
    return { continuous: missing.length === 0, missing };
  }


  /**
   * Registers an ed25519 public key for an agent (or a witness). The registration is itself an
   * event in the `$agents` stream; the trigger derives the key table from it in the same commit.
   *
   * @example
   * ```ts
   * const keys = generateAgentKeyPair();
   * await ledger.registerAgentKey('billing-bot', keys.publicKey, { keyId: '2026-11' });
   * ```
   */
  async registerAgentKey(agentId: string, publicKey: string, options: RegisterAgentKeyOptions = {}): Promise<AppendResult> {
    this.#assertOpen();
    requireText('agentId', agentId);
    requireText('publicKey', publicKey);
    const keyId = options.keyId ?? createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
    requireText('keyId', keyId);
    const role = options.role ?? 'agent';
    if (role !== 'agent' && role !== 'witness') throw new RangeError(`role must be 'agent' or 'witness', got ${describeValue(role)}`);
    return this.#appendSystem(systemEvent('$agents', 'stele.agent_key_registered', { agentId, keyId, publicKey, role }));
  }

  /**
   * Revokes one key of an agent. Events it signed before stay valid; new events signed with it
   * are refused with AGENT_KEY_REVOKED.
   *
   * @example
   * ```ts
   * await ledger.revokeAgentKey('billing-bot', '2026-11', 'laptop stolen');
   * ```
   */
  async revokeAgentKey(agentId: string, keyId: string, reason: string): Promise<AppendResult> {
    this.#assertOpen();
    requireText('agentId', agentId);
    requireText('keyId', keyId);
    if (typeof reason !== 'string') throw new TypeError('revokeAgentKey needs a reason string');
    return this.#appendSystem(systemEvent('$agents', 'stele.agent_key_revoked', { agentId, keyId, reason }));
  }

  /**
   * Halts the ledger: records a halt event, after which the database refuses every append with
   * LEDGER_HALTED until a witnessed {@link Ledger.clearHalt}. Reads keep working.
   *
   * @example
   * ```ts
   * await ledger.halt('replica diverged at #1042');
   * ```
   */
  async halt(reason: string): Promise<AppendResult> {
    this.#assertOpen();
    if (typeof reason !== 'string' || reason.length === 0) throw new TypeError('halt needs a reason');
    const result = await this.#appendSystem(systemEvent('$halt', 'stele.halted', { reason }));
    this.log('fatal', { reason, sequence: result.sequence, contentHash: result.contentHash }, 'ledger halted');
    return result;
  }

  /** Whether the ledger is halted, since when and why. */
  haltState(): HaltState {
    this.#assertOpen();
    return this.#reader.haltState();
  }

  /**
   * Clears a halt: a ceremony event carrying the reason and the signatures of at least a quorum
   * (default 2) of distinct registered witnesses over the halt record and the reason. The
   * trigger checks every signature; without a quorum it is CEREMONY_REFUSED.
   *
   * @example
   * ```ts
   * const { halt } = ledger.haltState();
   * const reason = 'disk replaced, chain verified';
   * await ledger.clearHalt({ reason, witnesses: [
   *   witnessClearHalt(halt!, reason, 'alice', alice.secretKey),
   *   witnessClearHalt(halt!, reason, 'bob', bob.secretKey),
   * ] });
   * ```
   */
  async clearHalt(ceremony: { reason: string; witnesses: WitnessSignature[] }): Promise<AppendResult> {
    this.#assertOpen();
    const witnesses = checkWitnesses('clearHalt', ceremony);
    const state = this.#reader.haltState();
    if (!state.halt) throw LedgerError.of('NOT_HALTED');
    return this.#appendSystem(
      systemEvent('$halt', 'stele.halt_cleared', { reason: ceremony.reason, haltSequence: state.halt.sequence, witnesses }),
    );
  }

  async #appendSystem(event: EncodedEvent): Promise<AppendResult> {
    const [stored] = await this.#writerOrThrow().submit(1, () => [event]);
    const result = this.#acknowledge(stored!);
    await this.#afterCommit(result);
    return result;
  }

  /**
   * What follows an acknowledged request before its caller hears of it: subscribers are woken, and
   * with sync replication the replicas confirm the request's last event (the one case that returns
   * a promise, so that other appends need no extra await).
   */
  #afterCommit(result: AppendResult | AppendResult[]): Promise<void> | undefined {
    // This ledger's own commits wake its subscribers at once, without waiting for the file watch.
    this.#subscriptions?.check();
    const last = Array.isArray(result) ? result.at(-1) : result;
    return last && this.#replication.afterAppend(last.sequence, last.eventId);
  }

  /** @internal Connects the replicas to this ledger's file; openLedger calls it once. */
  attachReplicas(): Promise<void> {
    return this.#replication.attach(this.#path);
  }

  /**
   * Brings every replica up to the current head now and returns one receipt each (none without
   * replicas). A failed receipt carries the coded error; nothing throws for a replica's failure.
   *
   * @example
   * ```ts
   * for (const r of await ledger.replicate()) console.log(r.replicaId, r.status, r.sequence);
   * ```
   */
  replicate(): Promise<ReplicationReceipt[]> {
    this.#assertOpen();
    return this.#replication.reach(this.#reader.head()?.sequence ?? 0);
  }

  /**
   * Checks every replica against this ledger: its whole chain (signatures re-verified on the
   * copy), its head hash against this ledger's row at the same height, continuity, schema version
   * and lag. See {@link VerificationResult}.
   *
   * @example
   * ```ts
   * const bad = (await ledger.verifyReplicas()).filter((r) => !r.ok);
   * for (const r of bad) console.error(r.replicaId, r.firstBad?.sequence, r.errors);
   * ```
   */
  verifyReplicas(): Promise<VerificationResult[]> {
    this.#assertOpen();
    return this.#replication.verify();
  }

  /** Live subscriptions; the hub opens its connection and directory watcher with the first one. */
  #subscriptions: SubscriptionHub | undefined;

  /**
   * Delivers events to `handler` in sequence order, exactly once and without gaps: first the
   * stored ones from `options.from` (default 1), then each new commit as it lands, whether this
   * ledger, its writer thread or a writer in another process appended it (a `readonly: true`
   * ledger follows another process's writer). `streamId` and `types` filter what is delivered.
   * The next event waits for the handler's promise; a handler that throws stops the subscription
   * and `done` rejects with its error. `close()`, or the ledger's `close()`, stops it.
   *
   * @example
   * ```ts
   * const subscription = ledger.subscribe(
   *   { from: 1, streamId: 'acct-1', onCaughtUp: (sequence) => console.log('live after', sequence) },
   *   async (event) => { await projection.apply(event); },
   * );
   * subscription.done.catch((error) => console.error('projection stopped', error));
   * ```
   */
  subscribe(options: SubscribeOptions, handler: SubscriptionHandler): Subscription;
  /**
   * The same subscription as an async iterable, pulled by the consumer: it yields
   * `{ kind: 'event', event }` items and, once, `{ kind: 'caught_up', sequence }` when everything
   * up to the head it found has been delivered. Leaving the loop closes it; the ledger's
   * `close()` ends the loop.
   *
   * @example
   * ```ts
   * for await (const item of ledger.subscribe({ from: ledger.maxSequence() + 1, types: ['order_placed'] })) {
   *   if (item.kind === 'event') await ship(item.event.payload);
   * }
   * ```
   */
  subscribe(options?: SubscribeOptions): SubscriptionStream;
  subscribe(options?: SubscribeOptions, handler?: SubscriptionHandler): Subscription | SubscriptionStream {
    this.#assertOpen();
    this.#subscriptions ??= new SubscriptionHub(this.#path, (level, fields, message) => this.log(level, fields, message));
    return this.#subscriptions.subscribe(options, handler);
  }

  /**
   * Flushes pending appends, then closes the writer and the read connection. What cannot be
   * flushed within `timeoutMs` (default 2,000) rejects with LEDGER_CLOSED; nothing is ever
   * half-written. Appends after `close()` reject with LEDGER_CLOSED. Calling it again returns the
   * same promise.
   *
   * @example
   * ```ts
   * await ledger.close({ timeoutMs: 5_000 });
   * ```
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (typeof options !== 'object' || options === null) return Promise.reject(new TypeError('close takes { timeoutMs? }'));
    const timeoutMs = options.timeoutMs ?? 2_000;
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      return Promise.reject(new RangeError(`timeoutMs must be a number >= 0, got ${describeValue(timeoutMs)}`));
    }
    this.#closing ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const timeout = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
      // Appends called before close() may still be validating their payloads (async schemas).
      await Promise.race([Promise.allSettled(this.#entering), timeout]);
      await Promise.race([this.#writer?.drain(), timeout]);
      // The reader closes first so that the writer's connection is the file's last one: SQLite
      // then checkpoints the WAL into the main file, and a copy of the .db alone is complete.
      this.#subscriptions?.close();
      this.#reader.close();
      // Each replica finishes the propagations already asked of it, then lets go of its copy and
      // of its read connection to this file, before the writer's, which must be the last.
      await this.#replication.close();
      await this.#writer?.close(Math.max(0, deadline - Date.now()));
      this.#removeSignalHandlers?.();
    })();
    return this.#closing;
  }

  #removeSignalHandlers: (() => void) | undefined;

  /**
   * On SIGTERM or SIGINT, flush and close within `timeoutMs` (default 1,500), then exit with code
   * 0 (1 if closing failed). Returns a function that removes the handlers.
   *
   * @example
   * ```ts
   * const ledger = await openLedger('audit.db');
   * ledger.closeOnSignals();
   * ```
   */
  closeOnSignals(options: { timeoutMs?: number; signals?: NodeJS.Signals[] } = {}): () => void {
    const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
    const onSignal = (signal: NodeJS.Signals) => {
      this.log('info', { signal }, 'closing on signal');
      this.close({ timeoutMs: options.timeoutMs ?? 1_500 }).then(
        () => process.exit(0),
        (error: unknown) => {
          this.log('error', { error: String(error) }, 'close on signal failed');
          process.exit(1);
        },
      );
    };
    for (const signal of signals) process.once(signal, onSignal);
    this.#removeSignalHandlers = () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
    return this.#removeSignalHandlers;
  }

  /**
   * Verifies the whole chain (or `from`..`to`): sequence continuity, prev_hash links, stream
   * versions, content hashes and signatures, in ranges on a pool of read-only worker threads.
   * Runs beside appends; it checks what was committed when each range was read.
   *
   * @example
   * ```ts
   * const { ok, checked, firstBad } = await ledger.verify();
   * if (!ok) await ledger.halt(`verify: ${firstBad!.reason} at #${firstBad!.sequence}`);
   * ```
   */
  verify(options: VerifyOptions = {}): Promise<VerifyResult> {
    this.#assertOpen();
    return verifyLedgerFile(this.#path, options);
  }

  /** @internal For specs: kills the writer thread as a crash would. */
  crashWriterForTesting(): Promise<number> {
    return this.#writerOrThrow().crashForTesting();
  }

  #assertOpen(): void {
    if (this.#closing) throw LedgerError.of('LEDGER_CLOSED', { path: this.#path });
  }
}

const MAX_CONTINUITY_RANGE = 10_000_000;
/** One batch is one transaction and one message to the writer: bulk imports come in several. */
const MAX_BATCH_EVENTS = 100_000;

/** A logger that throws must not turn a committed append into a failure. */
function safeLog(logger: Logger | undefined, level: LogLevel, fields: Record<string, unknown>, message: string): void {
  if (!logger) return;
  try {
    logger[level](fields, message);
  } catch (error) {
    process.emitWarning(`stele: the logger threw while logging "${message}": ${String(error)}`);
  }
}

/** Opens the read connection, or says in a coded error why the file is not a readable ledger. */
function openReader(path: string): LedgerReader {
  try {
    return new LedgerReader(path);
  } catch (error) {
    throw LedgerError.of('NOT_A_LEDGER', { path, sqliteCode: (error as { code?: string }).code }, String((error as Error).message));
  }
}

function requireText(name: string, value: unknown): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new TypeError(`${name} must be a non-empty string of at most 256 characters`);
  }
}

function requireInteger(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be an integer, got ${typeof value}`);
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}

function limitOf(limit: unknown): number {
  // SQLite treats a negative LIMIT as no limit.
  return limit === undefined ? -1 : requireInteger('limit', limit, 0);
}

/**
 * Opens (or creates) a ledger file and starts its writer. Fails with WRITER_LOCK_HELD when another
 * writer has the file open, in this process or another.
 *
 * @example
 * ```ts
 * import { openLedger } from 'stele';
 * const ledger = await openLedger('./audit.db', { durability: 'full' });
 * ```
 */
export async function openLedger(path: string, options?: LedgerOptions): Promise<Ledger> {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError('openLedger needs a file path');
  // SQLite would cut the path at the NUL and open another file.
  if (path.includes('\0')) throw new TypeError('openLedger: the path contains a NUL character');
  const resolved = resolveOptions(options);
  const absolute = resolvePath(path);
  if (resolved.readonly) {
    if (!existsSync(absolute)) throw new TypeError(`readonly: true needs an existing ledger file; ${absolute} does not exist`);
    return new Ledger(absolute, resolved, undefined, openReader(absolute));
  }
  // The writer's hooks need the ledger, which needs the writer: bind them once it exists.
  let ledger: Ledger | undefined;
  const log = (level: LogLevel, fields: Record<string, unknown>, message: string) => safeLog(resolved.logger, level, fields, message);
  let client: WriterClient;
  try {
    ({ client } = await WriterClient.start(
      {
        path: absolute,
        durability: resolved.durability,
        driftThresholdMs: resolved.driftThresholdMs,
        requireSignatures: resolved.requireSignatures,
        startupVerifyRows: resolved.startupVerifyRows,
        expectedHead: resolved.expectedHead,
        onInconsistency: resolved.onInconsistency,
        retry: resolved.retry,
        eventTypes: resolved.eventTypes && Object.keys(resolved.eventTypes),
      },
      { maxPendingAppends: resolved.maxPendingAppends, onFull: resolved.onFull },
      { maxRestarts: resolved.maxRestarts, restartWindowMs: resolved.restartWindowMs },
      {
        log,
        failed: (error) => {
          // 'error' without a listener would throw from inside the writer's event handler.
          if (ledger && ledger.listenerCount('error') > 0) ledger.emit('error', error);
        },
      },
    ));
  } catch (error) {
    if (error instanceof LedgerError) {
      log(error.code === 'WRITER_INCONSISTENCY' ? 'fatal' : 'error', { code: error.code, ...error.details }, 'writer could not start');
    }
    if (!resolved.allowDegraded || !(error instanceof LedgerError) || !existsSync(absolute)) throw error;
    const degraded = new Ledger(absolute, resolved, undefined, openReader(absolute), error);
    log('warn', { code: error.code }, 'opened degraded: reads only');
    // Emitted after openLedger resolves, so the caller can listen for it.
    setImmediate(() => degraded.emit('warning', { kind: 'degraded', code: error.code, details: error.details }));
    return degraded;
  }
  let reader: LedgerReader;
  try {
    reader = openReader(absolute);
  } catch (error) {
    await client.close(0);
    throw error;
  }
  ledger = new Ledger(absolute, resolved, client, reader);
  try {
    await ledger.attachReplicas();
  } catch (error) {
    await ledger.close();
    throw error;
  }
  return ledger;
}

/**
 * The public facade: {@link openLedger} and {@link Ledger}. Appends travel to the writer worker;
 * reads run synchronously on a read-only connection of the caller's thread.
 */
import { requireNumber, requireOptions } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import type { AppendResult } from '../event.ts';
import type { WitnessSignature } from '../format/signing.ts';
import { logTo, type LogLevel } from '../options.ts';
import type { ReplicationReceipt, VerificationResult } from '../replication/replicator.ts';
import type { VerifyOptions, VerifyResult } from '../verify/verify-ledger-file.ts';
import { publishDiagnostic } from '../diagnostics.ts';
import { observedVerify } from './observed-verify.ts';
import { backupLedger, type BackupResult } from './backup.ts';
import { Appends } from './appends.ts';
import { LedgerReads } from './ledger-reads.ts';
import type { AppendBatchOptions, LedgerHealth, RegisterAgentKeyOptions, StoredCheckpoint } from './ledger-types.ts';
import { CheckpointWriter } from './checkpoint-writer.ts';
import { healthOf, registerWriter, type LedgerParts } from './ledger-parts.ts';
import { CommitWatcher } from './commit-watcher.ts';
import { openSubscription } from './subscription.ts';
import type { SubscribeOptions, Subscription, SubscriptionHandler, SubscriptionStream } from './subscription-options.ts';
import { closeAll, closeOnSignals } from './shutdown.ts';
import { Transparency } from './transparency.ts';
import { agentKeyRegistration, agentKeyRevocation, clearHaltCeremony, eventTypesRecord, haltRecord } from './system-events.ts';
import type { EventMap, EventOf, InputOf, UntypedEvents } from './typed-events.ts';

/**
 * An open ledger file. Create one with {@link openLedger}. Typed with an {@link EventMap} (from
 * `eventTypes` schemas or written by hand), `append` accepts only {@link InputOf} that map and
 * reads return {@link EventOf} it; untyped, any type and payload.
 *
 * @example
 * ```ts
 * const ledger = await openLedger('audit.db');
 * const { sequence } = await ledger.append({ type: 'user_login', payload: { user: 'ada' } });
 * console.log(ledger.get(sequence)?.payload); // { user: 'ada' }
 * await ledger.close();
 * ```
 */
export class Ledger<Events extends EventMap = UntypedEvents> extends LedgerReads<Events> {
  readonly #parts: LedgerParts;
  readonly #appends: Appends;
  readonly #transparency: Transparency;
  readonly #checkpoints: CheckpointWriter;
  #closing: Promise<void> | undefined;

  /** @internal Use {@link openLedger}. */
  constructor(parts: LedgerParts) {
    const transparency = new Transparency(parts.path, parts.options);
    super(parts.reader, () => this.#assertOpen(), transparency);
    this.#parts = parts;
    this.#transparency = transparency;
    registerWriter(this, parts.writer);
    parts.replicas.onFailure((receipt) => {
      this.#log('warn', { replicaId: receipt.replicaId, sequence: receipt.sequence, code: receipt.error?.code }, 'replica did not confirm');
      this.emit('warning', { kind: 'replication', replicaId: receipt.replicaId, sequence: receipt.sequence, error: receipt.error });
    });
    // 'error' without a listener would throw from inside the writer's event handler.
    parts.writer?.onFailed((error) => this.listenerCount('error') > 0 && this.emit('error', error));
    this.#appends = new Appends({
      ...parts,
      assertOpen: () => this.#assertOpen(),
      log: (level, fields, message) => this.#log(level, fields, message),
      warn: (warning) => this.emit('warning', warning),
      afterCommit: (last) => this.#afterCommit(last),
    });
    this.#checkpoints = new CheckpointWriter(transparency, parts.options, (build) => this.#appends.appendSystem(build), (error) => {
      this.#log('warn', { error }, 'checkpoint not stored');
      this.emit('warning', { kind: 'checkpoint_failed', error });
    });
  }

  /** Absolute path of the ledger file. */
  get path(): string {
    return this.#parts.path;
  }

  /** Events queued or in flight to the writer. */
  get pendingAppends(): number {
    return this.#parts.writer?.pendingAppends ?? 0;
  }

  /** True when opened with `readonly: true`: reads only, no writer. */
  get readonly(): boolean {
    return this.#parts.writer === undefined;
  }

  #log(level: LogLevel, fields: Record<string, unknown>, message: string): void {
    logTo(this.#parts.options.logger, level, fields, message);
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
    return healthOf(this.#parts, this.#closing !== undefined);
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
  append(input: InputOf<Events>): Promise<AppendResult> {
    return this.#appends.append(input);
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
  appendBatch(inputs: InputOf<Events>[], options: AppendBatchOptions = {}): Promise<AppendResult[]> {
    return this.#appends.appendBatch(inputs, options);
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
  registerAgentKey(agentId: string, publicKey: string, options: RegisterAgentKeyOptions = {}): Promise<AppendResult> {
    return this.#appends.appendSystem(() => agentKeyRegistration(agentId, publicKey, options));
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
  revokeAgentKey(agentId: string, keyId: string, reason: string): Promise<AppendResult> {
    return this.#appends.appendSystem(() => agentKeyRevocation(agentId, keyId, reason));
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
    const result = await this.#appends.appendSystem(() => haltRecord(reason));
    this.#log('fatal', { reason, sequence: result.sequence, contentHash: result.contentHash }, 'ledger halted');
    publishDiagnostic('stele:halt', () => ({ path: this.#parts.path, reason, sequence: result.sequence }));
    return result;
  }

  /**
   * Clears a halt: a ceremony event with the reason and the signatures, over the halt record and
   * the reason, of a quorum (`witnessQuorum`, default 2) of distinct witnesses with distinct keys
   * (only `trustedWitnesses` keys count when set); otherwise CEREMONY_REFUSED.
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
  clearHalt(ceremony: { reason: string; witnesses: WitnessSignature[] }): Promise<AppendResult> {
    return this.#appends.appendSystem(() => clearHaltCeremony(ceremony, this.#parts.reader, this.#parts.options.trustedWitnesses));
  }

  /**
   * Records the ledger's taxonomy: from the next append on, the database accepts only these event
   * types outside Stele's own streams, from every writer that opens the file, until the next
   * call; `[]` accepts any type again. The change is an event of the `$types` stream, so it is
   * hash-chained and verified like every other. Opening with `eventTypes` records their names
   * when the ledger has no taxonomy yet; a different recorded one stays, with a warning.
   *
   * @example
   * ```ts
   * await ledger.setEventTypes(['order_placed', 'order_shipped', 'refund_issued']);
   * await ledger.append({ type: 'order_lost' }); // rejects with UNKNOWN_EVENT_TYPE
   * ```
   */
  setEventTypes(types: readonly string[]): Promise<AppendResult> {
    return this.#appends.appendSystem(() => eventTypesRecord(types));
  }

  /**
   * Signs the ledger's tree at its current size with the `checkpoint` option's key and stores the
   * checkpoint in the file, as an event of `$checkpoints` that the database checks against the
   * tree (FORMAT.md "Stored checkpoints"). Give the note to witnesses, then store what they
   * return with {@link addCosignatures}.
   *
   * @example
   * ```ts
   * const ledger = await openLedger('audit.db', { checkpoint: { origin: 'example.com/audit', secretKey: logSkey } });
   * const { note, treeSize } = await ledger.storeCheckpoint();
   * ```
   */
  storeCheckpoint(): Promise<StoredCheckpoint> {
    return this.#checkpoints.store();
  }

  /**
   * Stores witnesses' cosignatures of a stored checkpoint: `note` is that checkpoint with
   * cosignature lines added (as `cosignCheckpoint` or a witness's `add-checkpoint` answer gives
   * them). Each new line must verify under one of `witnessKeys` (default `checkpoint.witnesses`),
   * else CHECKPOINT_REFUSED; the checkpoint is stored again with all its signatures.
   *
   * @example
   * ```ts
   * const { note } = await ledger.storeCheckpoint();
   * const cosigned = addSignatures(note, [await requestCosignature(witnessUrl, { checkpoint: note })]);
   * await ledger.addCosignatures(cosigned, { witnessKeys: [witnessVkey] });
   * ```
   */
  addCosignatures(note: string, options: { witnessKeys?: readonly string[] } = {}): Promise<StoredCheckpoint> {
    return this.#checkpoints.addCosignatures(note, options);
  }

  /**
   * What follows an acknowledged request before its caller hears of it: subscribers are woken, and
   * with sync replication the replicas confirm the request's last event (the one case that returns
   * a promise, so that other appends need no extra await).
   */
  #afterCommit(last: AppendResult): Promise<void> | undefined {
    // This ledger's own commits wake its subscribers at once, without waiting for the file watch.
    this.#subscriptions?.check();
    this.#checkpoints.afterCommit(last.sequence);
    return this.#parts.replicas.afterAppend(last.sequence, last.eventId);
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
    return this.#parts.replicas.reach(this.#parts.reader.head()?.sequence ?? 0);
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
    return this.#parts.replicas.verify();
  }

  /** Live subscriptions; the hub opens its connection and directory watcher with the first one. */
  #subscriptions: CommitWatcher | undefined;

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
  subscribe(options: SubscribeOptions, handler: SubscriptionHandler<EventOf<Events>>): Subscription;
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
  subscribe(options?: SubscribeOptions): SubscriptionStream<EventOf<Events>>;
  subscribe(options?: SubscribeOptions, handler?: SubscriptionHandler<EventOf<Events>>): Subscription | SubscriptionStream<EventOf<Events>> {
    this.#assertOpen();
    const log = (level: LogLevel, fields: Record<string, unknown>, message: string) => this.#log(level, fields, message);
    this.#subscriptions ??= new CommitWatcher(this.#parts.path, log);
    return openSubscription(this.#subscriptions, options, handler as SubscriptionHandler | undefined, log) as Subscription | SubscriptionStream<EventOf<Events>>;
  }

  /**
   * Flushes pending appends, then closes the writer and the read connection. Appends made
   * before it that wait for backpressure room keep waiting within `timeoutMs` (default 2,000).
   * What has not left the caller's thread by then rejects with LEDGER_CLOSED; what the writer had
   * started gets its real outcome; nothing is ever half-written. Appends after `close()` reject with LEDGER_CLOSED. Calling it again returns the
   * same promise.
   *
   * @example
   * ```ts
   * await ledger.close({ timeoutMs: 5_000 });
   * ```
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    try {
      const { timeoutMs = 2_000 } = requireOptions('close options', options);
      requireNumber('timeoutMs', timeoutMs, 0);
      this.#closing ??= (async () => {
        // The tree's read connection closes first: the writer, closing as the file's last
        // connection, then leaves it one self-contained file (no -wal, no -shm).
        await this.#checkpoints.close();
        this.#transparency.close();
        await closeAll({ appends: this.#appends, writer: this.#parts.writer, subscriptions: this.#subscriptions, reader: this.#parts.reader, replicas: this.#parts.replicas }, timeoutMs);
        this.#removeSignalHandlers?.();
      })();
      return this.#closing;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `close()` with its defaults, for `await using`: the ledger closes when the block it was
   * opened in ends, however it ends.
   *
   * @example
   * ```ts
   * {
   *   await using ledger = await openLedger('audit.db');
   *   await ledger.append({ type: 'job_done' });
   * } // flushed and closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
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
    const close = () => this.close({ timeoutMs: options.timeoutMs ?? 1_500 });
    this.#removeSignalHandlers = closeOnSignals(options.signals ?? ['SIGTERM', 'SIGINT'], close, (level, fields, message) => this.#log(level, fields, message));
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
    try {
      this.#assertOpen();
      requireOptions('verify(options)', options);
    } catch (error) {
      return Promise.reject(error);
    }
    return observedVerify(this.#parts.path, options);
  }

  /**
   * Writes a consistent, verified, standalone copy of the ledger to `path` (which must not
   * exist): the ledger as of one commit, taken while appends go on, verified in full, fsynced,
   * with its head sidecar. Restore by opening the copy with {@link openLedger}. A copy that does
   * not verify is removed and the call rejects with BACKUP_FAILED.
   *
   * @example
   * ```ts
   * const { path, head } = await ledger.backup(`/mnt/backup/audit-${Date.now()}.db`);
   * const restored = await openLedger(path); // later, on another machine
   * ```
   */
  backup(path: string): Promise<BackupResult> {
    try {
      this.#assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return backupLedger(this.#parts.path, path);
  }

  #assertOpen(): void {
    if (this.#closing) throw LedgerError.of('LEDGER_CLOSED', { path: this.#parts.path });
  }
}

/**
 * The public types of {@link Ledger}'s methods and events: options, warnings, health and halts.
 */
import type { LedgerError } from '../errors.ts';
import type { ExpectedVersion } from '../event.ts';
import type { ReplicaHealth } from '../replication/replica-set.ts';

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
 * Emitted as `'warning'` when `allowSchemaMismatch` opened, for reading, a ledger whose schema is
 * not the one Stele ships for its version (a trigger dropped or rewritten): its rows may have been
 * written without the rules. Run `verify()`, which reports the fault `schema`.
 *
 * @example
 * ```ts
 * const ledger = await openLedger('evidence.db', { readonly: true, allowSchemaMismatch: true });
 * ledger.on('warning', (w) => {
 *   if (w.kind === 'schema_mismatch') console.error('schema differs:', w.details.missing, w.details.changed);
 * });
 * ```
 */
export interface SchemaMismatchWarning {
  kind: 'schema_mismatch';
  code: 'SCHEMA_MISMATCH';
  /** The file's `userVersion` and the objects `added`, `missing` or `changed`. */
  details: Readonly<Record<string, unknown>>;
}

/**
 * Emitted as `'warning'` when a ledger opened with `eventTypes` records a different taxonomy:
 * the recorded one stays in force (the database refuses types outside it) until
 * `ledger.setEventTypes()` records another.
 *
 * @example
 * ```ts
 * ledger.on('warning', (w) => {
 *   if (w.kind === 'event_types_mismatch') console.error('recorded', w.recorded, 'given', w.given);
 * });
 * ```
 */
export interface EventTypesMismatchWarning {
  kind: 'event_types_mismatch';
  /** The taxonomy the ledger records, in force. */
  recorded: readonly string[];
  /** The names of this opening's `eventTypes`. */
  given: readonly string[];
}

/**
 * Emitted as `'warning'` when a checkpoint the ledger stores by itself (`checkpoint.every`) could
 * not be stored; the next one is tried at the next trigger.
 *
 * @example
 * ```ts
 * ledger.on('warning', (w) => {
 *   if (w.kind === 'checkpoint_failed') console.error('no checkpoint stored:', w.error);
 * });
 * ```
 */
export interface CheckpointFailedWarning {
  kind: 'checkpoint_failed';
  error: unknown;
}

/**
 * A signed checkpoint the ledger stores: an event of the reserved stream `$checkpoints`
 * (FORMAT.md "Stored checkpoints").
 *
 * @example
 * ```ts
 * const { sequence, treeSize, note } = await ledger.storeCheckpoint();
 * ```
 */
export interface StoredCheckpoint {
  /** The sequence of the newest `$checkpoints` event that holds this checkpoint. */
  sequence: number;
  /** The number of events the checkpoint covers: events 1 to treeSize. */
  treeSize: number;
  /** The signed note: the log's signature and every cosignature stored for it. */
  note: string;
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
  warning: [ClockDriftWarning | DegradedWarning | ReplicationWarning | SchemaMismatchWarning | EventTypesMismatchWarning | CheckpointFailedWarning];
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
  /** The file at the ledger's path is not the one the writer has open (deleted, renamed over, replaced): appends fail with LEDGER_FILE_REPLACED. */
  fileReplaced: boolean;
  halted: boolean;
  /** Highest sequence; undefined once closed. */
  headSequence: number | undefined;
  lastWriteAt: Date | undefined;
  /** Events appended through this ledger object. */
  appendedCount: number;
  /** Requests that failed with WRITE_FAILED or DISK_FULL. */
  failedWriteCount: number;
  pendingAppends: number;
  restarts: number;
  /** Each replica's confirmed sequence, lag and last outcome (empty without replicas). */
  replicas: ReplicaHealth[];
}

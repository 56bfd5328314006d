/**
 * `openLedger` options in three labelled phases: defaults, validation (TypeError/RangeError
 * naming the option and the fix), and the frozen, fully resolved config the rest of Stele uses.
 */

import { requireBoolean, requireInteger, requireKnownKeys, requireOneOf, requirePublicKeys, requireVerifierKey } from './arguments.ts';
import { formatVerifierKey, parseSignerKey } from './proofs/note-key.ts';
import { describeValue } from './errors.ts';
import type { Replicator } from './replication/replicator.ts';
import { isStandardSchema, type StandardSchemaV1 } from './format/payload-schema.ts';
import { MAX_WITNESSES } from './format/signing.ts';
import type { NoteSigner } from './proofs/signed-note.ts';

/**
 * A pino-compatible logger: pino itself, or anything with these methods (`console` is not one:
 * its methods take the message first).
 *
 * @example
 * ```ts
 * import pino from 'pino';
 * const ledger = await openLedger('audit.db', { logger: pino({ level: 'info' }) });
 * ```
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  fatal(fields: object, message?: string): void;
}

/** Levels of a pino-compatible logger. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * Logs to the app's logger, if it has one. A logger that throws must not turn a committed
 * append into a failure: it becomes a process warning.
 * @internal
 */
export function logTo(logger: Logger | undefined, level: LogLevel, fields: Record<string, unknown>, message: string): void {
  if (!logger) return;
  try {
    logger[level](fields, message);
  } catch (error) {
    process.emitWarning(`stele: the logger threw while logging "${message}": ${String(error)}`);
  }
}

/**
 * Options of {@link openLedger}. Every option is optional.
 *
 * @example
 * ```ts
 * const options: LedgerOptions = {
 *   durability: 'full',
 *   onFull: 'reject',
 *   eventTypes: { user_login: true, deposited: z.object({ cents: z.bigint() }) },
 * };
 * const ledger = await openLedger('audit.db', options);
 * ```
 */
export interface LedgerOptions {
  /**
   * SQLite `synchronous` level of the writer. `'full'` (default): an acknowledged append survives
   * power loss. `'normal'`: it survives a process crash; the last commits may be lost on power loss.
   */
  durability?: 'full' | 'normal';
  /** Most events queued or in flight at once (default 10,000); bounds memory whatever callers do. */
  maxPendingAppends?: number;
  /** When `maxPendingAppends` is reached: `'wait'` for room (default) or `'reject'` with BACKPRESSURE. */
  onFull?: 'wait' | 'reject';
  /** Largest encoded event (payload, metadata, ids) in bytes (default 1 MiB); larger is EVENT_TOO_LARGE. */
  maxEventBytes?: number;
  /** Drift between local and authority timestamps that records a warning (default 5,000 ms). */
  driftThresholdMs?: number;
  /**
   * Refuse unsigned events, in SQL. Once a ledger has been opened with `true` it stays that way:
   * the setting is recorded in the file and cannot be removed.
   */
  requireSignatures?: boolean;
  /** Newest rows the writer re-verifies before accepting appends (default 1,000; 0 skips). */
  startupVerifyRows?: number;
  /**
   * An anchor kept outside the file (e.g. a head you stored after a previous session): the row at
   * `sequence` must exist with `contentHash`, or opening fails with WRITER_INCONSISTENCY.
   */
  expectedHead?: { sequence: number; contentHash: string };
  /** Open for reading only: no writer, no lock; works while another process writes. */
  readonly?: boolean;
  /**
   * With `readonly: true`, open a ledger whose schema is not the one Stele ships for its version
   * (a trigger dropped or rewritten; otherwise SCHEMA_MISMATCH), to investigate it: a `'warning'`
   * event of kind `'schema_mismatch'` and a warn log say so. A writer never opens such a file.
   */
  allowSchemaMismatch?: boolean;
  /**
   * Create a ledger when the file does not exist or is empty (default true). `false`: only an
   * existing ledger opens, anything else is NOT_A_LEDGER. Any other file that is not a ledger is
   * always refused with NOT_A_LEDGER and left untouched, never converted.
   */
  create?: boolean;
  /**
   * What startup self-verification does when the file does not match what its writer expects.
   * `'fail'` (default): halt the ledger and fail with WRITER_INCONSISTENCY. `'halt'`: halt it and
   * open anyway, so that the operator can read, verify and hold the witnessed clearHalt ceremony.
   */
  onInconsistency?: 'fail' | 'halt';
  /**
   * Signatures of independent witnesses a ceremony (clearHalt, promoteReplica) needs: 1 to 64,
   * default 2. Set when the ledger is created and recorded in the file, never changed after:
   * opening a ledger that holds events with another value fails with WITNESS_QUORUM_FIXED.
   * Omitted: the file's own quorum.
   */
  witnessQuorum?: number;
  /**
   * Public keys (base64) of the witnesses this app trusts, held outside the file: clearHalt counts
   * only their signatures (CEREMONY_REFUSED otherwise), so a witness key registered by whoever
   * holds the Ledger does not vouch for itself. Pass the same list to verify().
   */
  trustedWitnesses?: readonly string[];
  /**
   * Closes the taxonomy: only these types may be appended (enforced by a trigger). A type maps to
   * a Standard Schema v1 validator of its payload (zod, valibot, arktype...) or to `true`.
   */
  eventTypes?: Record<string, StandardSchemaV1 | true>;
  /** Retries of transient SQLite failures (busy, locked): default `{ attempts: 3, delayMs: 50 }`. */
  retry?: { attempts?: number; delayMs?: number };
  /** Writer restarts allowed within `restartWindowMs` before it is declared failed (default 5). */
  maxRestarts?: number;
  /** Window of `maxRestarts` (default 60,000 ms). */
  restartWindowMs?: number;
  /** If the writer cannot start, open for reads anyway (degraded) instead of failing (default false). */
  allowDegraded?: boolean;
  /** Where Stele logs; silent by default. */
  logger?: Logger;
  /**
   * Copies kept of this ledger, e.g. `[new FileCopyReplicator('/mnt/backup/audit.db')]`. Each
   * propagates on its own thread; `replicate()`, `verifyReplicas()` and `health()` report on them.
   */
  replicas?: Replicator[];
  /**
   * `'async'` (default): appends resolve when the primary committed; copies follow in the
   * background and `health()` shows each one's lag. `'sync'`: `append()` resolves only once every
   * replica confirmed the event durably, and rejects with REPLICATION_FAILED (the primary has the
   * event; `details.failed` names the replicas that lack it) when one did not.
   */
  replication?: 'async' | 'sync';
  /**
   * The log's identity and key for {@link Ledger.checkpoint}: `origin` (the C2SP checkpoint
   * origin, e.g. `example.com/stele/orders`) and either `secretKey` (a C2SP signed-note skey,
   * `PRIVATE+KEY+<name>+<id>+<base64>`) or `signer`, a `NoteSigner` of `stele/proofs` whose key
   * can live elsewhere (an HSM).
   */
  checkpoint?: CheckpointOptions;
  /**
   * A signed checkpoint of this ledger kept outside the file (C2SP note text). At open, the
   * writer checks that the file's tree at that size has that root, i.e. that the file still
   * holds that tree as a prefix, or fails with WRITER_INCONSISTENCY (`check: 'checkpoint'`): a
   * rollback, a deleted tail or a rewrite behind the checkpoint. The signature is not checked
   * here (the app vouches for the text); `verifyCheckpoint` of `stele/proofs` checks it.
   */
  trustedCheckpoint?: string;
}

/**
 * The log's identity and signing key; see {@link LedgerOptions.checkpoint}.
 *
 * @example
 * ```ts
 * const checkpoint: CheckpointOptions = { origin: 'example.com/stele/orders', secretKey: process.env.LOG_SKEY! };
 * const ledger = await openLedger('orders.db', { checkpoint });
 * ```
 */
export interface CheckpointOptions {
  origin: string;
  secretKey?: string;
  signer?: NoteSigner;
  /**
   * The log's verifier key (C2SP vkey), recorded with every stored checkpoint and required to
   * match it: derived from `secretKey`, and needed with `signer` to store checkpoints.
   */
  logKey?: string;
  /**
   * Verifier keys (vkeys) of the witnesses whose cosignatures {@link Ledger.addCosignatures}
   * stores when it is not given its own list.
   */
  witnesses?: readonly string[];
  /**
   * Store a checkpoint by itself: once `events` events were appended since the newest stored
   * checkpoint, and/or every `ms` milliseconds when any event was. Each is an append of its own
   * after the commit that triggered it, never part of an app's append; a failure is a `'warning'`
   * of kind `checkpoint_failed`.
   */
  every?: { events?: number; ms?: number };
}

/** @internal */
export interface ResolvedOptions {
  readonly durability: 'full' | 'normal';
  readonly maxPendingAppends: number;
  readonly onFull: 'wait' | 'reject';
  readonly maxEventBytes: number;
  readonly driftThresholdMs: number;
  readonly requireSignatures: boolean;
  readonly startupVerifyRows: number;
  readonly expectedHead: { readonly sequence: number; readonly contentHash: string } | undefined;
  readonly readonly: boolean;
  readonly allowSchemaMismatch: boolean;
  readonly create: boolean;
  readonly onInconsistency: 'fail' | 'halt';
  readonly witnessQuorum: number | undefined;
  readonly trustedWitnesses: readonly string[] | undefined;
  readonly eventTypes: Readonly<Record<string, StandardSchemaV1 | true>> | undefined;
  readonly retry: { readonly attempts: number; readonly delayMs: number };
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly allowDegraded: boolean;
  readonly logger: Logger | undefined;
  readonly replicas: readonly Replicator[];
  readonly replication: 'async' | 'sync';
  readonly checkpoint: Readonly<CheckpointOptions> | undefined;
  readonly trustedCheckpoint: string | undefined;
}

const DEFAULTS: ResolvedOptions = {
  durability: 'full',
  maxPendingAppends: 10_000,
  onFull: 'wait',
  maxEventBytes: 1024 * 1024,
  driftThresholdMs: 5_000,
  requireSignatures: false,
  startupVerifyRows: 1_000,
  expectedHead: undefined,
  readonly: false,
  allowSchemaMismatch: false,
  create: true,
  onInconsistency: 'fail',
  witnessQuorum: undefined,
  trustedWitnesses: undefined,
  eventTypes: undefined,
  retry: { attempts: 3, delayMs: 50 },
  maxRestarts: 5,
  restartWindowMs: 60_000,
  allowDegraded: false,
  logger: undefined,
  replicas: [],
  replication: 'async',
  checkpoint: undefined,
  trustedCheckpoint: undefined,
};

const KNOWN = Object.keys(DEFAULTS);

/** @internal */
export function resolveOptions(options: LedgerOptions | undefined): ResolvedOptions {
  // Phase 1: shape.
  if (options === undefined) return DEFAULTS;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`openLedger options must be an object, got ${describeValue(options)}`);
  }
  requireKnownKeys(options, KNOWN);
  // Phase 2: validate each value.
  const resolved = { ...DEFAULTS };
  const given = options as Record<string, unknown>;
  if (given.durability !== undefined) resolved.durability = requireOneOf('durability', given.durability, ['full', 'normal']);
  if (given.onFull !== undefined) resolved.onFull = requireOneOf('onFull', given.onFull, ['wait', 'reject']);
  if (given.maxPendingAppends !== undefined) resolved.maxPendingAppends = requireInteger('maxPendingAppends', given.maxPendingAppends, 1);
  if (given.maxEventBytes !== undefined) resolved.maxEventBytes = requireInteger('maxEventBytes', given.maxEventBytes, 1);
  if (given.driftThresholdMs !== undefined) resolved.driftThresholdMs = requireInteger('driftThresholdMs', given.driftThresholdMs, 1);
  if (given.requireSignatures !== undefined) resolved.requireSignatures = requireBoolean('requireSignatures', given.requireSignatures);
  if (given.readonly !== undefined) resolved.readonly = requireBoolean('readonly', given.readonly);
  if (given.allowSchemaMismatch !== undefined) resolved.allowSchemaMismatch = requireBoolean('allowSchemaMismatch', given.allowSchemaMismatch);
  if (given.create !== undefined) resolved.create = requireBoolean('create', given.create);
  if (given.startupVerifyRows !== undefined) resolved.startupVerifyRows = requireInteger('startupVerifyRows', given.startupVerifyRows, 0);
  if (given.expectedHead !== undefined) {
    const head = given.expectedHead as { sequence?: unknown; contentHash?: unknown } | null;
    if (typeof head !== 'object' || head === null || typeof head.contentHash !== 'string' || !/^[0-9a-f]{64}$/.test(head.contentHash)) {
      throw new TypeError('expectedHead must be { sequence, contentHash } with a 64-digit lowercase hex contentHash');
    }
    resolved.expectedHead = Object.freeze({ sequence: requireInteger('expectedHead.sequence', head.sequence, 1), contentHash: head.contentHash });
  }
  if (given.onInconsistency !== undefined) resolved.onInconsistency = requireOneOf('onInconsistency', given.onInconsistency, ['fail', 'halt']);
  if (given.witnessQuorum !== undefined) resolved.witnessQuorum = requireInteger('witnessQuorum', given.witnessQuorum, 1, MAX_WITNESSES);
  if (given.trustedWitnesses !== undefined) resolved.trustedWitnesses = Object.freeze(requirePublicKeys('trustedWitnesses', given.trustedWitnesses));
  if (given.allowDegraded !== undefined) resolved.allowDegraded = requireBoolean('allowDegraded', given.allowDegraded);
  if (given.maxRestarts !== undefined) resolved.maxRestarts = requireInteger('maxRestarts', given.maxRestarts, 0);
  if (given.restartWindowMs !== undefined) resolved.restartWindowMs = requireInteger('restartWindowMs', given.restartWindowMs, 1);
  if (given.retry !== undefined) {
    const retry = given.retry as Record<string, unknown> | null;
    if (typeof retry !== 'object' || retry === null) throw new TypeError(`retry must be { attempts?, delayMs? }, got ${describeValue(retry)}`);
    requireKnownKeys(retry, ['attempts', 'delayMs'], 'retry');
    resolved.retry = Object.freeze({
      attempts: retry.attempts === undefined ? DEFAULTS.retry.attempts : requireInteger('retry.attempts', retry.attempts, 0),
      delayMs: retry.delayMs === undefined ? DEFAULTS.retry.delayMs : requireInteger('retry.delayMs', retry.delayMs, 0),
    });
  }
  if (given.logger !== undefined) {
    const logger = given.logger as Record<string, unknown> | null;
    const missing = ['debug', 'info', 'warn', 'error', 'fatal'].filter((level) => typeof logger?.[level] !== 'function');
    if (missing.length > 0) throw new TypeError(`logger must be pino-compatible; it lacks ${missing.join(', ')}()`);
    resolved.logger = logger as unknown as Logger;
  }
  if (given.eventTypes !== undefined) {
    const types = given.eventTypes as Record<string, unknown> | null;
    if (typeof types !== 'object' || types === null || Array.isArray(types)) {
      throw new TypeError(`eventTypes must map each type to a Standard Schema or true, got ${describeValue(types)}`);
    }
    if (Object.keys(types).length === 0) throw new RangeError('eventTypes must list at least one type; omit it to accept any type');
    for (const [type, schema] of Object.entries(types)) {
      if (schema !== true && !isStandardSchema(schema)) {
        throw new TypeError(`eventTypes.${type} must be a Standard Schema v1 validator (zod, valibot, arktype...) or true`);
      }
    }
    resolved.eventTypes = Object.freeze({ ...(types as Record<string, StandardSchemaV1 | true>) });
  }
  if (given.replication !== undefined) resolved.replication = requireOneOf('replication', given.replication, ['async', 'sync']);
  if (given.replicas !== undefined) resolved.replicas = replicasOf(given.replicas, resolved.readonly);
  if (given.checkpoint !== undefined) resolved.checkpoint = checkpointOptionsOf(given.checkpoint);
  if (given.trustedCheckpoint !== undefined) {
    if (typeof given.trustedCheckpoint !== 'string') throw new TypeError(`trustedCheckpoint must be the signed checkpoint's text, got ${describeValue(given.trustedCheckpoint)}`);
    resolved.trustedCheckpoint = given.trustedCheckpoint;
  }
  // Phase 3: the frozen config.
  return Object.freeze(resolved);
}

function checkpointOptionsOf(value: unknown): Readonly<CheckpointOptions> {
  const given = value as Record<string, unknown> | null;
  if (typeof given !== 'object' || given === null) throw new TypeError(`checkpoint must be { origin, secretKey } or { origin, signer }, got ${describeValue(value)}`);
  requireKnownKeys(given, ['origin', 'secretKey', 'signer', 'logKey', 'witnesses', 'every'], 'checkpoint');
  if (typeof given.origin !== 'string' || given.origin.length === 0 || /[\s+]/.test(given.origin)) {
    throw new TypeError(`checkpoint.origin must be a non-empty origin without spaces or "+", got ${describeValue(given.origin)}`);
  }
  const hasKey = given.secretKey !== undefined;
  const hasSigner = given.signer !== undefined;
  if (hasKey === hasSigner) throw new TypeError('checkpoint needs exactly one of secretKey (a signed-note skey) and signer (a NoteSigner)');
  if (hasKey && (typeof given.secretKey !== 'string' || !given.secretKey.startsWith('PRIVATE+KEY+'))) {
    throw new TypeError('checkpoint.secretKey must be a C2SP signed-note skey, PRIVATE+KEY+<name>+<id>+<base64>');
  }
  const signer = given.signer as Partial<NoteSigner> | undefined;
  if (hasSigner && (typeof signer?.name !== 'string' || typeof signer.keyId !== 'number' || typeof signer.sign !== 'function')) {
    throw new TypeError('checkpoint.signer must be a NoteSigner { name, keyId, sign(text) }');
  }
  const resolved = { ...(given as unknown as CheckpointOptions) };
  if (given.logKey !== undefined) requireVerifierKey('checkpoint.logKey', given.logKey);
  if (hasKey) {
    const key = parseSignerKey(given.secretKey as string);
    const derived = formatVerifierKey(key);
    if (given.logKey !== undefined && given.logKey !== derived) throw new TypeError(`checkpoint.logKey is not the verifier key of checkpoint.secretKey (${derived})`);
    resolved.logKey = derived;
  }
  if (given.witnesses !== undefined) {
    if (!Array.isArray(given.witnesses)) throw new TypeError(`checkpoint.witnesses must be an array of verifier keys, got ${describeValue(given.witnesses)}`);
    resolved.witnesses = Object.freeze(given.witnesses.map((key, i) => requireVerifierKey(`checkpoint.witnesses[${i}]`, key)));
  }
  if (given.every !== undefined) {
    const every = given.every as Record<string, unknown> | null;
    if (typeof every !== 'object' || every === null) throw new TypeError(`checkpoint.every must be { events?, ms? }, got ${describeValue(given.every)}`);
    requireKnownKeys(every, ['events', 'ms'], 'checkpoint.every');
    if (every.events === undefined && every.ms === undefined) throw new TypeError('checkpoint.every needs events, ms or both');
    if (every.events !== undefined) requireInteger('checkpoint.every.events', every.events, 1);
    if (every.ms !== undefined) requireInteger('checkpoint.every.ms', every.ms, 1);
    resolved.every = Object.freeze({ ...every } as { events?: number; ms?: number });
  }
  return Object.freeze(resolved);
}

function replicasOf(value: unknown, readonly: boolean): readonly Replicator[] {
  if (!Array.isArray(value)) throw new TypeError(`replicas must be an array of replicators, got ${describeValue(value)}`);
  if (readonly && value.length > 0) throw new TypeError('replicas need a writer; a readonly ledger cannot replicate');
  const ids = new Set<string>();
  for (const [index, replicator] of value.entries()) {
    const r = replicator as Partial<Record<keyof Replicator, unknown>> | null;
    const missing = (['attach', 'propagate', 'verify', 'close'] as const).filter((method) => typeof r?.[method] !== 'function');
    if (missing.length > 0 || typeof r?.id !== 'string') {
      throw new TypeError(`replicas[${index}] is not a replicator (e.g. new FileCopyReplicator(path)); it lacks ${[...missing, ...(typeof r?.id === 'string' ? [] : ['id'])].join(', ')}`);
    }
    if (ids.has(r.id)) throw new RangeError(`replicas[${index}] repeats the id '${r.id}'; each replica needs its own`);
    ids.add(r.id);
  }
  return Object.freeze([...(value as Replicator[])]);
}

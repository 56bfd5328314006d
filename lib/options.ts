/**
 * `openLedger` options in three labelled phases: defaults, validation (TypeError/RangeError
 * naming the option and the fix), and the frozen, fully resolved config the rest of Stele uses.
 */

/** Options of {@link openLedger}. Every option is optional. */
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
};

const KNOWN = new Set(Object.keys(DEFAULTS));

/** @internal */
export function resolveOptions(options: LedgerOptions | undefined): ResolvedOptions {
  // Phase 1: shape.
  if (options === undefined) return DEFAULTS;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`openLedger options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) {
      const near = [...KNOWN].find((known) => known.toLowerCase() === key.toLowerCase());
      throw new TypeError(
        near ? `Misspelled option "${key}" should be "${near}"` : `Unknown option "${key}"; known options: ${[...KNOWN].join(', ')}`,
      );
    }
  }
  // Phase 2: validate each value.
  const resolved = { ...DEFAULTS };
  const given = options as Record<string, unknown>;
  if (given.durability !== undefined) resolved.durability = oneOf('durability', given.durability, ['full', 'normal']);
  if (given.onFull !== undefined) resolved.onFull = oneOf('onFull', given.onFull, ['wait', 'reject']);
  if (given.maxPendingAppends !== undefined) resolved.maxPendingAppends = positiveInteger('maxPendingAppends', given.maxPendingAppends);
  if (given.maxEventBytes !== undefined) resolved.maxEventBytes = positiveInteger('maxEventBytes', given.maxEventBytes);
  if (given.driftThresholdMs !== undefined) resolved.driftThresholdMs = positiveInteger('driftThresholdMs', given.driftThresholdMs);
  if (given.requireSignatures !== undefined) {
    if (typeof given.requireSignatures !== 'boolean') throw new TypeError(`requireSignatures must be a boolean, got ${describe(given.requireSignatures)}`);
    resolved.requireSignatures = given.requireSignatures;
  }
  if (given.readonly !== undefined) {
    if (typeof given.readonly !== 'boolean') throw new TypeError(`readonly must be a boolean, got ${describe(given.readonly)}`);
    resolved.readonly = given.readonly;
  }
  if (given.startupVerifyRows !== undefined) {
    if (typeof given.startupVerifyRows !== 'number') throw new TypeError(`startupVerifyRows must be an integer >= 0, got ${describe(given.startupVerifyRows)}`);
    if (!Number.isSafeInteger(given.startupVerifyRows) || given.startupVerifyRows < 0) {
      throw new RangeError(`startupVerifyRows must be an integer >= 0, got ${given.startupVerifyRows}`);
    }
    resolved.startupVerifyRows = given.startupVerifyRows;
  }
  if (given.expectedHead !== undefined) {
    const head = given.expectedHead as { sequence?: unknown; contentHash?: unknown } | null;
    if (typeof head !== 'object' || head === null || typeof head.contentHash !== 'string' || !/^[0-9a-f]{64}$/.test(head.contentHash)) {
      throw new TypeError('expectedHead must be { sequence, contentHash } with a 64-digit lowercase hex contentHash');
    }
    resolved.expectedHead = Object.freeze({ sequence: positiveInteger('expectedHead.sequence', head.sequence), contentHash: head.contentHash });
  }
  // Phase 3: the frozen config.
  return Object.freeze(resolved);
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string') throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
  if (!allowed.includes(value as T)) throw new RangeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got '${value}'`);
  return value as T;
}

function positiveInteger(name: string, value: unknown): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a positive integer, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `'${value}'` : typeof value;
}

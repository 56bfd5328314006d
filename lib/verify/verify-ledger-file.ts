/**
 * Verifying a ledger file: the whole hash chain, stream versions and signatures, checked in
 * ranges on a pool of read-only worker threads.
 */
import { GENESIS_HASH } from '../format/columns.ts';
import { LedgerError } from '../errors.ts';
import { requireAbortSignal, requireBoolean, requireFilePath, requireFunction, requireInteger, requireKnownKeys, requireOptions, requirePublicKeys, requireVerifierKey } from '../arguments.ts';
import { MAX_WITNESSES } from '../format/signing.ts';
import type { LedgerHead } from '../event.ts';
import type { OutsideWitnesses } from './chain-check.ts';
import type { VerifyFault } from './verify-fault.ts';
import type { RangeResult, RangeTask } from './verify-protocol.ts';
import { openReadConnection } from '../sqlite/connections.ts';
import { schemaVersionOf } from '../sqlite/migrations.ts';
import { HASH_AT_SQL, MAX_SEQUENCE_SQL } from '../sqlite/queries.ts';
import { merkleNodeCountFault, merkleTreeFault } from './merkle-check.ts';
import { storedCheckpointFault } from './checkpoint-rules.ts';
import { isKnownSchemaVersion } from '../sqlite/migrations.ts';
import { schemaDiff, schemaMatches, unsupportedFormat } from '../sqlite/schema-pin.ts';
import { readHeadSidecar } from '../writer/head-sidecar.ts';
import { appendStateFault, eventIdFault, eventTypesTableFault, keyTablesFault, ledgerMetaFault } from './derived-tables.ts';
import { poolThreads, threadPool } from '../runtime/thread-pool.ts';

export type { VerifyFault, VerifyFaultReason } from './verify-fault.ts';

/**
 * Progress of {@link verifyLedgerFile}: rows checked so far out of the rows in the range.
 *
 * @example
 * ```ts
 * await verifyLedgerFile('audit.db', {
 *   onProgress: ({ checked, total }: VerifyProgress) => process.stdout.write(`\rverified ${checked}/${total}`),
 * });
 * ```
 */
export interface VerifyProgress {
  checked: number;
  total: number;
}

/**
 * Options of {@link verifyLedgerFile}.
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const result = await verifyLedgerFile('audit.db', {
 *   from: 1_000,
 *   signal: controller.signal,
 *   onProgress: ({ checked, total }) => console.log(`${checked}/${total}`),
 * });
 * ```
 */
export interface VerifyOptions {
  /** First sequence to check; 1 when omitted. The link of row `from` to row `from - 1` is checked too. */
  from?: number;
  /**
   * Last sequence to check; the newest row when omitted. A `to` beyond the newest row is a claim
   * that those rows exist: the first missing one is reported as a `sequence_gap` (this is how a
   * truncated tail shows up, which the chain alone cannot reveal).
   */
  to?: number;
  /** Aborts the check: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called after each range with the rows checked so far (in any order of ranges) and the total. */
  onProgress?: (progress: VerifyProgress) => void;
  /**
   * Rows per range, the unit of parallel work, progress and abort. Defaults to the rows split
   * evenly over the pool's threads, between 1,024 and 50,000 rows.
   */
  rangeSize?: number;
  /**
   * A head held outside the file (a signed head, a replica's, a log line): the row at its
   * `sequence` must exist with its `contentHash`, else the fault `expected_head`.
   */
  expectedHead?: LedgerHead;
  /**
   * Whether to check the file against its head sidecar (native-sql/FORMAT.md, "The head sidecar"), `<ledger>-head.json`, when
   * there is one (default true): the row it names must exist with its hash, else `head_sidecar`.
   * This is how events SQLite dropped with a damaged `-wal`, or newest rows deleted behind the
   * triggers, show up. Turn it off only for a copy made without its sidecar's moment in mind.
   */
  headSidecar?: boolean;
  /**
   * Public keys (base64) of the witnesses this verifier trusts, held outside the file: only their
   * signatures count in a clear-halt or promotion ceremony, so a witness key slipped into the
   * file does not vouch for itself. A ceremony short of the quorum of trusted keys is a
   * `ceremony` fault. Omitted: every witness key the file registered counts.
   */
  trustedWitnesses?: readonly string[];
  /**
   * The least number of witness signatures a ceremony needs, whatever the file's
   * `ledger_meta.witness_quorum` says (which a forger could lower): the higher of the two applies.
   */
  witnessQuorum?: number;
  /**
   * The log's verifier key (a C2SP vkey) as the verifier holds it outside the file: every stored
   * checkpoint must name it and carry its signature, else a `checkpoint` fault. Omitted, the stored
   * checkpoints are checked against the log key the first of them names, which a forger who
   * rewrote the whole file could have chosen.
   */
  trustedLogKey?: string;
}

/**
 * Result of {@link verifyLedgerFile}. `checked` counts the rows that passed before the first
 * fault (all rows of the range when `ok`).
 *
 * @example
 * ```ts
 * const { ok, checked, firstBad } = await verifyLedgerFile('audit.db');
 * if (!ok) console.error(`row ${firstBad!.sequence}: ${firstBad!.reason}`, firstBad);
 * ```
 */
export interface VerifyResult {
  ok: boolean;
  checked: number;
  /** The lowest-sequence fault: what a walk of the chain from `from` would stop at first. */
  firstBad?: VerifyFault;
}

const VERIFY_OPTIONS: readonly (keyof VerifyOptions)[] = ['from', 'to', 'signal', 'onProgress', 'rangeSize', 'expectedHead', 'headSidecar', 'trustedWitnesses', 'witnessQuorum', 'trustedLogKey'];
const MIN_RANGE_ROWS = 1_024;
const MAX_RANGE_ROWS = 50_000;

/** The module's pool of range checkers. */
const verifyPool = threadPool<RangeTask, RangeResult>('verify/verify-worker');

/**
 * Verifies a ledger file without opening it for writing, in FORMAT.md's order: the pinned schema
 * and `ledger_meta` (faults at sequence 0; an unknown `user_version` rejects with
 * UNSUPPORTED_FORMAT), then per row sequence continuity, storage classes, prev_hash links, stream
 * versions, content hashes, the rules the triggers enforced (no ordinary event while halted,
 * reserved streams, key registrations and revocations, the witnessed ceremonies), and the
 * signature of every signed event against a key its agent registered before the event and had
 * not revoked before it (keys as the `$agents` events say, so a key revoked later leaves the
 * events it signed earlier valid); then the heads held outside the file (the head sidecar,
 * `expectedHead`) and the key tables against the chain.
 *
 * The range is split into ranges checked in parallel on a pool of read-only connections; the
 * ranges are stitched at their boundaries, and the fault reported is the lowest-sequence one,
 * with the same reason a sequential walk of the chain gives it (checked per row in this order:
 * `sequence_gap`, `prev_hash`, `stream_version`, `content_hash`, `signature`). Deleting the
 * newest rows is invisible to the chain alone; pass `to` (e.g. a signed head's sequence) to
 * catch it. Rows appended while the check runs are outside the range.
 *
 * @example
 * ```ts
 * import { verifyLedgerFile } from 'stele';
 *
 * const result = await verifyLedgerFile('audit.db', { onProgress: (p) => console.log(p) });
 * if (!result.ok) console.error('tampered:', result.firstBad); // { sequence, reason, expected?, actual? }
 * ```
 */
export async function verifyLedgerFile(path: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  requireFilePath('verifyLedgerFile: the path', path);
  const { signal, onProgress } = requireOptions('verifyLedgerFile(options)', options) as VerifyOptions;
  requireKnownKeys(options, VERIFY_OPTIONS, 'verify');
  const from = requireInteger('from', options.from ?? 1, 1);
  if (options.to !== undefined) {
    requireInteger('to', options.to, 1);
    if (options.to < from) throw new RangeError(`to (${options.to}) is before from (${from})`);
  }
  if (options.rangeSize !== undefined) requireInteger('rangeSize', options.rangeSize, 1);
  if (onProgress !== undefined) requireFunction('onProgress', onProgress);
  if (options.headSidecar !== undefined) requireBoolean('headSidecar', options.headSidecar);
  if (signal !== undefined && requireAbortSignal('signal', signal).aborted) throw abortReason(signal);

  if (options.expectedHead !== undefined) requireHead('expectedHead', options.expectedHead);
  const witnesses = outsideWitnesses(options);
  const { trustedLogKey } = options;
  if (trustedLogKey !== undefined) requireVerifierKey('trustedLogKey', trustedLogKey);
  const { head, anchor, schemaFault, anchorFault } = readBounds(path, from, options);
  if (schemaFault) return { ok: false, checked: 0, firstBad: schemaFault };
  const to = options.to ?? head;
  const end = Math.min(to, head); // rows after the head are missing, reported below
  const total = Math.max(0, to - from + 1);
  /** The chain's verdict, unless a head held outside the file names a lower row. */
  const withAnchor = (result: VerifyResult): VerifyResult => {
    if (!anchorFault || (result.firstBad && result.firstBad.sequence <= anchorFault.sequence)) return result;
    return { ok: false, checked: Math.max(0, Math.min(result.checked, anchorFault.sequence - from)), firstBad: anchorFault };
  };
  if (from > end) {
    return withAnchor(to > head ? { ok: false, checked: 0, firstBad: missingAfterHead(head, from) } : { ok: true, checked: 0 });
  }

  const threads = poolThreads();
  const span = end - from + 1;
  const size = options.rangeSize ?? Math.min(MAX_RANGE_ROWS, Math.max(MIN_RANGE_ROWS, Math.ceil(span / threads)));
  const rangeCount = Math.ceil(span / size);
  const rangeStart = (k: number): number => from + k * size;
  const rangeEnd = (k: number): number => Math.min(end, from + (k + 1) * size - 1);

  const results = new Map<number, RangeResult>();
  /** The lowest range known to hold a fault; no range after it is started. */
  let stopAt = Infinity;
  let next = 0;
  let checked = 0;

  /** The fault of range k, its first row's link to range k-1 included, once both are known. */
  const faultOfRange = (k: number): VerifyFault | undefined => {
    const result = results.get(k);
    if (!result) return undefined;
    const gapAtStart = result.fault?.reason === 'sequence_gap' && result.fault.sequence === rangeStart(k);
    if (!gapAtStart && result.firstPrevHash !== null) {
      const before = k === 0 ? anchor : results.get(k - 1)?.lastContentHash;
      // A range before k with its own fault has no last hash; its fault is lower anyway.
      if (before != null && before !== result.firstPrevHash) {
        return { sequence: rangeStart(k), reason: 'prev_hash', expected: before, actual: result.firstPrevHash };
      }
    }
    return result.fault;
  };

  const abortTasks = new AbortController();
  const onAbort = (): void => abortTasks.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const aborted = new Promise<never>((_, reject) => {
    abortTasks.signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
  });
  aborted.catch(() => {});

  const lane = async (): Promise<void> => {
    const workers = verifyPool();
    while (next < rangeCount && next <= stopAt && !abortTasks.signal.aborted) {
      const k = next++;
      const task = { path, from: rangeStart(k), to: rangeEnd(k), openBelow: from === 1 && k === 0, ...(witnesses ? { witnesses } : {}) };
      const result = await workers.run(task, { signal: abortTasks.signal });
      results.set(k, result);
      checked += result.checked;
      for (const j of [k, k + 1]) if (j <= stopAt && faultOfRange(j)) stopAt = j;
      if (!abortTasks.signal.aborted) onProgress?.({ checked, total });
    }
  };

  try {
    await Promise.race([Promise.all(Array.from({ length: Math.min(threads, rangeCount) }, lane)), aborted]);
  } catch (error) {
    abortTasks.abort();
    if (signal?.aborted) throw abortReason(signal);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }

  for (let k = 0; k < rangeCount; k++) {
    const fault = faultOfRange(k);
    if (fault) return withAnchor({ ok: false, checked: fault.sequence - from, firstBad: fault });
    if (!results.has(k)) throw new Error(`verify: range ${k} was not checked`); // cannot happen: only ranges after a fault are skipped
  }
  if (to > head) return withAnchor({ ok: false, checked: span, firstBad: missingAfterHead(head, from) });
  const tables = from === 1 ? checkKeyTables(path, end, end === head) : undefined;
  if (tables) return withAnchor({ ok: false, checked: tables.sequence > 0 ? tables.sequence - from : span, firstBad: tables });
  // The ranges checked the nodes their appends completed; the precise walk runs only to name a
  // fault one of them found, or one no append explains (extra rows, checked by count).
  const treeMatches = [...results.values()].every((result) => result.treeMatches);
  const tree = from === 1 ? treeFault(path, end, treeMatches) : undefined;
  if (tree) return withAnchor({ ok: false, checked: tree.sequence - 1, firstBad: tree });
  const checkpoint = from === 1 ? checkpointFault(path, end, trustedLogKey) : undefined;
  if (checkpoint) return withAnchor({ ok: false, checked: checkpoint.sequence - 1, firstBad: checkpoint });
  return withAnchor({ ok: true, checked: span });
}

/** The stored checkpoints against the tree just verified (a whole-file check only). */
function checkpointFault(path: string, head: number, trustedLogKey: string | undefined): VerifyFault | undefined {
  const db = openReadConnection(path);
  try {
    return storedCheckpointFault(db, head, trustedLogKey);
  } finally {
    db.close();
  }
}


/** The stored Merkle tree against the chain just verified (a whole-file check only). */
function treeFault(path: string, head: number, rangesMatched: boolean): VerifyFault | undefined {
  const db = openReadConnection(path);
  try {
    return rangesMatched ? merkleNodeCountFault(db, head) : merkleTreeFault(db, head);
  } finally {
    db.close();
  }
}

interface Bounds {
  /** The newest sequence. */
  head: number;
  /** The content hash the row at `from` must link to (null when unknown). */
  anchor: string | null;
  /** The file's schema is not the pinned one, or ledger_meta is not the format's: reported before any row (sequence 0). */
  schemaFault?: VerifyFault;
  /** The lowest head held outside the file (sidecar, expectedHead) that the file does not hold. */
  anchorFault?: VerifyFault;
}

/**
 * What is read once before the ranges: the pinned schema (UNSUPPORTED_FORMAT for a version this
 * Stele does not know), the head, the link of row `from`, and the heads held outside the file.
 */
function readBounds(path: string, from: number, options: VerifyOptions): Bounds {
  const db = openReadConnection(path);
  try {
    const version = schemaVersionOf(db);
    if (version === 0 && db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'events'").get() === undefined) {
      throw LedgerError.of('NOT_A_LEDGER', { path }, 'no such table: events');
    }
    if (!isKnownSchemaVersion(version)) throw unsupportedFormat(version);
    const diff = schemaDiff(db, version);
    if (!schemaMatches(diff)) {
      const detail = `added: ${diff.added.join(', ') || '-'}; missing: ${diff.missing.join(', ') || '-'}; changed: ${diff.changed.join(', ') || '-'}`;
      return { head: 0, anchor: null, schemaFault: { sequence: 0, reason: 'schema', expected: version, detail, schema: diff } };
    }
    const metaFault = ledgerMetaFault(db, version);
    if (metaFault) return { head: 0, anchor: null, schemaFault: metaFault };
    const head = db.prepare(MAX_SEQUENCE_SQL).pluck().get() as number;
    const hashAt = db.prepare<[number], string>(HASH_AT_SQL).pluck();
    let anchorFault: VerifyFault | undefined;
    const outside: Array<['head_sidecar' | 'expected_head', () => LedgerHead | undefined]> = [
      ['head_sidecar', () => (options.headSidecar === false ? undefined : readHeadSidecar(path))],
      ['expected_head', () => options.expectedHead],
    ];
    for (const [reason, read] of outside) {
      let claimed: LedgerHead | undefined;
      try {
        claimed = read();
      } catch (error) {
        anchorFault ??= { sequence: 0, reason, detail: `the head sidecar cannot be read: ${(error as Error).message}` };
        continue;
      }
      if (!claimed) continue;
      const actual = hashAt.get(claimed.sequence);
      if (actual === claimed.contentHash) continue;
      const fault: VerifyFault = { sequence: claimed.sequence, reason, expected: claimed.contentHash, actual: actual ?? 'missing' };
      if (actual === undefined) fault.detail = `the newest row is ${head}`;
      if (!anchorFault || fault.sequence < anchorFault.sequence) anchorFault = fault;
    }
    // Row from-1 is outside the range; when it is missing, the link of row `from` is not checked.
    const anchor = from === 1 ? GENESIS_HASH : (hashAt.get(from - 1) ?? null);
    return anchorFault ? { head, anchor, anchorFault } : { head, anchor };
  } finally {
    db.close();
  }
}

/** The event_id index, the key tables, the type table and append_state against the chain [1, to] that just verified. */
function checkKeyTables(path: string, to: number, wholeFile: boolean): VerifyFault | undefined {
  const db = openReadConnection(path);
  try {
    return (wholeFile ? eventIdFault(db, to) : undefined) ?? keyTablesFault(db, to) ?? eventTypesTableFault(db, to) ?? appendStateFault(db, to);
  } finally {
    db.close();
  }
}

/** verify's trustedWitnesses and witnessQuorum, checked; undefined when neither is given. */
function outsideWitnesses(options: VerifyOptions): OutsideWitnesses | undefined {
  const { trustedWitnesses, witnessQuorum } = options;
  if (trustedWitnesses === undefined && witnessQuorum === undefined) return undefined;
  const witnesses: OutsideWitnesses = {};
  if (witnessQuorum !== undefined) witnesses.quorum = requireInteger('witnessQuorum', witnessQuorum, 1, MAX_WITNESSES);
  if (trustedWitnesses !== undefined) witnesses.trusted = requirePublicKeys('trustedWitnesses', trustedWitnesses);
  return witnesses;
}

function requireHead(name: string, head: LedgerHead): void {
  requireOptions(name, head);
  requireInteger(`${name}.sequence`, head.sequence, 1);
  if (typeof head.contentHash !== 'string') throw new TypeError(`${name}.contentHash must be a string, got ${typeof head.contentHash}`);
}

function missingAfterHead(head: number, from: number): VerifyFault {
  const sequence = Math.max(head + 1, from);
  return { sequence, reason: 'sequence_gap', expected: sequence };
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

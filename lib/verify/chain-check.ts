/**
 * The one row-by-row check of the hash chain, used by verification (a range per pool thread),
 * the writer's startup check and replica verification. Needs no registered functions.
 *
 * Inside a row the checks run in one order: sequence gap, prev_hash, stream_version,
 * content_hash, then signature. Structural faults come first, so an edited link or version is
 * named as such rather than as the content hash mismatch it also causes.
 *
 * A range [from, to] cannot check alone the link of its first row to the row before it: it
 * reports that row's prev_hash (and its own last content_hash) and the caller stitches. What a
 * range reads from before `from` (stream versions, agent keys) belongs to earlier ranges, which
 * check it; a fault there is at a lower sequence and wins, so the lowest fault over all ranges is
 * the fault a sequential walk would find.
 * @internal
 */
import type Database from 'better-sqlite3';
import { AT, EVENT_COLUMNS, GENESIS_HASH, HASHED_COLUMNS, type RawRow } from '../format/columns.ts';
import { eventHash } from '../format/hash-bytes.ts';
import { HASH_AT_SQL, MAX_SEQUENCE_SQL, witnessQuorumOf } from '../sqlite/queries.ts';
import type { VerifyFault, VerifyFaultReason } from './verify-fault.ts';
import { KeyRegistry } from './key-registry.ts';
import { INTEGER_STORAGE_SQL, LedgerRules, type HaltRow, type RuleFault, type WitnessRules } from './ledger-rules.ts';

/** Every rule fault of ledger-rules.ts is a reason of its own (checked by the compiler). */
type RuleReasonsAreReasons = RuleFault['reason'] extends VerifyFaultReason ? true : never;
const ruleReasonsAreReasons: RuleReasonsAreReasons = true;
void ruleReasonsAreReasons;

/** One range to check. */
export interface ChainRange {
  from: number;
  to: number;
  /** The first range of a check from sequence 1: rows below 1 are faults too. */
  openBelow: boolean;
  /**
   * Replay the rules (halts, reserved streams, keys, ceremonies) and check signatures against the
   * keys `$agents` registered before each row (default true). The writer's startup check skips
   * them: replaying every key of `$agents` would make each start pay for the whole history.
   */
  signatures?: boolean;
  /** What the verifier holds outside the file about ceremonies (verify's options). */
  witnesses?: OutsideWitnesses;
}

/**
 * What a verifier holds outside the file about ceremonies, so that a file whose settings were
 * edited (a lowered quorum, a witness key slipped in) does not judge its own ceremonies.
 */
export interface OutsideWitnesses {
  /** A ceremony needs at least this many signatures, whatever `ledger_meta.witness_quorum` says. */
  quorum?: number;
  /** Only these public keys (base64) count in a ceremony. */
  trusted?: readonly string[];
}

/** What a range found. */
export interface ChainRangeResult {
  /** Rows that passed, in order, before the fault if any. */
  checked: number;
  /** prev_hash of row `from` when that row exists; the caller checks it against the row before. */
  firstPrevHash: string | null;
  /** content_hash stored in row `to` when the whole range passed. */
  lastContentHash: string | null;
  fault?: VerifyFault;
}

const PAGE_ROWS = 4096;

/**
 * Sees each page of rows once every row of it passed, `first` being the sequence of `rows[0]`:
 * how verify's tree check takes the content hashes the chain check has just read and checked
 * instead of reading the events a second time.
 */
export type PassedPage = (first: number, rows: readonly RawRow[]) => void;

const INT64_MIN = -(2n ** 63n);
const HASHED = HASHED_COLUMNS.length;

/** Checks the rows of one range, in pages of {@link PAGE_ROWS}, and stops at the first fault. */
export function checkRange(
  db: Database.Database,
  { from, to, openBelow, signatures = true, witnesses }: ChainRange,
  onPassedPage?: PassedPage,
): ChainRangeResult {
  const page = db
    .prepare<[number | bigint, number, number], RawRow>(
      `SELECT ${EVENT_COLUMNS}, ${INTEGER_STORAGE_SQL} FROM events WHERE sequence >= ? AND sequence <= ? ORDER BY sequence LIMIT ?`,
    )
    .raw();
  const streamVersionBefore = db
    .prepare<[string, number], number | null>('SELECT max(stream_version) FROM events WHERE stream_id = ? AND sequence < ?')
    .pluck();

  const keys = signatures ? new KeyRegistry() : undefined;
  if (keys) {
    const earlierKeyEvents = db.prepare<[number], { type: string; payload: string | null }>(
      "SELECT type, payload FROM events WHERE stream_id = '$agents' AND sequence < ? ORDER BY sequence",
    );
    for (const event of earlierKeyEvents.iterate(from)) keys.apply(event.type, event.payload);
  }
  const rules = keys ? new LedgerRules(keys, witnessRules(db, witnesses), haltBefore(db, from), typesBefore(db, from)) : undefined;

  const versions = new Map<string, number>();
  let expected = from;
  let prevHash: string | null = null;
  let firstPrevHash: string | null = null;
  let checked = 0;
  let low: number | bigint = openBelow ? INT64_MIN : from;

  while (expected <= to) {
    const rows = page.all(low, to, PAGE_ROWS);
    const first = expected;
    for (const row of rows) {
      const fault = faultOf(row);
      if (fault) return { checked, firstPrevHash, lastContentHash: null, fault };
      checked++;
      expected++;
      prevHash = row[AT.content_hash] as string;
      versions.set(row[AT.stream_id] as string, row[AT.stream_version] as number);
      rules?.apply(row);
    }
    if (rows.length > 0) onPassedPage?.(first, rows);
    if (rows.length < PAGE_ROWS) break;
    low = expected;
  }
  if (expected <= to) {
    // Rows missing at the end of the range (or the whole range): the next row, if any, is later.
    const next = db.prepare<[number], number | null>('SELECT min(sequence) FROM events WHERE sequence > ?').pluck().get(expected);
    const fault: VerifyFault = { sequence: expected, reason: 'sequence_gap', expected };
    if (next !== null && next !== undefined) fault.actual = next;
    return { checked, firstPrevHash, lastContentHash: null, fault };
  }
  return { checked, firstPrevHash, lastContentHash: prevHash };

  function faultOf(row: RawRow): VerifyFault | undefined {
    const sequence = expected;
    if (row[AT.sequence] !== sequence) return { sequence, reason: 'sequence_gap', expected: sequence, actual: row[AT.sequence] as number };
    const storage = LedgerRules.storageFault(row);
    if (storage) return { sequence, ...storage };
    const rowPrevHash = row[AT.prev_hash] as string;
    if (prevHash === null) firstPrevHash = rowPrevHash;
    else if (rowPrevHash !== prevHash) return { sequence, reason: 'prev_hash', expected: prevHash, actual: rowPrevHash };
    const streamId = row[AT.stream_id] as string;
    let version = versions.get(streamId);
    if (version === undefined) version = streamVersionBefore.get(streamId, from) ?? -1;
    if (row[AT.stream_version] !== version + 1) {
      return { sequence, reason: 'stream_version', expected: version + 1, actual: row[AT.stream_version] as number };
    }
    const storedHash = row[AT.content_hash] as string;
    let actualHash: string;
    try {
      actualHash = eventHash(row.slice(0, HASHED));
    } catch (error) {
      return { sequence, reason: 'content_hash', expected: storedHash, actual: `unhashable: ${(error as Error).message}` };
    }
    if (actualHash !== storedHash) return { sequence, reason: 'content_hash', expected: storedHash, actual: actualHash };
    const broken = rules?.faultOf(row);
    if (broken) return { sequence, ...broken };
    const detail = keys?.faultOf(row);
    if (detail !== undefined) return { sequence, reason: 'signature', detail };
    return undefined;
  }
}

/** The newest `$halt` row before `from`: the halt state the range starts in. */
function haltBefore(db: Database.Database, from: number): HaltRow | undefined {
  return db
    .prepare<[number], HaltRow>("SELECT sequence, content_hash AS contentHash, type FROM events WHERE stream_id = '$halt' AND sequence < ? ORDER BY sequence DESC LIMIT 1")
    .get(from);
}

/** The payload of the newest `$types` row before `from`: the taxonomy the range starts in. */
function typesBefore(db: Database.Database, from: number): string | undefined {
  return db
    .prepare<[number], string>("SELECT payload FROM events WHERE stream_id = '$types' AND sequence < ? ORDER BY sequence DESC LIMIT 1")
    .pluck()
    .get(from);
}

/**
 * How this file's ceremonies are judged: `ledger_meta.witness_quorum` (2 before schema 2 wrote
 * it) and `independent_witnesses_since` (none before schema 6), both checked by verify as a
 * whole before the ranges, with what the verifier holds outside the file on top.
 */
function witnessRules(db: Database.Database, outside: OutsideWitnesses | undefined): WitnessRules {
  const meta = db.prepare<[string], string>('SELECT value FROM ledger_meta WHERE key = ?').pluck();
  const quorum = witnessQuorumOf(db);
  const since = meta.get('independent_witnesses_since');
  return {
    quorum: Math.max(quorum, outside?.quorum ?? 0),
    independentSince: since === undefined ? Infinity : Number(since),
    ...(outside?.trusted ? { trusted: new Set(outside.trusted) } : {}),
  };
}

/**
 * Checks [from, to] in one pass on one connection, the link of row `from` to the row before it
 * included (to the genesis hash for row 1; unchecked when the row before is missing, whose own
 * check finds it), exactly as `verifyLedgerFile` stitches its ranges. `to` defaults to the
 * newest row.
 */
export function checkChain(
  db: Database.Database,
  { from = 1, to, signatures = true, witnesses }: { from?: number; to?: number; signatures?: boolean; witnesses?: OutsideWitnesses } = {},
): { ok: boolean; checked: number; firstBad?: VerifyFault } {
  const last = to ?? (db.prepare(MAX_SEQUENCE_SQL).pluck().get() as number);
  if (last < from) return { ok: true, checked: 0 };
  const result = checkRange(db, { from, to: last, openBelow: from === 1, signatures, ...(witnesses ? { witnesses } : {}) });
  const gapAtStart = result.fault?.reason === 'sequence_gap' && result.fault.sequence === from;
  if (!gapAtStart && result.firstPrevHash !== null) {
    const anchor = from === 1 ? GENESIS_HASH : db.prepare<[number], string>(HASH_AT_SQL).pluck().get(from - 1);
    if (anchor !== undefined && result.firstPrevHash !== anchor) {
      return { ok: false, checked: 0, firstBad: { sequence: from, reason: 'prev_hash', expected: anchor, actual: result.firstPrevHash } };
    }
  }
  if (result.fault) return { ok: false, checked: result.checked, firstBad: result.fault };
  return { ok: true, checked: result.checked };
}

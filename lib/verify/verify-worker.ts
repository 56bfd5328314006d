/**
 * One range of {@link verifyLedgerFile}, run on a piscina thread over its own read-only
 * connection. Imports only pure helpers, never main-side classes.
 *
 * A range [from, to] is checked exactly as `checkChain` (chain-check.ts) checks the whole chain,
 * in the same order inside a row: sequence gap, prev_hash, stream_version, content_hash, and then
 * signature. The one thing a range cannot check alone is the link of its first row to the row
 * before it: it reports that row's prev_hash (and its own last content_hash) and the main side
 * stitches neighbouring ranges. Everything a range reads from before `from` (stream versions,
 * agent keys) belongs to earlier ranges, which check it; a fault there is at a lower sequence and
 * wins, so the lowest fault over all ranges is the fault a sequential walk would find.
 * @internal
 */
import type Database from 'better-sqlite3';
import { EVENT_COLUMNS } from '../format/columns.ts';
import { eventHash, signedBytesOf } from '../format/hash-bytes.ts';
import { HASHED_COLUMNS, SIGNED_COLUMNS } from '../format/columns.ts';
import { verifyEd25519 } from '../format/ed25519.ts';
import { openReadConnection } from '../sqlite/native-sql.ts';

/**
 * Why a row fails verification.
 *
 * @example
 * ```ts
 * // `to` claims that the rows up to a head signed earlier exist, so a truncated tail is caught.
 * const { firstBad } = await verifyLedgerFile('audit.db', { to: signedHead.sequence });
 * if (firstBad?.reason === 'sequence_gap') console.error('rows missing from', firstBad.sequence);
 * ```
 */
export type VerifyFaultReason = 'sequence_gap' | 'prev_hash' | 'stream_version' | 'content_hash' | 'signature';

/**
 * The first row that fails verification, and why.
 *
 * @example
 * ```ts
 * const { firstBad } = await ledger.verify();
 * if (firstBad) console.error(`#${firstBad.sequence} ${firstBad.reason}`, firstBad.expected, firstBad.actual, firstBad.detail);
 * ```
 */
export interface VerifyFault {
  /** Sequence of the faulty (or, for `sequence_gap`, missing) row. */
  sequence: number;
  reason: VerifyFaultReason;
  /** What the row should hold: the expected sequence, link, version or stored hash. */
  expected?: string | number;
  /** What it holds: the sequence found instead, the stored link or version, the recomputed hash. */
  actual?: string | number;
  /** A sentence for `signature` faults: which rule the row breaks. */
  detail?: string;
}

/** One range to check. */
export interface RangeTask {
  path: string;
  from: number;
  to: number;
  /** The first range of a check from sequence 1: rows below 1 are faults too. */
  openBelow: boolean;
}

/** What a range found. */
export interface RangeResult {
  /** Rows that passed, in order, before the fault if any. */
  checked: number;
  /** prev_hash of row `from` when that row exists; the main side checks it against the row before. */
  firstPrevHash: string | null;
  /** content_hash stored in row `to` when the whole range passed. */
  lastContentHash: string | null;
  fault?: VerifyFault;
}

const PAGE_ROWS = 4096;
const INT64_MIN = -(2n ** 63n);

/**
 * Rows are read as arrays in {@link EVENT_COLUMNS} order (the hashed columns, then content_hash):
 * building an object per row costs more than hashing it. Hashing the first
 * `HASHED_COLUMNS.length` values is exactly `rowHash()` of the same row.
 */
type RawRow = unknown[];
const column = (name: string): number => EVENT_COLUMNS.split(', ').indexOf(name);
const SEQUENCE = column('sequence');
const STREAM_ID = column('stream_id');
const STREAM_VERSION = column('stream_version');
const TYPE = column('type');
const PAYLOAD = column('payload');
const AGENT_ID = column('agent_id');
const SIGNATURE = column('signature');
const PREV_HASH = column('prev_hash');
const CONTENT_HASH = column('content_hash');
const HASHED = HASHED_COLUMNS.length;
const SIGNED = SIGNED_COLUMNS.map(column);
if (CONTENT_HASH !== HASHED || HASHED_COLUMNS.some((name, i) => column(name) !== i)) {
  throw new Error('EVENT_COLUMNS must be HASHED_COLUMNS followed by content_hash');
}

interface AgentKey {
  publicKey: string;
  role: string;
  revoked: boolean;
}

/** Agent keys as the `$agents` events registered and revoked them, up to some sequence. */
class KeyRegistry {
  readonly #agents = new Map<string, Map<string, AgentKey>>();

  apply(type: string, payload: string | null): void {
    let body: unknown;
    try {
      body = payload === null ? undefined : JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof body !== 'object' || body === null) return;
    const { agentId, keyId, publicKey, role } = body as Record<string, unknown>;
    if (typeof agentId !== 'string' || typeof keyId !== 'string') return;
    let keys = this.#agents.get(agentId);
    if (type === 'stele.agent_key_registered') {
      if (typeof publicKey !== 'string' || typeof role !== 'string') return;
      if (!keys) this.#agents.set(agentId, (keys = new Map()));
      if (!keys.has(keyId)) keys.set(keyId, { publicKey, role, revoked: false });
    } else if (type === 'stele.agent_key_revoked') {
      const key = keys?.get(keyId);
      if (key) key.revoked = true;
    }
  }

  /** Why `row`'s signature is not valid here, or undefined when it is (or the row is unsigned). */
  faultOf(row: RawRow): string | undefined {
    const agentId = row[AGENT_ID] as string | null;
    const signature = row[SIGNATURE] as string | null;
    if (signature === null && agentId === null) return undefined;
    if (signature === null || agentId === null) return 'agent_id and signature must be set together';
    const keys = [...(this.#agents.get(agentId)?.values() ?? [])].filter((key) => key.role === 'agent');
    if (keys.length === 0) return `no agent key of '${agentId}' was registered before this event`;
    const active = keys.filter((key) => !key.revoked);
    if (active.length === 0) return `every key of '${agentId}' was revoked before this event`;
    let message: Buffer;
    try {
      message = signedBytesOf(SIGNED.map((index) => row[index]));
    } catch (error) {
      return `the signed fields cannot be encoded: ${(error as Error).message}`;
    }
    if (active.some((key) => verifyEd25519(key.publicKey, message, signature))) return undefined;
    return `the signature does not verify against any active key of '${agentId}'`;
  }
}

/** Checks one range; the piscina task handler. */
export default function verifyRange(task: RangeTask): RangeResult {
  const db = openReadConnection(task.path);
  try {
    return checkRange(db, task);
  } finally {
    db.close();
  }
}

function checkRange(db: Database.Database, { from, to, openBelow }: RangeTask): RangeResult {
  const page = db
    .prepare<[number | bigint, number, number], RawRow>(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE sequence >= ? AND sequence <= ? ORDER BY sequence LIMIT ?`,
    )
    .raw();
  const streamVersionBefore = db
    .prepare<[string, number], number | null>('SELECT max(stream_version) FROM events WHERE stream_id = ? AND sequence < ?')
    .pluck();

  const keys = new KeyRegistry();
  const earlierKeyEvents = db.prepare<[number], { type: string; payload: string | null }>(
    "SELECT type, payload FROM events WHERE stream_id = '$agents' AND sequence < ? ORDER BY sequence",
  );
  for (const event of earlierKeyEvents.iterate(from)) keys.apply(event.type, event.payload);

  const versions = new Map<string, number>();
  let expected = from;
  let prevHash: string | null = null;
  let firstPrevHash: string | null = null;
  let checked = 0;
  let low: number | bigint = openBelow ? INT64_MIN : from;

  while (expected <= to) {
    const rows = page.all(low, to, PAGE_ROWS);
    for (const row of rows) {
      const fault = faultOf(row);
      if (fault) return { checked, firstPrevHash, lastContentHash: null, fault };
      checked++;
      expected++;
      prevHash = row[CONTENT_HASH] as string;
      versions.set(row[STREAM_ID] as string, row[STREAM_VERSION] as number);
      if (row[STREAM_ID] === '$agents') keys.apply(row[TYPE] as string, row[PAYLOAD] as string | null);
    }
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

  /** The checks of chain-check.ts, in its order, then the signature. */
  function faultOf(row: RawRow): VerifyFault | undefined {
    const sequence = expected;
    if (row[SEQUENCE] !== sequence) return { sequence, reason: 'sequence_gap', expected: sequence, actual: row[SEQUENCE] as number };
    const rowPrevHash = row[PREV_HASH] as string;
    if (prevHash === null) firstPrevHash = rowPrevHash;
    else if (rowPrevHash !== prevHash) return { sequence, reason: 'prev_hash', expected: prevHash, actual: rowPrevHash };
    const streamId = row[STREAM_ID] as string;
    let version = versions.get(streamId);
    if (version === undefined) version = streamVersionBefore.get(streamId, from) ?? -1;
    if (row[STREAM_VERSION] !== version + 1) {
      return { sequence, reason: 'stream_version', expected: version + 1, actual: row[STREAM_VERSION] as number };
    }
    const storedHash = row[CONTENT_HASH] as string;
    let actualHash: string;
    try {
      actualHash = eventHash(row.slice(0, HASHED));
    } catch (error) {
      return { sequence, reason: 'content_hash', expected: storedHash, actual: `unhashable: ${(error as Error).message}` };
    }
    if (actualHash !== storedHash) return { sequence, reason: 'content_hash', expected: storedHash, actual: actualHash };
    const detail = keys.faultOf(row);
    if (detail !== undefined) return { sequence, reason: 'signature', detail };
    return undefined;
  }
}

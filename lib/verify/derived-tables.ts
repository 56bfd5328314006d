/**
 * The tables that are not hashed, compared with what the chain says they must hold:
 * `ledger_meta`'s fixed settings, `agent_keys` (one row per registration) and
 * `agent_key_revocations` (one row per revocation), `event_types` (the newest `$types` set),
 * `append_state` (what the chain says of halts, the taxonomy and required signatures).
 * FORMAT.md "Verifying a ledger", steps 12-13.
 * Run once per verification, on the main thread, after the chain passed: a table fault has no
 * sequence of its own (reported as 0), and a chain fault explains the table's anyway.
 * @internal
 */
import type Database from 'better-sqlite3';
import type { VerifyFault } from './verify-fault.ts';

/** `ledger_meta` keys whose value the format fixes, and from which schema version. */
const FIXED_META: Array<[key: string, value: RegExp, since: number]> = [
  ['format', /^stele$/, 1],
  ['event_hash', /^stele\/event\/v1$/, 1],
  ['created_at', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 1],
  ['witness_quorum', /^[1-9][0-9]*$/, 2],
  ['independent_witnesses_since', /^[1-9][0-9]*$/, 6],
];

/** `ledger_meta` as the format fixes it, or the fault. */
export function ledgerMetaFault(db: Database.Database, version: number): VerifyFault | undefined {
  const meta = new Map(db.prepare<[], { key: string; value: unknown }>('SELECT key, value FROM ledger_meta').all().map((row) => [row.key, row.value]));
  for (const [key, pattern, since] of FIXED_META) {
    if (version < since) continue;
    const value = meta.get(key);
    if (typeof value !== 'string' || !pattern.test(value)) {
      return { sequence: 0, reason: 'ledger_meta', expected: pattern.source, actual: value === undefined ? 'missing' : String(value), detail: `ledger_meta.${key}` };
    }
  }
  return undefined;
}

/**
 * Every row [1, head] is in the UNIQUE index of event_id, which leads back to it. Counting the
 * index's entries is cheap (its own small b-tree); only when the count is not the chain's length
 * are the rows looked up one by one, to name the lowest the index does not lead to: a row
 * written below SQLite beside another with its event_id (a signed event copied to the end and
 * re-hashed, its signature covering neither sequence nor stream version).
 */
export function eventIdFault(db: Database.Database, head: number): VerifyFault | undefined {
  // count(event_id), not count(*): for count(*) SQLite scans the smallest index whatever INDEXED BY
  // says (since schema 7, the one on authority_timestamp), which holds every row.
  const indexed = db.prepare<[], number>('SELECT count(event_id) FROM events INDEXED BY sqlite_autoindex_events_1').pluck().get();
  if (indexed === head) return undefined;
  const row = db
    .prepare<[], { sequence: number; indexed: number | null }>(
      'SELECT e.sequence, (SELECT d.sequence FROM events AS d INDEXED BY sqlite_autoindex_events_1 WHERE d.event_id = e.event_id) AS indexed FROM events AS e NOT INDEXED WHERE indexed IS NOT e.sequence ORDER BY e.sequence LIMIT 1',
    )
    .get();
  const sequence = row?.sequence ?? 0;
  return { sequence, reason: 'event_id', expected: sequence, actual: row?.indexed ?? 'missing', detail: `the event_id index holds ${indexed} entries for ${head} rows` };
}

interface KeyEvent {
  sequence: number;
  type: string;
  payload: string | null;
}

/**
 * `agent_keys` and `agent_key_revocations` hold exactly one row per `$agents` registration and
 * revocation of the chain, with its sequence and the payload's values. Only for a check of the
 * whole chain (rows after `to` may have rows of their own in these tables).
 */
export function keyTablesFault(db: Database.Database, to: number): VerifyFault | undefined {
  const events = db
    .prepare<[number], KeyEvent>("SELECT sequence, type, payload FROM events WHERE stream_id = '$agents' AND sequence <= ? ORDER BY sequence")
    .all(to);
  const expectedKeys: string[] = [];
  const expectedRevocations: string[] = [];
  for (const event of events) {
    const body = parse(event.payload);
    if (event.type === 'stele.agent_key_registered') {
      expectedKeys.push(JSON.stringify([body.agentId, body.keyId, body.publicKey, body.role, event.sequence]));
    } else if (event.type === 'stele.agent_key_revoked') {
      expectedRevocations.push(JSON.stringify([body.agentId, body.keyId, event.sequence, typeof body.reason === 'string' ? body.reason : '']));
    }
  }
  const keys = db
    .prepare<[number], unknown[]>('SELECT agent_id, key_id, public_key, role, registered_sequence FROM agent_keys WHERE registered_sequence <= ? ORDER BY registered_sequence')
    .raw()
    .all(to)
    .map((row) => JSON.stringify(row));
  const revocations = db
    .prepare<[number], unknown[]>('SELECT agent_id, key_id, revoked_sequence, reason FROM agent_key_revocations WHERE revoked_sequence <= ? ORDER BY revoked_sequence')
    .raw()
    .all(to)
    .map((row) => JSON.stringify(row));
  return tableFault('agent_keys', expectedKeys, keys) ?? tableFault('agent_key_revocations', expectedRevocations, revocations);
}

/** The schema version from which `event_types` is derived from the chain (upgrades/008). */
const EVENT_TYPES_IN_CHAIN_SINCE = 8;

/**
 * `event_types` holds exactly the set of the newest `$types` row up to `to` (none: empty), when no
 * later `$types` row changed it. Before schema 8 each writer wrote the table itself, unchecked.
 */
export function eventTypesTableFault(db: Database.Database, to: number): VerifyFault | undefined {
  if ((db.pragma('user_version', { simple: true }) as number) < EVENT_TYPES_IN_CHAIN_SINCE) return undefined;
  const newest = db.prepare<[], { sequence: number; payload: string | null }>("SELECT sequence, payload FROM events WHERE stream_id = '$types' ORDER BY sequence DESC LIMIT 1").get();
  if (newest && newest.sequence > to) return undefined;
  const types = parse(newest?.payload ?? null).types;
  const expected = (Array.isArray(types) ? (types as unknown[]) : []).map((type) => JSON.stringify(type));
  const actual = db.prepare<[], unknown>('SELECT type FROM event_types ORDER BY type').pluck().all().map((type) => JSON.stringify(type));
  return tableFault('event_types', expected, actual);
}

/** The schema version that keeps append_state (upgrades/011). */
const APPEND_STATE_SINCE = 11;

/**
 * The row of `append_state`, when the file has one, holds what the chain up to `to` says, when
 * no later `$halt` or `$types` row changed it: halted, a taxonomy in force, signatures required.
 */
export function appendStateFault(db: Database.Database, to: number): VerifyFault | undefined {
  if ((db.pragma('user_version', { simple: true }) as number) < APPEND_STATE_SINCE) return undefined;
  const row = db.prepare<[], { halted: number; typed: number; signatures_required: number }>('SELECT halted, typed, signatures_required FROM append_state').get();
  if (!row) return undefined;
  const newest = (stream: string) =>
    db.prepare<[string], { sequence: number; type: string; payload: string | null }>('SELECT sequence, type, payload FROM events WHERE stream_id = ? ORDER BY sequence DESC LIMIT 1').get(stream);
  const halt = newest('$halt');
  const types = newest('$types');
  if ((halt && halt.sequence > to) || (types && types.sequence > to)) return undefined;
  const set = parse(types?.payload ?? null).types;
  const required = db.prepare<[], number>("SELECT EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')").pluck().get();
  const expected = JSON.stringify([halt?.type === 'stele.halted' ? 1 : 0, Array.isArray(set) && set.length > 0 ? 1 : 0, required]);
  return tableFault('append_state', [expected], [JSON.stringify([row.halted, row.typed, row.signatures_required])]);
}

function tableFault(table: string, expected: string[], actual: string[]): VerifyFault | undefined {
  const length = Math.max(expected.length, actual.length);
  for (let i = 0; i < length; i++) {
    if (expected[i] !== actual[i]) {
      return { sequence: 0, reason: 'derived_table', expected: expected[i] ?? 'no row', actual: actual[i] ?? 'no row', detail: table };
    }
  }
  return undefined;
}

function parse(payload: string | null): Record<string, unknown> {
  try {
    const value: unknown = payload === null ? null : JSON.parse(payload);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

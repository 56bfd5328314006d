/**
 * `ledger.events(query)`: a lazy, synchronous iteration over stored events that holds one page in
 * memory whatever the size of the ledger. Each page is one keyset read on the read connection
 * (`sequence > last` or, within a stream, `stream_version > last`), so a page costs an index seek,
 * never an OFFSET scan, and nothing stays open between pages: appends go on beside it.
 *
 * `since`/`until` first narrow the sequence range to the rows of the time window, through the
 * index on `authority_timestamp` (007-event-time-index.sql), then filter inside the paged scan:
 * authority timestamps follow the sequence only as far as the database clock does, so the window
 * is bounded by its lowest and highest sequence, never assumed contiguous. A file opened for
 * reading before its writer added the index is scanned instead, with the same result.
 */
import { requireBoolean, requireInteger, requireKnownKeys, requireOptions, requireTypeList } from '../arguments.ts';
import { describeValue } from '../errors.ts';
import type { LedgerEvent } from '../event.ts';
import { EVENT_COLUMNS, type EventRow } from '../format/columns.ts';
import { decodeRow } from '../format/event-decoding.ts';

/**
 * What {@link Ledger.events} reads. Every field is optional; together they are ANDed.
 *
 * @example
 * ```ts
 * const query: EventQuery = { streamId: 'acct-1', types: ['deposited'], since: new Date('2026-01-01'), limit: 100 };
 * for (const event of ledger.events(query)) console.log(event.sequence, event.payload);
 * ```
 */
export interface EventQuery {
  /** Lowest sequence (default 1). To resume after an event, pass its `sequence + 1`. */
  from?: number;
  /** Highest sequence (default: the head when iteration starts, so appends during it are not chased). */
  to?: number;
  /** Only this stream's events. */
  streamId?: string;
  /** Only events of these types (a non-empty list). */
  types?: readonly string[];
  /** Only events whose authority timestamp is at or after this time. */
  since?: Date;
  /** Only events whose authority timestamp is before this time. */
  until?: Date;
  /** Newest first (default false: sequence order). */
  reverse?: boolean;
  /** Most events to yield (default: all). */
  limit?: number;
  /** Rows read per page, which bounds the memory of the iteration (default 500, at most 10,000). */
  pageSize?: number;
}

/** @internal What a query needs of the read connection. */
export interface QueryConnection {
  /** Runs `sql` with positional `params`, every row at once (one page). */
  queryPage(sql: string, params: readonly unknown[]): EventRow[];
  /** The head's sequence, 0 when empty. */
  maxSequence(): number;
}

const KNOWN = ['from', 'to', 'streamId', 'types', 'since', 'until', 'reverse', 'limit', 'pageSize'];
const DEFAULT_PAGE_SIZE = 500;
const MAX_PAGE_SIZE = 10_000;

interface ResolvedQuery {
  from: number;
  to: number | undefined;
  streamId: string | undefined;
  typesJson: string | undefined;
  since: number | undefined;
  until: number | undefined;
  reverse: boolean;
  limit: number;
  pageSize: number;
}

function timeOf(name: string, value: unknown): number {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError(`${name} must be a valid Date, got ${describeValue(value)}`);
  return value.getTime();
}

/** Defaults, then validation naming the option and the fix. Runs when `events()` is called, not when iterated. */
function resolveQuery(given: EventQuery | undefined): ResolvedQuery {
  const query = requireOptions('events query', given) as EventQuery;
  requireKnownKeys(query, KNOWN, 'events');
  const from = query.from === undefined ? 1 : requireInteger('from', query.from, 1);
  const to = query.to === undefined ? undefined : requireInteger('to', query.to, 0);
  let streamId: string | undefined;
  if (query.streamId !== undefined) {
    if (typeof query.streamId !== 'string' || query.streamId.length === 0) throw new TypeError(`streamId must be a non-empty string, got ${describeValue(query.streamId)}`);
    streamId = query.streamId;
  }
  let typesJson: string | undefined;
  if (query.types !== undefined) typesJson = requireTypeList(query.types, 'read every type');
  return {
    from,
    to,
    streamId,
    typesJson,
    since: query.since === undefined ? undefined : timeOf('since', query.since),
    until: query.until === undefined ? undefined : timeOf('until', query.until),
    reverse: query.reverse === undefined ? false : requireBoolean('reverse', query.reverse),
    limit: query.limit === undefined ? Infinity : requireInteger('limit', query.limit, 0),
    pageSize: query.pageSize === undefined ? DEFAULT_PAGE_SIZE : requireInteger('pageSize', query.pageSize, 1, MAX_PAGE_SIZE),
  };
}

/**
 * The SQL of one page and its parameters after `cursor` (exclusive; undefined on the first page).
 * The whole ledger is paged by sequence, its primary key, with exactly one lower and one upper
 * bound on it (the cursor folded into them), so each page starts with a seek: two lower bounds
 * would let SQLite seek on the first and scan every earlier page again. A stream is paged by
 * stream_version on its UNIQUE (stream_id, stream_version) index, which orders it exactly as
 * sequence does; there the sequence bounds are written `+sequence` so that the planner filters
 * on them and never prefers the primary key's range to the stream's index.
 */
function page(query: ResolvedQuery, from: number, to: number, cursor: number | undefined, size: number): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  let key: string;
  if (query.streamId === undefined) {
    key = 'sequence';
    const low = cursor !== undefined && !query.reverse ? cursor + 1 : from;
    const high = cursor !== undefined && query.reverse ? cursor - 1 : to;
    where.push('sequence >= ?', 'sequence <= ?');
    params.push(low, high);
  } else {
    key = 'stream_version';
    where.push('stream_id = ?', '+sequence >= ?', '+sequence <= ?');
    params.push(query.streamId, from, to);
    if (cursor !== undefined) {
      where.push(`stream_version ${query.reverse ? '<' : '>'} ?`);
      params.push(cursor);
    }
  }
  if (query.typesJson !== undefined) {
    where.push('type IN (SELECT value FROM json_each(?))');
    params.push(query.typesJson);
  }
  // `+`: filters inside the keyset scan; the time index already bounded the range (timeWindow).
  where.push(...timeFilter(query, '+authority_timestamp', params));
  params.push(size);
  const order = `${key} ${query.reverse ? 'DESC' : 'ASC'}`;
  return { sql: `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where.join(' AND ')} ORDER BY ${order} LIMIT ?`, params };
}

/**
 * The lazy iteration of a query: options checked now, pages read as the consumer pulls.
 * `assertOpen` runs before each page, so a ledger closed mid-iteration ends it with LEDGER_CLOSED.
 * @internal
 */
export function queryEvents(connection: QueryConnection, given: EventQuery | undefined, assertOpen: () => void): Generator<LedgerEvent, void, undefined> {
  const query = resolveQuery(given);
  return iterate(connection, query, assertOpen);
}

/** The `since`/`until` conditions on `column`, their values pushed to `params`. */
function timeFilter(query: ResolvedQuery, column: string, params: unknown[]): string[] {
  const where: string[] = [];
  if (query.since !== undefined) {
    where.push(`${column} >= ?`);
    params.push(query.since);
  }
  if (query.until !== undefined) {
    where.push(`${column} < ?`);
    params.push(query.until);
  }
  return where;
}

/**
 * The lowest and highest sequence of the rows in the query's time window, read on the index of
 * `authority_timestamp` (only the window's index entries); undefined when the window is empty.
 */
function timeWindow(connection: QueryConnection, query: ResolvedQuery): { low: number; high: number } | undefined {
  const params: unknown[] = [];
  const where = timeFilter(query, 'authority_timestamp', params);
  const [row] = connection.queryPage(`SELECT min(sequence) AS low, max(sequence) AS high FROM events WHERE ${where.join(' AND ')}`, params) as unknown as Array<{
    low: number | null;
    high: number | null;
  }>;
  return row?.low == null || row.high == null ? undefined : { low: row.low, high: row.high };
}

function* iterate(connection: QueryConnection, query: ResolvedQuery, assertOpen: () => void): Generator<LedgerEvent, void, undefined> {
  assertOpen();
  let from = query.from;
  let to = query.to ?? connection.maxSequence();
  if (query.streamId === undefined && (query.since !== undefined || query.until !== undefined)) {
    const window = timeWindow(connection, query);
    if (!window) return;
    from = Math.max(from, window.low);
    to = Math.min(to, window.high);
  }
  let remaining = query.limit;
  let cursor: number | undefined;
  while (remaining > 0) {
    const size = Math.min(query.pageSize, remaining);
    const { sql, params } = page(query, from, to, cursor, size);
    const rows = connection.queryPage(sql, params);
    for (const row of rows) {
      yield decodeRow(row);
      remaining--;
    }
    if (rows.length < size) return;
    const last = rows[rows.length - 1]!;
    cursor = query.streamId === undefined ? last.sequence : last.stream_version;
    assertOpen();
  }
}

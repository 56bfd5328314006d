/**
 * The columns of an `events` row: their SQLite names, the order they are hashed in and the
 * fields an agent signs. FORMAT.md lists the same orders.
 * @internal
 */
/** `prev_hash` of the first event: 64 zero hex digits. */
export const GENESIS_HASH = '0'.repeat(64);

/** The columns of an event row in hash order; FORMAT.md lists the same order. */
export const HASHED_COLUMNS = [
  'sequence',
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'payload',
  'payload_meta',
  'metadata',
  'metadata_meta',
  'agent_id',
  'signature',
  'local_timestamp',
  'authority_timestamp',
  'prev_hash',
] as const;

/** Columns the database assigns when the row is inserted: an agent cannot sign them in advance. */
const ASSIGNED_COLUMNS: readonly string[] = ['sequence', 'stream_version', 'signature', 'authority_timestamp', 'prev_hash'];

/**
 * The event fields an agent signs, in order: the hashed columns but those the database assigns
 * (and the signature itself). FORMAT.md lists the same nine.
 */
export const SIGNED_COLUMNS = HASHED_COLUMNS.filter((column) => !ASSIGNED_COLUMNS.includes(column));

/** An `events` row with SQLite's column names. */
export interface EventRow {
  sequence: number;
  event_id: string;
  stream_id: string;
  stream_version: number;
  type: string;
  payload: string | null;
  payload_meta: string | null;
  metadata: string | null;
  metadata_meta: string | null;
  agent_id: string | null;
  signature: string | null;
  local_timestamp: number;
  authority_timestamp: number;
  prev_hash: string;
  content_hash: string;
}

/** Every column of an `events` row in SELECT order: the hashed columns, then `content_hash`. */
export const ROW_COLUMNS = [...HASHED_COLUMNS, 'content_hash'] as const;

/** {@link ROW_COLUMNS} for a SELECT. */
export const EVENT_COLUMNS = ROW_COLUMNS.join(', ');

/**
 * A row read with better-sqlite3's `.raw()`: its values in {@link ROW_COLUMNS} order. The hot
 * loops (verification, replication) read rows as arrays: an object per row costs more than
 * hashing it. Its first `HASHED_COLUMNS.length` values are exactly the hashed columns.
 */
export type RawRow = unknown[];

/** Where each column is in a {@link RawRow}. */
export const AT = Object.fromEntries(ROW_COLUMNS.map((name, index) => [name, index])) as Record<(typeof ROW_COLUMNS)[number], number>;

/** Where the signed fields are in a {@link RawRow}, in signing order. */
export const SIGNED_AT = SIGNED_COLUMNS.map((name) => AT[name]);

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

/** The event fields an agent signs, in order; FORMAT.md lists the same. */
export const SIGNED_COLUMNS = [
  'event_id',
  'stream_id',
  'type',
  'payload',
  'payload_meta',
  'metadata',
  'metadata_meta',
  'agent_id',
  'local_timestamp',
] as const;

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

/** Every column of an `events` row, for a SELECT. */
export const EVENT_COLUMNS = [...HASHED_COLUMNS, 'content_hash'].join(', ');

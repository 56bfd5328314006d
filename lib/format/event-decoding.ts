/**
 * A stored `events` row back into the {@link LedgerEvent} callers read.
 * @internal
 */
import { LedgerError } from '../errors.ts';
import type { LedgerEvent } from '../event.ts';
import type { EventRow } from './columns.ts';
import { decodeValue } from './value-codec.ts';

/**
 * The event a row holds, its values decoded. A payload or metadata that cannot be decoded (text
 * Stele never writes: bad JSON, annotations naming an unknown type, an element out of range) is
 * `UNDECODABLE_EVENT` with `details: { sequence, field, reason }`, never an uncoded error, so that
 * a reader can tell one foreign row from a broken ledger and skip or report it.
 */
export function decodeRow(row: EventRow): LedgerEvent {
  return {
    sequence: row.sequence,
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    type: row.type,
    payload: decodeField(row, 'payload', row.payload, row.payload_meta),
    metadata: decodeField(row, 'metadata', row.metadata, row.metadata_meta),
    agentId: row.agent_id ?? undefined,
    signature: row.signature ?? undefined,
    localTimestamp: new Date(row.local_timestamp),
    authorityTimestamp: new Date(row.authority_timestamp),
    prevHash: row.prev_hash,
    contentHash: row.content_hash,
  };
}

function decodeField(row: EventRow, field: 'payload' | 'metadata', json: string | null, meta: string | null): unknown {
  try {
    return decodeValue(json, meta);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw LedgerError.of('UNDECODABLE_EVENT', { sequence: row.sequence, field, reason }, `${field} of event ${row.sequence}: ${reason}`);
  }
}

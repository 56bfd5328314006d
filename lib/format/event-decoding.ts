/**
 * A stored `events` row back into the {@link LedgerEvent} callers read.
 * @internal
 */
import type { LedgerEvent } from '../event.ts';
import type { EventRow } from './columns.ts';
import { decodeValue } from './value-codec.ts';

/** The event a row holds, its values decoded. */
export function decodeRow(row: EventRow): LedgerEvent {
  return {
    sequence: row.sequence,
    eventId: row.event_id,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    type: row.type,
    payload: decodeValue(row.payload, row.payload_meta),
    metadata: decodeValue(row.metadata, row.metadata_meta),
    agentId: row.agent_id ?? undefined,
    signature: row.signature ?? undefined,
    localTimestamp: new Date(row.local_timestamp),
    authorityTimestamp: new Date(row.authority_timestamp),
    prevHash: row.prev_hash,
    contentHash: row.content_hash,
  };
}

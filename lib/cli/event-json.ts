/**
 * The JSON form of an event that `stele get`, `tail --json` and `export` print.
 * @internal
 */
import { encodeValue } from '../format/value-codec.ts';
import type { LedgerEvent } from '../index.ts';

/**
 * An event as stored, one key per column in hash order (FORMAT.md): payload and metadata are the
 * stored JSON with superjson's type annotations beside them (`payloadMeta`, present only when the
 * value is not plain JSON), timestamps are ISO 8601 with milliseconds. Keys of absent values
 * (undefined payload, unsigned event) are omitted. Nothing is lost: Date, BigInt, Map and Set
 * come back with `superjson.deserialize({ json: payload, meta: payloadMeta })`.
 */
export interface EventJson {
  sequence: number;
  eventId: string;
  streamId: string;
  streamVersion: number;
  type: string;
  payload?: unknown;
  payloadMeta?: unknown;
  metadata?: unknown;
  metadataMeta?: unknown;
  agentId?: string;
  signature?: string;
  localTimestamp: string;
  authorityTimestamp: string;
  prevHash: string;
  contentHash: string;
}

/** The {@link EventJson} of a decoded event, re-encoded with the codec that stored it. */
export function eventJson(event: LedgerEvent): EventJson {
  const payload = encodeValue(event.payload, 'payload');
  const metadata = encodeValue(event.metadata, 'metadata');
  return {
    sequence: event.sequence,
    eventId: event.eventId,
    streamId: event.streamId,
    streamVersion: event.streamVersion,
    type: event.type,
    payload: parsed(payload.json),
    payloadMeta: parsed(payload.meta),
    metadata: parsed(metadata.json),
    metadataMeta: parsed(metadata.meta),
    agentId: event.agentId,
    signature: event.signature,
    localTimestamp: event.localTimestamp.toISOString(),
    authorityTimestamp: event.authorityTimestamp.toISOString(),
    prevHash: event.prevHash,
    contentHash: event.contentHash,
  };
}

/** Stored NULL becomes an omitted key (JSON.stringify drops undefined), JSON `null` stays null. */
function parsed(text: string | null): unknown {
  return text === null ? undefined : JSON.parse(text);
}

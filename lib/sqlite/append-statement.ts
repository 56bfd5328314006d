/**
 * The one way a row enters a ledger (the append view, whose trigger assigns everything else),
 * and the one mapping from what a trigger raised back to a coded {@link LedgerError}.
 * @internal
 */
import { LedgerError, type LedgerErrorCode } from '../errors.ts';
import type { EncodedEvent } from '../format/event-encoding.ts';

/** The one way in: the append view, whose trigger assigns everything else. */
export const APPEND_SQL = `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
                                              agent_id, signature, local_timestamp, expected_version)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** Positional parameters bind measurably faster than named ones in better-sqlite3. */
export function appendArgs(event: EncodedEvent): unknown[] {
  return [
    event.eventId,
    event.streamId,
    event.type,
    event.payload,
    event.payloadMeta,
    event.metadata,
    event.metadataMeta,
    event.agentId,
    event.signature,
    event.localTimestamp,
    event.expectedVersion,
  ];
}

/**
 * What a trigger raised: a literal `STELE:CODE` or `STELE:CODE:<details>` (a JSON object, or a
 * bare word naming a field). Literal, because SQLite before 3.47 cannot load a schema whose RAISE
 * has an expression, and FORMAT.md promises the file reads with any SQLite.
 */
export function parseRaised(message: string): { code: LedgerErrorCode; details: Record<string, unknown> } | undefined {
  const match = /^STELE:([A-Z_]+)(?::(.*))?$/s.exec(message);
  if (!match) return undefined;
  const rest = match[2];
  const details: Record<string, unknown> = rest?.startsWith('{') ? (JSON.parse(rest) as Record<string, unknown>) : rest ? { field: rest } : {};
  return { code: match[1] as LedgerErrorCode, details };
}

/**
 * The coded error behind what SQLite threw, when a trigger raised it; `facts` are added to the
 * trigger's own details (which win). Anything else is returned undefined for the caller to name.
 */
export function raisedError(error: unknown, facts?: (code: LedgerErrorCode) => Record<string, unknown>): LedgerError | undefined {
  if (error instanceof LedgerError) return error;
  const raised = parseRaised(error instanceof Error ? error.message : String(error));
  if (!raised) return undefined;
  return LedgerError.of(raised.code, facts ? { ...facts(raised.code), ...raised.details } : raised.details);
}

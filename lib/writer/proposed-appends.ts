/**
 * How the writer appends: it proposes each row's sequence, stream version and prev_hash from
 * what it knows of the chain; the same statement stamps the authority timestamp and computes the
 * content hash in SQL; and the guards of `native-sql/schema/` check every value as they check any
 * insert (FORMAT.md "Append path and triggers"). A proposal from a stale cache is therefore a
 * refused insert, never a wrong row. Other connections append through the `append_event` view,
 * whose trigger looks all of this up itself; the writer knows it already, and skips that work.
 *
 * What the view also decides, the writer decides here the same way: an unpromoted replica takes
 * no appends, an expected version is checked against the stream's version, and an event id that
 * exists is an idempotent retry (the same content: its original row is the outcome) or
 * DUPLICATE_EVENT_ID. The id is looked up only when an insert failed, so that the hot path pays
 * for nothing the guards do not check anyway.
 * @internal
 */
import type Database from 'better-sqlite3';
import { LedgerError } from '../errors.ts';
import type { EncodedEvent } from '../format/event-encoding.ts';
import { EVENT_COLUMNS, GENESIS_HASH, type EventRow } from '../format/columns.ts';
import type { StoredEvent } from './protocol.ts';

/** The row, its timestamp and content hash computed by SQL in the statement that inserts it. */
const INSERT_SQL = `
INSERT INTO events (sequence, event_id, stream_id, stream_version, type, payload, payload_meta, metadata, metadata_meta,
                    agent_id, signature, local_timestamp, authority_timestamp, prev_hash, content_hash)
SELECT p.sequence, p.event_id, p.stream_id, p.stream_version, p.type, p.payload, p.payload_meta, p.metadata, p.metadata_meta,
       p.agent_id, p.signature, p.local_timestamp, t.now, p.prev_hash,
       stele_event_hash(p.sequence, p.event_id, p.stream_id, p.stream_version, p.type, p.payload, p.payload_meta, p.metadata,
                        p.metadata_meta, p.agent_id, p.signature, p.local_timestamp, t.now, p.prev_hash)
  FROM (SELECT ? AS sequence, ? AS event_id, ? AS stream_id, ? AS stream_version, ? AS type, ? AS payload, ? AS payload_meta,
               ? AS metadata, ? AS metadata_meta, ? AS agent_id, ? AS signature, ? AS local_timestamp, ? AS prev_hash) AS p,
       -- One clock reading for the column and the hash (the guard compares it with its own).
       (SELECT CAST(round(unixepoch('subsec') * 1000) AS INTEGER) AS now) AS t
RETURNING authority_timestamp, content_hash`;

export class ProposedAppends {
  readonly #statements;
  /** The newest row the cache describes; sequence 0 (and the genesis hash) before the first. */
  #sequence = 0;
  #contentHash = GENESIS_HASH;
  /** Each stream's newest version, as far as this writer has looked; -1 for a stream with no row. */
  readonly #versions = new Map<string, number>();
  #replica = false;
  #synced = false;

  constructor(db: Database.Database) {
    this.#statements = {
      insert: db.prepare<unknown[], { authority_timestamp: number; content_hash: string }>(INSERT_SQL),
      head: db.prepare<[], { sequence: number; content_hash: string }>('SELECT sequence, content_hash FROM events ORDER BY sequence DESC LIMIT 1'),
      streamVersion: db.prepare<[string], number | null>('SELECT max(stream_version) FROM events WHERE stream_id = ?').pluck(),
      replica: db.prepare<[], number>('SELECT EXISTS (SELECT 1 FROM replica_mode)').pluck(),
      existing: db.prepare<[string], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE event_id = ?`),
    };
  }

  /**
   * At the start of each group, inside its transaction: the cache holds only while the file's
   * newest row is the one it was built on (another connection may have appended in between).
   */
  sync(): void {
    const head = this.#statements.head.get();
    const sequence = head?.sequence ?? 0;
    const contentHash = head?.content_hash ?? GENESIS_HASH;
    if (!this.#synced || sequence !== this.#sequence || contentHash !== this.#contentHash) {
      this.#sequence = sequence;
      this.#contentHash = contentHash;
      this.#versions.clear();
      this.#replica = this.#statements.replica.get() === 1;
      this.#synced = true;
    }
  }

  /** After a transaction failed as a whole: nothing cached is known to hold. */
  reset(): void {
    this.#synced = false;
  }

  /** The newest row the cache describes: a request that moved it wrote rows. */
  get sequence(): number {
    return this.#sequence;
  }

  /**
   * Appends one event in the open transaction and returns what was stored; throws the coded
   * error (or SQLite's) when the event is refused, its statement rolled back.
   */
  append(event: EncodedEvent): StoredEvent {
    if (this.#replica && event.streamId !== '$replication') return this.#existingOr(event, LedgerError.of('REPLICA_NOT_PROMOTED'));
    const version = this.#versionOf(event.streamId);
    const wrong = expectationFault(event, version);
    if (wrong) return this.#existingOr(event, wrong);
    const sequence = this.#sequence + 1;
    const prevHash = this.#contentHash;
    let stored: { authority_timestamp: number; content_hash: string } | undefined;
    try {
      stored = this.#statements.insert.get(
        sequence, event.eventId, event.streamId, version + 1, event.type, event.payload, event.payloadMeta, event.metadata,
        event.metadataMeta, event.agentId, event.signature, event.localTimestamp, prevHash,
      );
    } catch (error) {
      return this.#existingOr(event, error);
    }
    this.#versions.set(event.streamId, version + 1);
    this.#sequence = sequence;
    this.#contentHash = stored!.content_hash;
    // A promotion ends replica mode (and, of another file's history, may not).
    if (event.streamId === '$replication') this.#replica = this.#statements.replica.get() === 1;
    return {
      sequence, eventId: event.eventId, streamId: event.streamId, streamVersion: version + 1, contentHash: stored!.content_hash,
      prevHash, authorityTimestamp: stored!.authority_timestamp, localTimestamp: event.localTimestamp,
    };
  }

  #versionOf(streamId: string): number {
    let version = this.#versions.get(streamId);
    if (version === undefined) {
      version = this.#statements.streamVersion.get(streamId) ?? -1;
      this.#versions.set(streamId, version);
    }
    return version;
  }

  /**
   * An event refused for `error` whose id exists already: the same content is a retry of an
   * append that happened (perhaps before a crash), whose original row is the outcome; other
   * content is DUPLICATE_EVENT_ID. Checked before the refusal itself, as the view checks it first.
   */
  #existingOr(event: EncodedEvent, error: unknown): StoredEvent {
    const row = this.#statements.existing.get(event.eventId);
    if (!row) throw error;
    const same =
      row.type === event.type && row.stream_id === event.streamId && row.payload === event.payload && row.payload_meta === event.payloadMeta &&
      row.metadata === event.metadata && row.metadata_meta === event.metadataMeta && row.agent_id === event.agentId && row.signature === event.signature;
    if (!same) throw LedgerError.of('DUPLICATE_EVENT_ID', { eventId: event.eventId, sequence: row.sequence });
    return {
      sequence: row.sequence, eventId: event.eventId, streamId: row.stream_id, streamVersion: row.stream_version, contentHash: row.content_hash,
      prevHash: row.prev_hash, authorityTimestamp: row.authority_timestamp, localTimestamp: row.local_timestamp,
    };
  }
}

/** WRONG_EXPECTED_VERSION when the stream (at `version`, -1 for none) is not where the event expects it. */
function expectationFault(event: EncodedEvent, version: number): LedgerError | undefined {
  const expected = event.expectedVersion;
  if (expected === null || expected === 'any') return undefined;
  const holds = expected === 'no_stream' ? version === -1 : expected === 'stream_exists' ? version !== -1 : version === expected;
  if (holds) return undefined;
  const actual = version === -1 ? 'no_stream' : version;
  const at = actual === 'no_stream' ? 'the stream does not exist' : `the stream is at version ${actual}`;
  // The facts in the message too: a log line or the CLI's text output shows no details.
  return LedgerError.of('WRONG_EXPECTED_VERSION', { streamId: event.streamId, expected, actual }, `stream '${event.streamId}': expected ${String(expected)}, but ${at}`);
}

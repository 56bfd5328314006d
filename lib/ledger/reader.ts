/**
 * Reads over a read-only connection on the caller's thread: synchronous, and consistent with
 * every acknowledged append (WAL lets readers see each commit without blocking the writer).
 * @internal
 */
import type Database from 'better-sqlite3';
import { decodeValue } from '../format/value-codec.ts';
import { decodeRow } from '../format/event-decoding.ts';
import { EVENT_COLUMNS, type EventRow } from '../format/columns.ts';
import { LedgerError } from '../errors.ts';
import type { LedgerEvent, LedgerHead } from '../event.ts';
import { openReadConnection } from '../sqlite/connections.ts';
import { HEAD_SQL } from '../sqlite/queries.ts';
import { requireTrustedQuorum } from '../sqlite/witness-trust.ts';
import { schemaVersionOf } from '../sqlite/migrations.ts';
import { assertPinnedSchema } from '../sqlite/schema-pin.ts';
import type { WitnessSignature } from '../format/signing.ts';
import type { HaltState } from './ledger-types.ts';

export class LedgerReader {
  readonly #db: Database.Database;
  #get!: Database.Statement<[number], EventRow>;
  #getByEventId!: Database.Statement<[string], EventRow>;
  #readAll!: Database.Statement<[number, number], EventRow>;
  #readStream!: Database.Statement<[string, number, number], EventRow>;
  #streamVersion!: Database.Statement<[string], { v: number | null }>;
  #head!: Database.Statement<[], LedgerHead>;
  #sequencesBetween!: Database.Statement<[number, number], number>;
  #lastHaltEvent!: Database.Statement<[], EventRow>;
  #lastTypesPayload!: Database.Statement<[], string>;
  #activeSigningKeys!: Database.Statement<[string], string>;
  /** The statements of `events()` queries, one per shape of query (a few dozen at most). */
  readonly #pages = new Map<string, Database.Statement<unknown[], EventRow>>();

  /** Opens the read connection, or says in a NOT_A_LEDGER error why the file is not a readable ledger. */
  constructor(path: string) {
    this.#db = openReadConnection(path);
    try {
      this.#prepare();
    } catch (error) {
      this.#db.close();
      throw LedgerError.of('NOT_A_LEDGER', { path, sqliteCode: (error as { code?: string }).code }, String((error as Error).message));
    }
  }

  #prepare(): void {
    const select = `SELECT ${EVENT_COLUMNS} FROM events`;
    this.#get = this.#db.prepare(`${select} WHERE sequence = ?`);
    this.#getByEventId = this.#db.prepare(`${select} WHERE event_id = ?`);
    this.#readAll = this.#db.prepare(`${select} WHERE sequence >= ? ORDER BY sequence LIMIT ?`);
    this.#readStream = this.#db.prepare(
      `${select} WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?`,
    );
    this.#streamVersion = this.#db.prepare('SELECT max(stream_version) AS v FROM events WHERE stream_id = ?');
    this.#head = this.#db.prepare(HEAD_SQL);
    this.#sequencesBetween = this.#db
      .prepare<[number, number], number>('SELECT sequence FROM events WHERE sequence BETWEEN ? AND ? ORDER BY sequence')
      .pluck();
    this.#lastHaltEvent = this.#db.prepare(`${select} WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1`);
    this.#lastTypesPayload = this.#db.prepare<[], string>("SELECT payload FROM events WHERE stream_id = '$types' ORDER BY stream_version DESC LIMIT 1").pluck();
    this.#activeSigningKeys = this.#db.prepare<[string], string>("SELECT public_key FROM active_agent_keys WHERE agent_id = ? AND role = 'agent'").pluck();
  }

  /** The taxonomy the newest `$types` event recorded ([] when it accepts any type), or undefined when none was ever recorded. */
  recordedEventTypes(): string[] | undefined {
    const payload = this.#lastTypesPayload.get();
    return payload === undefined ? undefined : (JSON.parse(payload) as { types: string[] }).types;
  }

  /** The SCHEMA_MISMATCH of a file whose schema is not the pinned one for its version; UNSUPPORTED_FORMAT is thrown. */
  schemaMismatch(): LedgerError | undefined {
    try {
      assertPinnedSchema(this.#db, schemaVersionOf(this.#db));
      return undefined;
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'SCHEMA_MISMATCH') return error;
      throw error;
    }
  }

  /** The public keys `agentId` may sign events with now: its active keys of role 'agent'. */
  activeSigningKeys(agentId: string): string[] {
    return this.#activeSigningKeys.all(agentId);
  }

  /** CEREMONY_REFUSED unless a quorum of `trusted` witness keys signed `bytes` (witness-trust.ts). */
  requireTrustedQuorum(trusted: readonly string[], witnesses: readonly WitnessSignature[], bytes: Uint8Array): void {
    requireTrustedQuorum(this.#db, trusted, witnesses, bytes);
  }

  haltState(): HaltState {
    const row = this.#lastHaltEvent.get();
    if (!row) return { halted: false, reason: undefined, at: undefined, sequence: undefined, halt: undefined };
    const halted = row.type === 'stele.halted';
    return {
      halted,
      reason: (decodeValue(row.payload, row.payload_meta) as { reason?: string }).reason,
      at: new Date(row.authority_timestamp),
      sequence: row.sequence,
      halt: halted ? { sequence: row.sequence, contentHash: row.content_hash } : undefined,
    };
  }

  get(sequence: number): LedgerEvent | undefined {
    const row = this.#get.get(sequence);
    return row && decodeRow(row);
  }

  getByEventId(eventId: string): LedgerEvent | undefined {
    const row = this.#getByEventId.get(eventId);
    return row && decodeRow(row);
  }

  readAll(from: number, limit: number): LedgerEvent[] {
    return this.#readAll.all(from, limit).map(decodeRow);
  }

  readStream(streamId: string, fromVersion: number, limit: number): LedgerEvent[] {
    const rows = this.#readStream.all(streamId, fromVersion, limit);
    if (rows.length === 0 && this.streamVersion(streamId) === undefined) {
      throw LedgerError.of('STREAM_NOT_FOUND', { streamId });
    }
    return rows.map(decodeRow);
  }

  streamVersion(streamId: string): number | undefined {
    return this.#streamVersion.get(streamId)?.v ?? undefined;
  }

  head(): LedgerHead | undefined {
    return this.#head.get();
  }

  maxSequence(): number {
    return this.#head.get()?.sequence ?? 0;
  }

  /** One page of an `events()` query (event-query.ts writes the SQL). */
  queryPage(sql: string, params: readonly unknown[]): EventRow[] {
    let statement = this.#pages.get(sql);
    if (!statement) {
      statement = this.#db.prepare<unknown[], EventRow>(sql);
      this.#pages.set(sql, statement);
    }
    return statement.all(...params);
  }

  /** Sequences absent from [start, end]. */
  missingBetween(start: number, end: number): number[] {
    const missing: number[] = [];
    let expected = start;
    for (const sequence of this.#sequencesBetween.iterate(start, end)) {
      while (expected < sequence) missing.push(expected++);
      expected = sequence + 1;
    }
    while (expected <= end) missing.push(expected++);
    return missing;
  }

  close(): void {
    this.#db.close();
  }
}

/**
 * The writer worker: owns the only read-write connection to a ledger file.
 *
 * Group commit: when a message arrives, every message already queued on the port is drained
 * (`receiveMessageOnPort`), all their requests run in one BEGIN IMMEDIATE..COMMIT with one
 * SAVEPOINT per request, and the outcomes go back in one message. A request that fails rolls
 * back to its savepoint only, so it never fails the others. The durable cost (one fsync at
 * `durability: 'full'`) is paid once per group, however many callers are in it.
 *
 * This file imports only the protocol and pure helpers, never main-side classes.
 * @internal
 */
import Database from 'better-sqlite3';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { checkHead } from '../chain.ts';
import { LedgerError, toWire, type WireError } from '../errors.ts';
import { applyMigrations, configureWriterConnection, registerNativeFunctions } from '../native-sql.ts';
import type { AppendRequest, FromWriter, RequestOutcome, StoredEvent, ToWriter, WriterStartup } from './protocol.ts';
import { acquireWriterLock } from './writer-lock.ts';

const { settings, port } = workerData as WriterStartup;

function send(message: FromWriter): void {
  port.postMessage(message);
}

/** Takes the lock, opens and migrates the file, checks the head; or reports why not and exits. */
function open(): { db: Database.Database; lock: Database.Database } {
  let lock: Database.Database | undefined;
  let db: Database.Database | undefined;
  try {
    lock = acquireWriterLock(settings.path);
    db = new Database(settings.path);
    configureWriterConnection(db, settings.durability);
    registerNativeFunctions(db, settings);
    const schemaVersion = applyMigrations(db);
    if (settings.requireSignatures) {
      db.prepare("INSERT OR IGNORE INTO ledger_meta (key, value) VALUES ('require_signatures', '1')").run();
    }
    const head = checkHead(db);
    if (head.fault) throw LedgerError.of('WRITER_INCONSISTENCY', { check: 'head_hash', ...head.fault });
    send({ kind: 'ready', head: head.head, schemaVersion });
    return { db, lock };
  } catch (error) {
    send({ kind: 'failed', error: wireErrorOf(error) });
    db?.close();
    lock?.close();
    port.close();
    return process.exit(0);
  }
}

const { db, lock } = open();

const statements = {
  begin: db.prepare('BEGIN IMMEDIATE'),
  commit: db.prepare('COMMIT'),
  rollback: db.prepare('ROLLBACK'),
  savepoint: db.prepare('SAVEPOINT request'),
  release: db.prepare('RELEASE request'),
  rollbackTo: db.prepare('ROLLBACK TO request'),
  // Positional parameters bind measurably faster than named ones in better-sqlite3.
  append: db.prepare(
    `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
                               agent_id, signature, local_timestamp, expected_version)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ),
  // An INSTEAD OF trigger leaves changes() and lastInsertRowid at 0: read the assigned row back
  // by its unique event id, in the same transaction.
  assigned: db.prepare(
    `SELECT sequence, event_id AS eventId, stream_id AS streamId, stream_version AS streamVersion,
            content_hash AS contentHash, prev_hash AS prevHash,
            authority_timestamp AS authorityTimestamp, local_timestamp AS localTimestamp
       FROM events WHERE event_id = ?`,
  ),
};

port.on('message', (first: ToWriter) => {
  const requests: AppendRequest[] = [];
  let closing = false;
  for (let message: ToWriter | undefined = first; message; message = receiveMessageOnPort(port)?.message) {
    if (message.kind === 'append') requests.push(...message.requests);
    else if (message.kind === 'close') closing = true;
  }
  if (requests.length > 0) send({ kind: 'outcomes', outcomes: commitGroup(requests) });
  if (closing) shutDown();
});

function commitGroup(requests: AppendRequest[]): RequestOutcome[] {
  try {
    statements.begin.run();
  } catch (error) {
    return requests.map((request) => ({ id: request.id, ok: false, error: wireErrorOf(error) }));
  }
  const outcomes: RequestOutcome[] = [];
  for (const request of requests) {
    statements.savepoint.run();
    try {
      const events = request.events.map(appendOne);
      statements.release.run();
      outcomes.push({ id: request.id, ok: true, events });
    } catch (error) {
      outcomes.push({ id: request.id, ok: false, error: wireErrorOf(error) });
      if (!db.inTransaction) return failAll(requests, outcomes, error);
      statements.rollbackTo.run();
      statements.release.run();
    }
  }
  try {
    statements.commit.run();
  } catch (error) {
    if (db.inTransaction) statements.rollback.run();
    return failAll(requests, outcomes, error);
  }
  return outcomes;
}

function appendOne(event: AppendRequest['events'][number]): StoredEvent {
  statements.append.run(
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
  );
  return statements.assigned.get(event.eventId) as StoredEvent;
}

/**
 * SQLite rolled the whole transaction back (I/O error, disk full, a failed COMMIT): requests that
 * had succeeded inside it are not durable, so every request of the group fails.
 */
function failAll(requests: AppendRequest[], outcomes: RequestOutcome[], cause: unknown): RequestOutcome[] {
  const error = wireErrorOf(cause);
  const failed = new Map(outcomes.filter((o) => !o.ok).map((o) => [o.id, o]));
  return requests.map((request) => failed.get(request.id) ?? { id: request.id, ok: false, error });
}

function shutDown(): void {
  db.close();
  lock.close();
  send({ kind: 'closed' });
  port.close();
}

/**
 * Maps what SQLite raised back to a coded error. Triggers raise `STELE:CODE` or
 * `STELE:CODE:<details>` where details is a JSON object or a bare word (the offending field).
 */
function wireErrorOf(error: unknown): WireError {
  if (error instanceof LedgerError) return toWire(error);
  const message = error instanceof Error ? error.message : String(error);
  const match = /^STELE:([A-Z_]+)(?::(.*))?$/s.exec(message);
  if (match) {
    const code = match[1] as WireError['code'];
    const rest = match[2];
    let details: Record<string, unknown> = {};
    if (rest?.startsWith('{')) details = JSON.parse(rest) as Record<string, unknown>;
    else if (rest) details = { field: rest };
    return toWire(LedgerError.of(code, details));
  }
  const sqliteCode = (error as { code?: unknown }).code;
  return toWire(
    LedgerError.of('WRITE_FAILED', { sqliteCode: typeof sqliteCode === 'string' ? sqliteCode : undefined }, message),
  );
}

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
import { LedgerError, toWire, type WireError } from '../errors.ts';
import { APPEND_SQL, appendArgs, applyMigrations, configureWriterConnection, parseRaised, registerNativeFunctions } from '../sqlite/native-sql.ts';
import type { AppendRequest, EncodedEvent, FromWriter, Head, RequestOutcome, StoredEvent, ToWriter, WriterStartup } from './protocol.ts';
import { acquireWriterLock } from './writer-lock.ts';
import { systemEvent } from '../format/event-encoding.ts';
import { writeHeadSidecar } from './head-sidecar.ts';
import { startupFault, type StartupFault } from './startup-check.ts';

const { settings, port } = workerData as WriterStartup;

function send(message: FromWriter): void {
  port.postMessage(message);
}

/**
 * Takes the lock, opens and migrates the file, and checks it against the head it should have;
 * or reports why not and exits. An inconsistent file is halted (in the file, so that no later
 * writer appends to it either) before the failure is reported.
 */
function open(): { db: Database.Database; lock: Database.Database } {
  let lock: Database.Database | undefined;
  let db: Database.Database | undefined;
  try {
    lock = acquireWriterLock(settings.path);
    db = new Database(settings.path);
    configureWriterConnection(db, settings.durability);
    registerNativeFunctions(db, settings);
    const schemaVersion = applyMigrations(db);
    if (db.prepare('SELECT EXISTS (SELECT 1 FROM replica_mode)').pluck().get() === 1) {
      throw LedgerError.of('REPLICA_NOT_PROMOTED', { path: settings.path });
    }
    if (settings.requireSignatures) {
      db.prepare(
        "INSERT INTO ledger_meta (key, value) SELECT 'require_signatures', '1' WHERE NOT EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')",
      ).run();
    }
    applyEventTypes(db, settings.eventTypes);
    // Retries are ours (commitWithRetry), with their own budget: SQLite must not wait on its own.
    db.pragma('busy_timeout = 0');
    const { head, fault } = startupFault(db, settings);
    if (fault) {
      haltForInconsistency(db, fault);
      send({ kind: 'log', level: 'fatal', fields: { ...fault }, message: 'startup self-verification failed; ledger halted' });
      if (settings.onInconsistency !== 'halt') throw LedgerError.of('WRITER_INCONSISTENCY', { ...fault });
    }
    send({ kind: 'ready', head, schemaVersion });
    return { db, lock };
  } catch (error) {
    send({ kind: 'failed', error: wireErrorOf(error) });
    db?.close();
    lock?.close();
    port.close();
    return process.exit(0);
  }
}

/** The taxonomy of this opening: the given set, or none (any type) when no set is given. */
function applyEventTypes(db: Database.Database, types: string[] | undefined): void {
  db.transaction(() => {
    db.prepare('DELETE FROM event_types').run();
    const insert = db.prepare('INSERT INTO event_types (type) VALUES (?)');
    for (const type of types ?? []) insert.run(type);
  }).immediate();
}

function haltForInconsistency(db: Database.Database, fault: StartupFault): void {
  const last = db
    .prepare("SELECT type FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1")
    .pluck()
    .get();
  if (last === 'stele.halted') return;
  const reason = `startup inconsistency (${fault.check}) at sequence ${fault.sequence}: expected ${String(fault.expected)}, found ${String(fault.actual)}`;
  const halt = systemEvent('$halt', 'stele.halted', { reason, fault: { ...fault } });
  db.prepare(APPEND_SQL).run(...appendArgs(halt));
}

const { db, lock } = open();

const statements = {
  begin: db.prepare('BEGIN IMMEDIATE'),
  commit: db.prepare('COMMIT'),
  rollback: db.prepare('ROLLBACK'),
  savepoint: db.prepare('SAVEPOINT request'),
  release: db.prepare('RELEASE request'),
  rollbackTo: db.prepare('ROLLBACK TO request'),
  append: db.prepare(APPEND_SQL),
  // An INSTEAD OF trigger leaves changes() and lastInsertRowid at 0: read the assigned rows back
  // in the same transaction, by sequence range or by unique event id.
  maxSequence: db.prepare('SELECT coalesce(max(sequence), 0) FROM events').pluck(),
  assignedSince: db.prepare(
    `SELECT sequence, event_id AS eventId, stream_id AS streamId, stream_version AS streamVersion,
            content_hash AS contentHash, prev_hash AS prevHash,
            authority_timestamp AS authorityTimestamp, local_timestamp AS localTimestamp
       FROM events WHERE sequence > ? ORDER BY sequence`,
  ),
  assigned: db.prepare(
    `SELECT sequence, event_id AS eventId, stream_id AS streamId, stream_version AS streamVersion,
            content_hash AS contentHash, prev_hash AS prevHash,
            authority_timestamp AS authorityTimestamp, local_timestamp AS localTimestamp
       FROM events WHERE event_id = ?`,
  ),
};

let inbox: AppendRequest[] = [];
let closing = false;
let running = false;

port.on('message', (message: ToWriter) => {
  take(message);
  void run();
});

function take(message: ToWriter): void {
  if (message.kind === 'append') inbox.push(...message.requests);
  else if (message.kind === 'close') closing = true;
}

/**
 * Commits whatever has arrived, group after group. Messages that arrive while a group commits
 * (or waits to retry) join the next group: that is the group commit.
 */
async function run(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (;;) {
      for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) take(next.message as ToWriter);
      if (inbox.length === 0) break;
      const requests = inbox;
      inbox = [];
      send({ kind: 'outcomes', outcomes: await commitWithRetry(requests) });
      scheduleHeadSidecar();
    }
  } finally {
    running = false;
  }
  if (closing) shutDown();
}

/**
 * SQLite result codes worth retrying: another connection (another process, the sqlite3 shell, a
 * backup tool) holds the write lock for a while. Everything else fails at once; a halt, being a
 * trigger's refusal, is never retried.
 */
function isTransient(code: string | undefined): boolean {
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

async function commitWithRetry(requests: AppendRequest[]): Promise<RequestOutcome[]> {
  const { attempts, delayMs } = settings.retry;
  for (let attempt = 1; ; attempt++) {
    const result = commitGroup(requests);
    if (!('transient' in result)) return result;
    if (attempt > attempts) {
      const error = toWire(
        LedgerError.of('WRITE_FAILED', { attempts: attempt, sqliteCode: result.transient }, `the ledger file stayed locked (${result.transient})`),
      );
      send({ kind: 'log', level: 'warn', fields: { attempts: attempt, sqliteCode: result.transient, requests: requests.length }, message: 'append failed after retries' });
      return requests.map((request) => ({ id: request.id, ok: false, error }));
    }
    // Exponential backoff with jitter, so that two writers' retries do not stay in step.
    const delay = delayMs * 2 ** (attempt - 1) * (1 + Math.random() * 0.5);
    send({ kind: 'log', level: 'warn', fields: { attempt, sqliteCode: result.transient, retryInMs: Math.round(delay) }, message: 'ledger file busy; retrying' });
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

const headStatement = db.prepare<[], Head>(
  'SELECT sequence, content_hash AS contentHash FROM events ORDER BY sequence DESC LIMIT 1',
);
let sidecarTimer: NodeJS.Timeout | undefined;

/** At most once a second, after the replies went out: never an extra fsync per commit. */
function scheduleHeadSidecar(): void {
  sidecarTimer ??= setTimeout(() => {
    sidecarTimer = undefined;
    recordDurableHead();
  }, 1000);
}

/**
 * Records the head in the sidecar once it is durable. At durability 'full' every commit is; at
 * 'normal' the WAL is not synced per commit, so the head is recorded only after a checkpoint has
 * synced everything — a sidecar must never claim rows that a power loss could take back.
 */
function recordDurableHead(): void {
  try {
    recordHead();
  } catch (error) {
    send({ kind: 'log', level: 'error', fields: { error: String(error) }, message: 'could not record the head sidecar' });
  }
}

function recordHead(): void {
  const head = headStatement.get();
  if (!head) return;
  if (settings.durability === 'normal') {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (!result || result.busy !== 0 || result.checkpointed !== result.log) return;
  }
  writeHeadSidecar(settings.path, head);
}

/** One transaction for the whole group, or `transient` when the write lock could not be had. */
function commitGroup(requests: AppendRequest[]): RequestOutcome[] | { transient: string } {
  try {
    statements.begin.run();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (isTransient(code)) return { transient: code! };
    return requests.map((request) => ({ id: request.id, ok: false, error: wireErrorOf(error) }));
  }
  const headBefore = statements.maxSequence.get() as number;
  const succeeded: AppendRequest[] = [];
  const failed = new Map<number, RequestOutcome>();
  for (const request of requests) {
    // One INSERT statement is atomic by itself; only a batch needs its own savepoint.
    const batch = request.events.length > 1;
    if (batch) statements.savepoint.run();
    let current: EncodedEvent | undefined;
    try {
      for (current of request.events) appendOne(current);
      if (batch) statements.release.run();
      succeeded.push(request);
    } catch (error) {
      // Details are read before rolling back, so they describe what the failing event saw.
      failed.set(request.id, { id: request.id, ok: false, error: wireErrorOf(error, current) });
      if (!db.inTransaction) return failAll(requests, [...failed.values()], error);
      if (batch) {
        statements.rollbackTo.run();
        statements.release.run();
      }
    }
  }
  // What the triggers assigned, read back in one range scan rather than one lookup per event.
  // An idempotent retry inserted nothing new; its original row is looked up by id.
  const assigned = new Map((statements.assignedSince.all(headBefore) as StoredEvent[]).map((row) => [row.eventId, row]));
  const stored = (event: EncodedEvent) => assigned.get(event.eventId) ?? (statements.assigned.get(event.eventId) as StoredEvent);
  const done = new Map(succeeded.map((request) => [request.id, request.events.map(stored)]));
  try {
    statements.commit.run();
  } catch (error) {
    if (db.inTransaction) statements.rollback.run();
    const code = (error as { code?: string }).code;
    if (isTransient(code)) return { transient: code! };
    return failAll(requests, [...failed.values()], error);
  }
  return requests.map((request) => failed.get(request.id) ?? { id: request.id, ok: true, events: done.get(request.id)! });
}

function appendOne(event: EncodedEvent): void {
  statements.append.run(...appendArgs(event));
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
  if (sidecarTimer) clearTimeout(sidecarTimer);
  // Closing the last connection checkpoints and syncs the WAL, so the head is durable after it.
  const head = headStatement.get();
  db.close();
  try {
    if (head) writeHeadSidecar(settings.path, head);
  } catch (error) {
    // The ledger itself is closed and durable; a missing sidecar only weakens the next start's check.
    send({ kind: 'log', level: 'error', fields: { error: String(error) }, message: 'could not record the head sidecar' });
  }
  lock.close();
  send({ kind: 'closed' });
  port.close();
}

/**
 * Maps what SQLite raised back to a coded error (see parseRaised). The raised message is literal,
 * so the facts for `details` are looked up here, in the failing transaction.
 */
function wireErrorOf(error: unknown, event?: EncodedEvent): WireError {
  if (error instanceof LedgerError) return toWire(error);
  const message = error instanceof Error ? error.message : String(error);
  const raised = parseRaised(message);
  if (raised) {
    const details = event ? { ...detailsOf(raised.code, event), ...raised.details } : raised.details;
    return toWire(LedgerError.of(raised.code, details));
  }
  const sqliteCode = (error as { code?: unknown }).code;
  return toWire(
    LedgerError.of('WRITE_FAILED', { sqliteCode: typeof sqliteCode === 'string' ? sqliteCode : undefined }, message),
  );
}

const lookups = {
  streamVersion: db.prepare<[string], { v: number | null }>('SELECT max(stream_version) AS v FROM events WHERE stream_id = ?'),
  sequenceOf: db.prepare<[string], number>('SELECT sequence FROM events WHERE event_id = ?').pluck(),
  lastHalt: db.prepare<[], { sequence: number; reason: string | null }>(
    "SELECT sequence, json_extract(payload, '$.reason') AS reason FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1",
  ),
  quorum: db.prepare<[], number>("SELECT CAST(value AS INTEGER) FROM ledger_meta WHERE key = 'witness_quorum'").pluck(),
};

/** The facts behind a coded failure of `event`, read in the failing transaction. */
function detailsOf(code: WireError['code'], event: EncodedEvent): Record<string, unknown> {
  const payload = () => (event.payload ? (JSON.parse(event.payload) as Record<string, unknown>) : {});
  switch (code) {
    case 'WRONG_EXPECTED_VERSION':
      return {
        streamId: event.streamId,
        expected: event.expectedVersion,
        actual: lookups.streamVersion.get(event.streamId)?.v ?? 'no_stream',
      };
    case 'DUPLICATE_EVENT_ID':
      return { eventId: event.eventId, sequence: lookups.sequenceOf.get(event.eventId) };
    case 'LEDGER_HALTED': {
      const halt = lookups.lastHalt.get();
      return { haltSequence: halt?.sequence, reason: halt?.reason };
    }
    case 'SIGNATURE_REQUIRED':
    case 'SIGNATURE_INVALID':
      return { eventId: event.eventId, agentId: event.agentId ?? undefined };
    case 'UNKNOWN_AGENT':
    case 'AGENT_KEY_REVOKED':
    case 'DUPLICATE_AGENT_KEY':
      return event.agentId !== null
        ? { agentId: event.agentId }
        : { agentId: payload().agentId, keyId: payload().keyId };
    case 'CEREMONY_REFUSED':
      return { quorum: lookups.quorum.get() };
    default:
      return {};
  }
}

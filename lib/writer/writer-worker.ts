/**
 * The writer worker: owns the only read-write connection to a ledger file. This file is wiring:
 * open and check the file, then feed what arrives on the port to {@link GroupCommit} and answer.
 *
 * Group commit: when a message arrives, every message already queued on the port is drained
 * (`receiveMessageOnPort`) and all their requests commit together (group-commit.ts). Messages
 * that arrive while a group commits (or waits to retry) join the next group.
 *
 * This file imports only the protocol and pure helpers, never main-side classes.
 * @internal
 */
import type Database from 'better-sqlite3';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { LedgerError, toWire, type WireError } from '../errors.ts';
import { systemEvent } from '../format/event-encoding.ts';
import { APPEND_SQL, appendArgs } from '../sqlite/append-statement.ts';
import { closeWriteConnection, openWriteConnection } from '../sqlite/connections.ts';
import { readHead, witnessQuorumOf } from '../sqlite/queries.ts';
import { GroupCommit, wireErrorOf } from './group-commit.ts';
import { FileIdentity } from './file-identity.ts';
import { writeHeadSidecar } from './head-sidecar.ts';
import { packOutcomes, type AppendRequest, type FromWriter, type ToWriter, type WriterStartup } from './protocol.ts';
import { refuseOrphanedSidecar, startupFault, type StartupFault } from './startup-check.ts';
import { acquireWriterLock, keepWriterLock } from './writer-lock.ts';

const { settings, port } = workerData as WriterStartup;

/** How often the writer checks that its path still names its file, off the append path. */
const FILE_CHECK_INTERVAL_MS = 1_000;
/** Committed events after which an idle writer checkpoints the WAL into the database file. */
const CHECKPOINT_AFTER_EVENTS = 1_000;
const AUTOCHECKPOINT_PAGES = 10_000;

function send(message: FromWriter): void {
  port.postMessage(message);
}

function log(level: Extract<FromWriter, { kind: 'log' }>['level'], fields: Record<string, unknown>, message: string): void {
  send({ kind: 'log', level, fields, message });
}

/**
 * Takes the lock, opens and migrates the file, and checks it against the head it should have;
 * or reports why not and exits. An inconsistent file is halted (in the file, so that no later
 * writer appends to it either) before the failure is reported.
 */
function open(): { db: Database.Database; lock: Database.Database; group: GroupCommit } {
  let lock: Database.Database | undefined;
  let db: Database.Database | undefined;
  try {
    lock = acquireWriterLock(settings.path);
    refuseOrphanedSidecar(settings.path); // before anything is written into a new or empty file
    // Signatures verified before their events arrived (ledger/signature-checks.ts), by verdict.
    const signatureVerdicts = new Set<string>();
    ({ db } = openWriteConnection(settings.path, { ...settings, signatureVerdicts }));
    const group = new GroupCommit(db, settings.retry, log, signatureVerdicts);
    if (db.prepare('SELECT EXISTS (SELECT 1 FROM replica_mode)').pluck().get() === 1) {
      throw LedgerError.of('REPLICA_NOT_PROMOTED', { path: settings.path });
    }
    if (settings.requireSignatures) {
      db.prepare(
        "INSERT INTO ledger_meta (key, value) SELECT 'require_signatures', '1' WHERE NOT EXISTS (SELECT 1 FROM ledger_meta WHERE key = 'require_signatures')",
      ).run();
    }
    if (settings.witnessQuorum !== undefined) applyWitnessQuorum(db, settings.witnessQuorum);
    // Retries are ours (GroupCommit.commit), with their own budget: SQLite must not wait on its own.
    db.pragma('busy_timeout = 0');
    // Checkpoints run while the writer is idle (checkpointWhenIdle); SQLite's own, inside a
    // COMMIT, only past this many WAL pages (~40 MB), for a writer that is never idle.
    db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    const { head, fault } = startupFault(db, settings);
    if (fault) {
      const halted = haltForInconsistency(db, fault);
      log('fatal', { ...fault, halted }, halted ? 'startup self-verification failed; ledger halted' : 'startup self-verification failed; the file refused even the halt record');
      if (settings.onInconsistency !== 'halt' || !halted) throw LedgerError.of('WRITER_INCONSISTENCY', { ...fault, halted });
    }
    send({ kind: 'ready', head });
    return { db, lock, group };
  } catch (error) {
    send({ kind: 'failed', error: wireErrorOf(error) });
    db?.close();
    lock?.close();
    port.close();
    return process.exit(0);
  }
}

/**
 * The quorum is a setting of an empty file (006-independent-witnesses.sql): recorded while the
 * ledger holds no event, and only confirmed after.
 */
function applyWitnessQuorum(db: Database.Database, quorum: number): void {
  const recorded = witnessQuorumOf(db);
  if (recorded === quorum) return;
  if (db.prepare('SELECT EXISTS (SELECT 1 FROM events)').pluck().get() === 1) {
    throw LedgerError.of('WITNESS_QUORUM_FIXED', { path: settings.path, quorum: recorded, given: quorum });
  }
  db.prepare("UPDATE ledger_meta SET value = ? WHERE key = 'witness_quorum'").run(String(quorum));
}

/**
 * Records the inconsistency as a halt in the file, so that no later writer appends to it either;
 * false when the file refuses even that (e.g. rows deleted behind the triggers leave derived
 * tables that the next row collides with): the fault is what the caller hears about, not the
 * refusal of the halt.
 */
function haltForInconsistency(db: Database.Database, fault: StartupFault): boolean {
  const last = db
    .prepare("SELECT type FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1")
    .pluck()
    .get();
  if (last === 'stele.halted') return true;
  const reason = `startup inconsistency (${fault.check}) at sequence ${fault.sequence}: expected ${String(fault.expected)}, found ${String(fault.actual)}`;
  const halt = systemEvent('$halt', 'stele.halted', { reason, fault: { ...fault } });
  try {
    db.prepare(APPEND_SQL).run(...appendArgs(halt));
    return true;
  } catch (error) {
    log('error', { error: String(error) }, 'the halt record was refused');
    return false;
  }
}

const opened = open();
const { db, group } = opened;
let { lock } = opened;

const identity = new FileIdentity(settings.path);
/** Set once the path names another file than the open one (or none): every request then fails. */
let replaced: WireError | undefined;

/**
 * False once the ledger's path no longer names the open file. Checked on a timer, before each
 * sidecar write and at close: a stat, never on the append path itself.
 */
function fileIsOurs(): boolean {
  if (replaced) return false;
  const change = identity.change();
  let refusal: LedgerError | undefined;
  if (change) refusal = LedgerError.of('LEDGER_FILE_REPLACED', { path: settings.path, change }, `${settings.path} was ${change} while open`);
  else {
    try {
      lock = keepWriterLock(settings.path, lock);
    } catch (error) {
      refusal = error instanceof LedgerError ? error : LedgerError.of('WRITER_LOCK_HELD', { path: settings.path, error: String(error) });
    }
  }
  if (!refusal) return true;
  replaced = toWire(refusal);
  log('fatal', { code: refusal.code, ...refusal.details }, 'the ledger file or its lock was taken from this writer; appends are refused');
  send({ kind: 'replaced', error: replaced });
  return false;
}
setInterval(fileIsOurs, FILE_CHECK_INTERVAL_MS).unref();

let inbox: AppendRequest[] = [];
let closing = false;
let running = false;
/** Aborted by the close message: a group waiting to retry a locked file gives up (a known outcome). */
const closeRequested = new AbortController();

port.on('message', (message: ToWriter) => {
  take(message);
  void run();
});

function take(message: ToWriter): void {
  if (message.kind === 'append') inbox.push(...message.requests);
  else if (message.kind === 'close') {
    closing = true;
    closeRequested.abort();
  }
}

/** Commits whatever has arrived, group after group, then closes if asked to. */
async function run(): Promise<void> {
  if (running) return;
  running = true;
  try {
    for (;;) {
      for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) take(next.message as ToWriter);
      if (inbox.length === 0) break;
      const requests = inbox;
      inbox = [];
      const error = replaced;
      const outcomes = error ? requests.map((request) => ({ id: request.id, ok: false as const, error })) : await group.commit(requests, closeRequested.signal);
      const packed = packOutcomes(outcomes);
      send({ kind: 'outcomes', ...packed });
      eventsSinceCheckpoint += packed.sequences.length;
      scheduleHeadSidecar();
    }
  } finally {
    running = false;
  }
  if (closing) shutDown();
  else if (eventsSinceCheckpoint >= CHECKPOINT_AFTER_EVENTS) setImmediate(checkpointWhenIdle);
}

let eventsSinceCheckpoint = 0;

/**
 * Copies the WAL into the database file while no request waits: the work SQLite would
 * otherwise do inside the COMMIT of whichever group crossed its threshold, with that group's
 * callers waiting on it. Requests that arrived meanwhile go first. PASSIVE: readers are never
 * blocked, and what they still read stays in the WAL for a later checkpoint.
 */
function checkpointWhenIdle(): void {
  if (running || closing || eventsSinceCheckpoint < CHECKPOINT_AFTER_EVENTS) return;
  for (let next = receiveMessageOnPort(port); next; next = receiveMessageOnPort(port)) take(next.message as ToWriter);
  if (inbox.length > 0 || closing) {
    void run();
    return;
  }
  eventsSinceCheckpoint = 0;
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    // A checkpoint that fails (a full disk) leaves the WAL as it was; the next one retries it.
    log('warn', { error: String(error) }, 'idle checkpoint failed');
  }
}

let sidecarTimer: NodeJS.Timeout | undefined;

/** At most once a second, after the replies went out: never an extra fsync per commit. */
function scheduleHeadSidecar(): void {
  sidecarTimer ??= setTimeout(() => {
    sidecarTimer = undefined;
    try {
      recordDurableHead();
    } catch (error) {
      log('error', { error: String(error) }, 'could not record the head sidecar');
    }
  }, 1000);
}

/**
 * Records the head in the sidecar once it is durable. At durability 'full' every commit is; at
 * 'normal' the WAL is not synced per commit, so the head is recorded only after a checkpoint has
 * synced everything — a sidecar must never claim rows that a power loss could take back.
 */
function recordDurableHead(): void {
  const head = readHead(db);
  if (!head) return;
  if (settings.durability === 'normal') {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (!result || result.busy !== 0 || result.checkpointed !== result.log) return;
  }
  // A sidecar describes the file at the path: never write one for a file that is not there.
  if (fileIsOurs()) writeHeadSidecar(settings.path, head);
}

function shutDown(): void {
  if (sidecarTimer) clearTimeout(sidecarTimer);
  // Closing checkpoints and syncs the WAL (leaving the file in rollback mode when this is its
  // last connection, readable on read-only media), so the head is durable after it.
  const head = readHead(db);
  closeWriteConnection(db);
  try {
    if (head && fileIsOurs()) writeHeadSidecar(settings.path, head);
  } catch (error) {
    // The ledger itself is closed and durable; a missing sidecar only weakens the next start's check.
    log('error', { error: String(error) }, 'could not record the head sidecar');
  }
  lock.close();
  send({ kind: 'closed' });
  port.close();
}

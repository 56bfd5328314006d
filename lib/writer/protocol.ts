/**
 * Everything that crosses between the main thread and the writer worker: one discriminated
 * union each way. The worker imports this file and pure helpers only.
 *
 * Handshake: the main thread starts the worker with {@link WriterStartup} as `workerData`,
 * including a transferred MessagePort; the worker answers `ready` (with the head it verified)
 * or `failed`, and from then on speaks only over that port.
 * @internal
 */
import type { MessagePort } from 'node:worker_threads';
import type { WireError } from '../errors.ts';
import type { AppendResult, LedgerHead } from '../event.ts';
import type { EncodedEvent } from '../format/event-encoding.ts';
import type { LogLevel } from '../options.ts';

/** Settings the writer needs, fully resolved on the main thread. */
export interface WriterSettings {
  path: string;
  durability: 'full' | 'normal';
  driftThresholdMs: number;
  /** Record in the file that unsigned events are refused from now on. */
  requireSignatures: boolean;
  /** How many of the newest rows to re-verify before accepting appends. */
  startupVerifyRows: number;
  /** An anchor the app keeps elsewhere: the row at this sequence must have this hash. */
  expectedHead: LedgerHead | undefined;
  /** A signed checkpoint the app keeps elsewhere: the file's tree must hold it as a prefix. */
  trustedCheckpoint: string | undefined;
  /** The log's verifier key (`checkpoint.logKey`): the stored checkpoints must be signed by it. */
  logKey: string | undefined;
  /** Transient SQLite failures (busy, locked) are retried this often, backing off from delayMs. */
  retry: { attempts: number; delayMs: number };
  /** 'halt': an inconsistent file is halted and opened anyway (for the clearing ceremony). */
  onInconsistency: 'fail' | 'halt';
  /** The quorum to record in a new (empty) file; a file with events must already have it. */
  witnessQuorum: number | undefined;
  /** Create a ledger where there is no file or an empty one; false: NOT_A_LEDGER there too. */
  create: boolean;
}


/** `workerData` of the writer worker. */
export interface WriterStartup {
  settings: WriterSettings;
  port: MessagePort;
}

/** One `append()` or `appendBatch()` call: all of its events commit, or none. */
export interface AppendRequest {
  id: number;
  events: EncodedEvent[];
}

/** What the database assigned to one event (timestamps in ms since the epoch). */
export interface StoredEvent extends Omit<AppendResult, 'authorityTimestamp' | 'localTimestamp'> {
  authorityTimestamp: number;
  localTimestamp: number;
}

export type RequestOutcome =
  | { id: number; ok: true; events: StoredEvent[] }
  | { id: number; ok: false; error: WireError };

/**
 * The outcomes of one group commit as they cross to the main thread, column by column: the
 * request ids in order, each refusal by its request's id, and what the database assigned to
 * each committed event, requests in order, a refused request holding no entry. A structured
 * clone copies a typed array or a long string at once, where it walks an object per event: the
 * objects measured six times the cost, paid on both threads. The event id and stream the main
 * thread already holds: it sent them.
 */
export interface GroupOutcomes {
  ids: number[];
  errors: Array<[id: number, error: WireError]>;
  sequences: Float64Array;
  streamVersions: Float64Array;
  authorityTimestamps: Float64Array;
  localTimestamps: Float64Array;
  /** Content hashes and prev_hashes, 64 hex characters each, end to end. */
  contentHashes: string;
  prevHashes: string;
}

/** The columns of `outcomes` (writer side). */
export function packOutcomes(outcomes: readonly RequestOutcome[]): GroupOutcomes {
  let count = 0;
  for (const outcome of outcomes) if (outcome.ok) count += outcome.events.length;
  const packed: GroupOutcomes = {
    ids: outcomes.map((outcome) => outcome.id),
    errors: [],
    sequences: new Float64Array(count),
    streamVersions: new Float64Array(count),
    authorityTimestamps: new Float64Array(count),
    localTimestamps: new Float64Array(count),
    contentHashes: '',
    prevHashes: '',
  };
  const contentHashes: string[] = [];
  const prevHashes: string[] = [];
  let i = 0;
  for (const outcome of outcomes) {
    if (!outcome.ok) {
      packed.errors.push([outcome.id, outcome.error]);
      continue;
    }
    for (const event of outcome.events) {
      packed.sequences[i] = event.sequence;
      packed.streamVersions[i] = event.streamVersion;
      packed.authorityTimestamps[i] = event.authorityTimestamp;
      packed.localTimestamps[i] = event.localTimestamp;
      contentHashes.push(event.contentHash);
      prevHashes.push(event.prevHash);
      i++;
    }
  }
  packed.contentHashes = contentHashes.join('');
  packed.prevHashes = prevHashes.join('');
  return packed;
}

/**
 * The stored events of one committed request from the columns (main side): `events` are what
 * the request sent, `at` the index of its first entry.
 */
export function unpackEvents(packed: GroupOutcomes, events: readonly EncodedEvent[], at: number): StoredEvent[] {
  const stored: StoredEvent[] = new Array(events.length);
  for (let k = 0; k < events.length; k++) {
    const i = at + k;
    stored[k] = {
      sequence: packed.sequences[i]!,
      eventId: events[k]!.eventId,
      streamId: events[k]!.streamId,
      streamVersion: packed.streamVersions[i]!,
      contentHash: packed.contentHashes.slice(i * 64, i * 64 + 64),
      prevHash: packed.prevHashes.slice(i * 64, i * 64 + 64),
      authorityTimestamp: packed.authorityTimestamps[i]!,
      localTimestamp: packed.localTimestamps[i]!,
    };
  }
  return stored;
}

/** Main thread → writer. */
export type ToWriter =
  /** Several requests, coalesced on the main thread; the writer may group-commit more. */
  | { kind: 'append'; requests: AppendRequest[] }
  /** Finish what was sent, close the connection, answer `closed`. */
  | { kind: 'close' };

/** Writer → main thread. */
export type FromWriter =
  /** Startup verified the file up to this head (undefined: the ledger is empty). */
  | { kind: 'ready'; head: LedgerHead | undefined }
  | { kind: 'failed'; error: WireError }
  /** Outcomes of one group commit. */
  | ({ kind: 'outcomes' } & GroupOutcomes)
  /** The path no longer names the writer's file (LEDGER_FILE_REPLACED), or its lock was taken (WRITER_LOCK_HELD); every later request fails. */
  | { kind: 'replaced'; error: WireError }
  /** Something the owner's logger should hear about (retries, checkpoints, startup findings). */
  | { kind: 'log'; level: LogLevel; fields: Record<string, unknown>; message: string }
  | { kind: 'closed' };

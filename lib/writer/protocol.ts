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
  expectedHead: Head | undefined;
  /** Transient SQLite failures (busy, locked) are retried this often, backing off from delayMs. */
  retry: { attempts: number; delayMs: number };
  /** 'halt': an inconsistent file is halted and opened anyway (for the clearing ceremony). */
  onInconsistency: 'fail' | 'halt';
  /** The closed set of event types, or undefined for any type. */
  eventTypes: string[] | undefined;
}

/** Levels of a pino-compatible logger. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** `workerData` of the writer worker. */
export interface WriterStartup {
  settings: WriterSettings;
  port: MessagePort;
}

/** One event, validated and encoded on the caller's thread, as the append view takes it. */
export interface EncodedEvent {
  eventId: string;
  streamId: string;
  type: string;
  payload: string | null;
  payloadMeta: string | null;
  metadata: string | null;
  metadataMeta: string | null;
  agentId: string | null;
  signature: string | null;
  /** ms since the Unix epoch */
  localTimestamp: number;
  /** null = 'any' */
  expectedVersion: string | number | null;
}

/** One `append()` or `appendBatch()` call: all of its events commit, or none. */
export interface AppendRequest {
  id: number;
  events: EncodedEvent[];
}

/** What the database assigned to one event (timestamps in ms since the epoch). */
export interface StoredEvent {
  sequence: number;
  eventId: string;
  streamId: string;
  streamVersion: number;
  contentHash: string;
  prevHash: string;
  authorityTimestamp: number;
  localTimestamp: number;
}

export type RequestOutcome =
  | { id: number; ok: true; events: StoredEvent[] }
  | { id: number; ok: false; error: WireError };

export interface Head {
  sequence: number;
  contentHash: string;
}

/** Main thread → writer. */
export type ToWriter =
  /** Several requests, coalesced on the main thread; the writer may group-commit more. */
  | { kind: 'append'; requests: AppendRequest[] }
  /** Finish what was sent, close the connection, answer `closed`. */
  | { kind: 'close' };

/** Writer → main thread. */
export type FromWriter =
  | { kind: 'ready'; head: Head | null; schemaVersion: number }
  | { kind: 'failed'; error: WireError }
  /** Outcomes of one group commit, in request order. */
  | { kind: 'outcomes'; outcomes: RequestOutcome[] }
  /** Something the owner's logger should hear about (retries, checkpoints, startup findings). */
  | { kind: 'log'; level: LogLevel; fields: Record<string, unknown>; message: string }
  | { kind: 'closed' };

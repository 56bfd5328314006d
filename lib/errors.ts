/**
 * Every failure Stele reports on purpose is a {@link LedgerError} with a stable `code`.
 * Codes never change meaning between versions; messages may improve.
 */

/**
 * The stable codes a {@link LedgerError} can carry.
 *
 * @example
 * ```ts
 * function shouldRetry(code: LedgerErrorCode): boolean {
 *   return code === 'BACKPRESSURE' || code === 'WRITER_CRASHED'; // retry WRITER_CRASHED with the same eventId
 * }
 * ```
 */
export type LedgerErrorCode =
  | 'WRONG_EXPECTED_VERSION'
  | 'STREAM_NOT_FOUND'
  | 'EVENT_TOO_LARGE'
  | 'INVALID_EVENT'
  | 'UNDECODABLE_EVENT'
  | 'DUPLICATE_EVENT_ID'
  | 'APPEND_ONLY_VIOLATION'
  | 'LEDGER_CLOSED'
  | 'BACKPRESSURE'
  | 'WRITER_LOCK_HELD'
  | 'WRITER_INCONSISTENCY'
  | 'WRITER_CRASHED'
  | 'WRITE_FAILED'
  | 'WRITER_UNAVAILABLE'
  | 'LEDGER_HALTED'
  | 'NOT_HALTED'
  | 'CEREMONY_REFUSED'
  | 'CHECKPOINT_REFUSED'
  | 'SIGNATURE_INVALID'
  | 'SIGNATURE_REQUIRED'
  | 'UNKNOWN_AGENT'
  | 'AGENT_KEY_REVOKED'
  | 'DUPLICATE_AGENT_KEY'
  | 'UNKNOWN_EVENT_TYPE'
  | 'WITNESS_QUORUM_FIXED'
  | 'NOT_A_LEDGER'
  | 'FILE_NOT_WRITABLE'
  | 'DISK_FULL'
  | 'SIDECAR_UNREADABLE'
  | 'LEDGER_FILE_REPLACED'
  | 'BACKUP_FAILED'
  | 'NOT_A_REPLICA'
  | 'REPLICA_NOT_PROMOTED'
  | 'REPLICA_DIVERGED'
  | 'REPLICA_AHEAD'
  | 'REPLICATION_FAILED'
  | 'SCHEMA_MISMATCH'
  | 'UNSUPPORTED_FORMAT'
  | 'PACKAGE_FILES_MISSING'
  | 'WITNESS_REFUSED'
  | 'WITNESS_FAILED';

/** What a caller should do about each code; the first sentence of every message. */
const ADVICE: Record<LedgerErrorCode, string> = {
  WRONG_EXPECTED_VERSION: 'the stream is not at the version the append expects; re-read the stream and decide again',
  STREAM_NOT_FOUND: 'no event has been appended to this stream yet',
  EVENT_TOO_LARGE: 'the encoded event exceeds maxEventBytes; store large blobs elsewhere and append a reference',
  INVALID_EVENT: 'the event cannot be appended as given; fix the named field',
  UNDECODABLE_EVENT:
    'a stored event cannot be decoded (its payload or metadata was not written by Stele: another tool or a damaged file); its row still verifies, read its raw columns with SQL',
  DUPLICATE_EVENT_ID: 'this eventId is already used by an event with different content; use a new eventId',
  APPEND_ONLY_VIOLATION: 'the ledger is append-only; rows cannot be changed, removed or inserted out of chain',
  LEDGER_CLOSED: 'the ledger is closed; open it again to append or read',
  BACKPRESSURE: 'too many appends are pending; await earlier appends or use onFull: "wait"',
  WRITER_LOCK_HELD: 'another writer has this ledger open; close it, or open this one with readonly: true',
  WRITER_INCONSISTENCY: 'the ledger file does not match what its writer expects; investigate before appending',
  WRITER_CRASHED: 'the writer stopped before answering; the outcome is unknown, retry with the same eventId',
  WRITE_FAILED: 'SQLite could not commit the append; nothing of it was written',
  WRITER_UNAVAILABLE: 'the ledger has no running writer; reads work, appends do not',
  LEDGER_HALTED: 'the ledger is halted and refuses appends until a witnessed clearHalt ceremony',
  NOT_HALTED: 'the ledger is not halted; there is nothing to clear',
  CEREMONY_REFUSED: 'the ceremony lacks what it needs (the current halt, a quorum of valid witness signatures)',
  CHECKPOINT_REFUSED: "the checkpoint is not this ledger's: another root, log key or origin, or an older tree (details.reason)",
  SIGNATURE_INVALID: 'the signature does not verify against an active key of this agent; sign the exact event being appended',
  SIGNATURE_REQUIRED: 'this ledger requires signed events; sign the event with signEvent()',
  UNKNOWN_AGENT: 'no key is registered for this agent; register one with registerAgentKey()',
  AGENT_KEY_REVOKED: 'the key is revoked; register a new key and sign with it',
  DUPLICATE_AGENT_KEY: 'this agent already has a key with this keyId; choose another keyId',
  NOT_A_LEDGER: 'the file cannot be read as a ledger (not SQLite, a directory, unreadable); check the path',
  FILE_NOT_WRITABLE:
    'the ledger file or its folder cannot be written (a directory, a missing folder, read-only permissions or file system); fix the path or its permissions, or open with readonly: true',
  DISK_FULL: 'the disk holding the ledger is full; free space and retry, nothing was written',
  SIDECAR_UNREADABLE:
    'a file kept beside the ledger (its -head.json) cannot be read; restore it, or delete it to start the next check from the file alone',
  LEDGER_FILE_REPLACED:
    'the ledger file was deleted, renamed or replaced while this writer had it open; appends are refused, close and reopen the ledger at its path and verify it',
  BACKUP_FAILED: 'the copy did not verify and was removed; the ledger itself is untouched: run verify() on it, then retry',
  WITNESS_QUORUM_FIXED:
    'the witness quorum is recorded in the ledger when it is created and never changes; open it without witnessQuorum, or with the value details.quorum names',
  UNKNOWN_EVENT_TYPE: 'this ledger accepts only the event types of its taxonomy (the eventTypes it was opened with, the types it records); add the type to eventTypes and record it with ledger.setEventTypes()',
  NOT_A_REPLICA: 'the file is a ledger of its own (a primary, or a promoted replica), not a copy; choose an empty path or an existing replica',
  REPLICA_NOT_PROMOTED: 'the file is a replica; read it with openReplica(), or promote it with the witnessed promoteReplica() ceremony before writing',
  REPLICA_DIVERGED: 'the replica holds a different row than its primary at some sequence; it is never overwritten: keep it as evidence and seed a new replica',
  REPLICA_AHEAD: 'the replica holds rows its primary does not; the primary lost rows (restored from a backup?) or this is not its primary',
  SCHEMA_MISMATCH:
    'the file\'s schema (tables, indexes, views, triggers) is not the one Stele ships for its version: someone changed or dropped a rule; investigate, keep the file as evidence',
  UNSUPPORTED_FORMAT: 'the file\'s schema version (PRAGMA user_version) is not one this Stele knows; upgrade stele, or check that this is a Stele ledger',
  REPLICATION_FAILED: 'the primary committed the event but a replica did not confirm it; see details.failed, then retry with replicate()',
  PACKAGE_FILES_MISSING:
    "a file Stele loads at run time (a worker script, native-sql/) is not where the package put it, as when a bundler inlines Stele into an app: mark 'stele' and 'better-sqlite3' external so both load from node_modules (README, \"Bundlers and Electron\")",
  WITNESS_REFUSED:
    'the witness refused to cosign the checkpoint (details.status: 403 log key not trusted or signature invalid, 404 unknown origin, 409 old size is not the details.recordedSize it holds, 422 consistency proof invalid, 400 bad request); with 409 retry from details.recordedSize, otherwise check the log key, origin and proof',
  WITNESS_FAILED:
    'the witness gave no usable answer (unreachable, timed out, a server error, or a response that is not valid cosignatures by its key; details.reason); nothing was cosigned, retry later or ask another witness',
};

/**
 * The one error class of Stele. `code` is stable and meant for `switch`; `details` carries the
 * facts (expected and actual values, the sequence, the field) as plain data.
 *
 * @example
 * ```ts
 * try {
 *   await ledger.append({ type: 'deposited', streamId: 'acct-1', expectedVersion: 3 });
 * } catch (err) {
 *   if (err instanceof LedgerError && err.code === 'WRONG_EXPECTED_VERSION') {
 *     console.log(err.details.expected, err.details.actual);
 *   }
 * }
 * ```
 */
export class LedgerError extends Error {
  /** Stable machine-readable code. */
  readonly code: LedgerErrorCode;
  /** Facts about this failure; keys depend on the code and are documented with it. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: LedgerErrorCode, message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(`${code}: ${message}`, options);
    this.name = 'LedgerError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }

  /** Builds an error whose message starts with the standard advice for its code. */
  static of(code: LedgerErrorCode, details: Record<string, unknown> = {}, extra?: string): LedgerError {
    return new LedgerError(code, extra ? `${ADVICE[code]} (${extra})` : ADVICE[code], details);
  }
}

/**
 * True when `value` is a {@link LedgerError}, optionally with the given code.
 *
 * @example
 * ```ts
 * try {
 *   await ledger.append({ type: 'deposited', streamId: 'acct-1', expectedVersion: 3 });
 * } catch (err) {
 *   if (isLedgerError(err, 'WRONG_EXPECTED_VERSION')) console.log(err.details.expected, err.details.actual);
 * }
 * ```
 */
export function isLedgerError(value: unknown, code?: LedgerErrorCode): value is LedgerError {
  return value instanceof LedgerError && (code === undefined || value.code === code);
}

/** @internal The wire form of a LedgerError, for crossing a thread boundary. */
export interface WireError {
  code: LedgerErrorCode;
  message: string;
  details: Record<string, unknown>;
}

/** @internal */
export function toWire(error: LedgerError): WireError {
  return { code: error.code, message: error.message.slice(error.code.length + 2), details: { ...error.details } };
}

/** @internal */
export function fromWire(wire: WireError): LedgerError {
  return new LedgerError(wire.code, wire.message, wire.details);
}

/**
 * An error that came back from another thread, as its caller sees it: the same code, message and
 * details, with the stack of `site` (captured where the caller called), and the error as the other
 * thread made it as `cause`. Anything but a LedgerError passes through as it is.
 * @internal
 */
export function atCallSite(error: unknown, site: Error): unknown {
  if (!(error instanceof LedgerError) || site.stack === undefined) return error;
  const local = new LedgerError(error.code, error.message.slice(error.code.length + 2), { ...error.details }, { cause: error });
  const frames = site.stack.indexOf('\n');
  local.stack = `${local.name}: ${local.message}${frames === -1 ? '' : site.stack.slice(frames)}`;
  return local;
}

/** @internal The caller's stack, without the frames of `below` and what it called. */
export function callSite(below: Function): Error {
  const site = new Error();
  Error.captureStackTrace(site, below);
  return site;
}

/**
 * A caller's value as an error message shows it: primitives as they are (strings quoted, cut at
 * 60 characters), anything else by its kind. Never stringifies an object: `String()` of an array
 * whose length was set to 2^32 - 1 walks every index, and a proxy's traps may throw.
 * @internal
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value.length > 60 ? `'${value.slice(0, 60)}…'` : `'${value}'`;
    case 'number':
    case 'bigint':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'symbol':
      return 'a symbol';
    case 'function':
      return 'a function';
    default:
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object';
  }
}

/**
 * The checks an input passes on the caller's thread, and its encoding for the writer (the
 * triggers check again; this only fails early and names the field).
 * @internal
 */
import { describeValue, LedgerError } from '../errors.ts';
import { DEFAULT_STREAM, type AppendInput } from '../event.ts';
import { newEventId } from './event-id.ts';
import { utf8Length } from './portable-bytes.ts';
import { encodeValue, UnencodableValueError, ValueTooLargeError } from './value-codec.ts';

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
  /** The signature verified off the writer thread (format/hash-bytes.ts `signatureVerdict`), when it was. */
  signatureVerdict?: string;
}

const MAX_NAME_LENGTH = 256;

/**
 * Validates and encodes one input on the caller's thread. Throws INVALID_EVENT naming the field,
 * or EVENT_TOO_LARGE with the encoded size and the limit.
 * @internal
 */
export function encodeInput(input: AppendInput, index: number | undefined, maxEventBytes: number): EncodedEvent {
  return encodeEvent(input, index, maxEventBytes, false);
}

/**
 * An event of Stele's own, in a reserved stream (`$agents`, `$halt`); the triggers check its
 * type and payload.
 * @internal
 */
export function systemEvent(streamId: string, type: string, payload: Record<string, unknown>): EncodedEvent {
  return encodeEvent({ streamId, type, payload }, undefined, Number.MAX_SAFE_INTEGER, true);
}

function encodeEvent(input: AppendInput, index: number | undefined, maxEventBytes: number, reserved: boolean): EncodedEvent {
  const where = index === undefined ? {} : { index };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field: 'input' }, 'an event must be an object with a type');
  }
  const type = requireName(input.type, 'type', where);
  const streamId = input.streamId === undefined ? DEFAULT_STREAM : requireName(input.streamId, 'streamId', where);
  if (!reserved && streamId.startsWith('$') && streamId !== DEFAULT_STREAM) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field: 'streamId', value: streamId }, 'stream ids starting with $ are reserved');
  }
  const eventId = input.eventId === undefined ? newEventId() : requireName(input.eventId, 'eventId', where);
  const expectedVersion = checkExpectedVersion(input.expectedVersion, where);
  let localTimestamp: number;
  if (input.localTimestamp === undefined) {
    localTimestamp = Date.now();
  } else if (input.localTimestamp instanceof Date && Number.isFinite(input.localTimestamp.getTime())) {
    localTimestamp = input.localTimestamp.getTime();
  } else {
    throw LedgerError.of('INVALID_EVENT', { ...where, field: 'localTimestamp' }, 'localTimestamp must be a valid Date');
  }
  const agentId = input.agentId === undefined ? null : requireName(input.agentId, 'agentId', where);
  const signature = input.signature === undefined ? null : requireName(input.signature, 'signature', where);
  if ((agentId === null) !== (signature === null)) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field: agentId === null ? 'agentId' : 'signature' }, 'agentId and signature go together');
  }
  const payload = encodeField(input.payload, 'payload', where, eventId, maxEventBytes);
  const metadata = encodeField(input.metadata, 'metadata', where, eventId, maxEventBytes);
  const size =
    byteLength(payload.json) + byteLength(payload.meta) + byteLength(metadata.json) + byteLength(metadata.meta) +
    byteLength(type) + byteLength(streamId) + byteLength(eventId);
  if (size > maxEventBytes) {
    throw LedgerError.of('EVENT_TOO_LARGE', { ...where, eventId, size, limit: maxEventBytes });
  }
  return {
    eventId,
    streamId,
    type,
    payload: payload.json,
    payloadMeta: payload.meta,
    metadata: metadata.json,
    metadataMeta: metadata.meta,
    agentId,
    signature,
    localTimestamp,
    expectedVersion,
  };
}

/** A type, stream id or event id as Stele stores them: INVALID_EVENT naming `field` otherwise. */
export function requireName(value: unknown, field: string, where: object): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field }, `${field} must be a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  }
  if (!value.isWellFormed()) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field }, `${field} contains a lone UTF-16 surrogate`);
  }
  // SQLite's C API, the sqlite3 shell and many drivers end text at a NUL, so a name with one would
  // show (and match) as a shorter name outside Stele.
  if (value.includes('\0')) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field }, `${field} contains a NUL character`);
  }
  // A blank name reads as no name in every log, export and query.
  if (value.trim().length === 0) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field }, `${field} must not be only whitespace`);
  }
  return value;
}

function checkExpectedVersion(value: unknown, where: object): string | number | null {
  if (value === undefined || value === 'any') return null;
  if (value === 'no_stream' || value === 'stream_exists') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw LedgerError.of(
    'INVALID_EVENT',
    { ...where, field: 'expectedVersion', value: describeValue(value) },
    "expectedVersion must be 'any', 'no_stream', 'stream_exists' or a stream version (integer >= 0)",
  );
}

/** Details of a failure are built only when there is one: this runs for every appended event. */
function encodeField(value: unknown, field: 'payload' | 'metadata', where: object, eventId: string, maxEventBytes: number) {
  try {
    return encodeValue(value, field, maxEventBytes);
  } catch (error) {
    if (error instanceof ValueTooLargeError) {
      throw LedgerError.of('EVENT_TOO_LARGE', { ...where, eventId, field, path: error.path, size: error.minBytes, limit: maxEventBytes }, `${error.path} needs at least ${error.minBytes} bytes; the limit is ${maxEventBytes}`);
    }
    if (error instanceof UnencodableValueError) {
      throw LedgerError.of('INVALID_EVENT', { ...where, eventId, field, path: error.path, reason: error.reason }, `${error.reason} at ${error.path}`);
    }
    if (error instanceof RangeError) {
      throw LedgerError.of('INVALID_EVENT', { ...where, eventId, field, reason: error.message }, `${field} cannot be encoded: ${error.message}`);
    }
    throw error;
  }
}

function byteLength(text: string | null): number {
  return text === null ? 0 : utf8Length(text);
}

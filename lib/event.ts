/**
 * The shapes of events going in and coming out, and the checks an input passes on the caller's
 * thread before it is sent to the writer (the triggers check again; this only fails early).
 */
import { encodeValue, UnencodableValueError, ValueTooLargeError } from './format/codec.ts';
import { describeValue, LedgerError } from './errors.ts';
import { newEventId } from './format/event-id.ts';
import type { EncodedEvent } from './writer/protocol.ts';

/**
 * The stream of events appended without a `streamId`: one shared stream, so expected-version
 * checks work on it like on any other. Stream ids starting with `$` are reserved for Stele.
 *
 * @example
 * ```ts
 * await ledger.append({ type: 'app_started' }); // no streamId
 * ledger.readStream(DEFAULT_STREAM).at(-1)?.type; // 'app_started'
 * ```
 */
export const DEFAULT_STREAM = '$default';

/**
 * Expected version of a stream: any state, absent, present, or exactly at version `n`.
 *
 * @example
 * ```ts
 * const version = ledger.streamVersion('acct-1') ?? 'no_stream';
 * await ledger.append({ type: 'withdrawn', streamId: 'acct-1', payload: { cents: 200n }, expectedVersion: version });
 * ```
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

/**
 * An event to append.
 *
 * @example
 * ```ts
 * await ledger.append({ type: 'order_placed', streamId: 'order-42', payload: { total: 9.5 } });
 * ```
 */
export interface AppendInput {
  /** What happened, e.g. `'order_placed'`. Non-empty, at most 256 characters. */
  type: string;
  /** Any superjson-serialisable value: Date, BigInt, Map, Set and undefined round-trip. */
  payload?: unknown;
  /** Like payload; for correlation ids, actors, request info. */
  metadata?: unknown;
  /** Stream the event belongs to; {@link DEFAULT_STREAM} when omitted. */
  streamId?: string;
  /** Concurrency check against the stream's current version; `'any'` when omitted. */
  expectedVersion?: ExpectedVersion;
  /** Idempotency key: appending the same id with the same content returns the original result. */
  eventId?: string;
  /** The caller's clock at the time of the event; the time of `append()` when omitted. */
  localTimestamp?: Date;
  /** Signing agent; set together with `signature`, usually by {@link signEvent}. */
  agentId?: string;
  /** base64 ed25519 signature over {@link signableBytes} of this input, by a registered key of `agentId`. */
  signature?: string;
}

/**
 * What the ledger assigned to an appended event.
 *
 * @example
 * ```ts
 * const result = await ledger.append({ type: 'user_login', streamId: 'user-ada' });
 * console.log(result.sequence, result.streamVersion, result.contentHash, result.authorityTimestamp.toISOString());
 * ```
 */
export interface AppendResult {
  sequence: number;
  eventId: string;
  streamId: string;
  streamVersion: number;
  contentHash: string;
  prevHash: string;
  authorityTimestamp: Date;
  localTimestamp: Date;
}

/**
 * A stored event, decoded.
 *
 * @example
 * ```ts
 * for (const event of ledger.readStream('acct-1')) {
 *   console.log(event.streamVersion, event.type, event.payload, event.agentId ?? 'unsigned');
 * }
 * ```
 */
export interface LedgerEvent extends AppendResult {
  type: string;
  payload: unknown;
  metadata: unknown;
  /** Signing agent, when the event is signed. */
  agentId: string | undefined;
  /** ed25519 signature (base64), when the event is signed. */
  signature: string | undefined;
}

/**
 * The newest event's place in the chain.
 *
 * @example
 * ```ts
 * const head = ledger.head(); // { sequence, contentHash }; undefined while the ledger is empty
 * if (head) await writeFile('audit.head.json', JSON.stringify(head));
 * // Next session: opening fails with WRITER_INCONSISTENCY unless that row is still there, unchanged.
 * const reopened = await openLedger('audit.db', { expectedHead: JSON.parse(await readFile('audit.head.json', 'utf8')) });
 * ```
 */
export interface LedgerHead {
  sequence: number;
  contentHash: string;
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

function requireName(value: unknown, field: string, where: object): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field }, `${field} must be a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  }
  if (!value.isWellFormed()) {
    throw LedgerError.of('INVALID_EVENT', { ...where, field }, `${field} contains a lone UTF-16 surrogate`);
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
  return text === null ? 0 : Buffer.byteLength(text, 'utf8');
}

/**
 * All of Stele's encodings in one place: how values become stored text, and the exact bytes that
 * are hashed. `native-sql/FORMAT.md` specifies the same rules for readers in other languages;
 * change neither without the other (and a new hash domain version).
 * @internal
 */
import { hash } from 'node:crypto';
import superjson from 'superjson';
import { describeValue } from '../errors.ts';

/** Hash domain of the v1 event content hash. Part of the hashed bytes. */
export const EVENT_HASH_DOMAIN = 'stele/event/v1';
/** `prev_hash` of the first event: 64 zero hex digits. */
export const GENESIS_HASH = '0'.repeat(64);

/** The columns of an event row in hash order; FORMAT.md lists the same order. */
export const HASHED_COLUMNS = [
  'sequence',
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'payload',
  'payload_meta',
  'metadata',
  'metadata_meta',
  'agent_id',
  'signature',
  'local_timestamp',
  'authority_timestamp',
  'prev_hash',
] as const;

const INTEGER_COLUMNS = new Set<number>(
  ['sequence', 'stream_version', 'local_timestamp', 'authority_timestamp'].map((name) =>
    HASHED_COLUMNS.indexOf(name as (typeof HASHED_COLUMNS)[number]),
  ),
);

const TAG_NULL = 0x00;
const TAG_INTEGER = 0x01;
const TAG_TEXT = 0x02;

/**
 * The v1 content hash of one event row: SHA-256 over the domain line, then each column of
 * {@link HASHED_COLUMNS} as a tagged field: NULL = 0x00; INTEGER = 0x01 + 8-byte big-endian
 * two's complement; TEXT = 0x02 + 4-byte big-endian UTF-8 length + UTF-8 bytes. Lowercase hex.
 *
 * Integer columns are encoded as integers whatever SQLite storage class the value arrived in:
 * inside an INSTEAD OF trigger a bound JS number is REAL, and `1.0` must hash like `1`.
 */
export function eventHash(values: ReadonlyArray<unknown>): string {
  if (values.length !== HASHED_COLUMNS.length) {
    throw new TypeError(`stele_event_hash takes ${HASHED_COLUMNS.length} arguments, got ${values.length}`);
  }
  return hash('sha256', taggedBytes(EVENT_HASH_DOMAIN, values, INTEGER_COLUMNS), 'hex');
}

function toInteger(value: unknown, column: string): bigint | number {
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) return value;
  throw new TypeError(`${column} must be an integer, got ${String(value)}`);
}

/** 8-byte big-endian two's complement; safe integers are written without a BigInt allocation. */
function writeInt64(buffer: Buffer, value: bigint | number, offset: number): number {
  if (typeof value === 'bigint') return buffer.writeBigInt64BE(value, offset);
  buffer.writeInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
  return offset + 8;
}

/** A value as stored: JSON text (queryable with json_extract) plus superjson's type annotations. */
export interface EncodedValue {
  json: string | null;
  meta: string | null;
}

/** Thrown by {@link encodeValue}: `reason` and `path` say what could not be stored and where. */
export class UnencodableValueError extends Error {
  constructor(
    readonly reason: string,
    readonly path: string,
  ) {
    super(`${reason} at ${path}`);
  }
}

/**
 * Thrown by {@link encodeValue} when a value cannot fit in the byte budget whatever its
 * contents: an array of length n takes at least 2n + 1 bytes of JSON, holes included. Checked
 * before walking, so an array whose length is far beyond its contents is refused at once.
 */
export class ValueTooLargeError extends Error {
  constructor(
    readonly minBytes: number,
    readonly path: string,
  ) {
    super(`at least ${minBytes} bytes at ${path}`);
  }
}

const MAX_DEPTH = 256;

/**
 * Encodes a payload or metadata value. `undefined` is stored as NULL. Functions, symbols,
 * cycles and nesting deeper than 256 levels are refused rather than silently dropped:
 * a ledger that quietly loses part of an event is worse than one that says no.
 */
export function encodeValue(value: unknown, root: string, maxBytes = Number.MAX_SAFE_INTEGER): EncodedValue {
  if (value === undefined) return { json: null, meta: null };
  // Plain JSON (the common case) needs no type annotations: JSON.stringify gives the same text
  // superjson would, at a fraction of the cost.
  if (assertEncodable(value, root, 0, new Set(), maxBytes)) return { json: JSON.stringify(value), meta: null };
  const { json, meta } = superjson.serialize(value);
  return { json: JSON.stringify(json), meta: meta === undefined ? null : JSON.stringify(meta) };
}

/** Throws for what cannot be stored; returns true when the value is plain JSON that round-trips as is. */
function assertEncodable(value: unknown, path: string, depth: number, ancestors: Set<object>, maxBytes: number): boolean {
  switch (typeof value) {
    case 'function':
      throw new UnencodableValueError('a function cannot be stored', path);
    case 'symbol':
      throw new UnencodableValueError('a symbol cannot be stored', path);
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      // NaN, ±Infinity and -0 do not survive JSON; superjson annotates them.
      return Number.isFinite(value) && !Object.is(value, -0);
    case 'object':
      break;
    default:
      return false; // bigint, undefined: superjson annotates them
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH) throw new UnencodableValueError(`nesting deeper than ${MAX_DEPTH} levels`, path);
  if (ancestors.has(value)) throw new UnencodableValueError('a cycle cannot be stored', path);
  ancestors.add(value);
  let plain = true;
  if (value instanceof Map) {
    plain = false;
    for (const [key, entry] of value) {
      assertEncodable(key, `${path}<key>`, depth + 1, ancestors, maxBytes);
      assertEncodable(entry, `${path}.get(${describeValue(key)})`, depth + 1, ancestors, maxBytes);
    }
  } else if (value instanceof Set) {
    plain = false;
    let index = 0;
    for (const entry of value) assertEncodable(entry, `${path}<${index++}>`, depth + 1, ancestors, maxBytes);
  } else if (Array.isArray(value)) {
    // `length` can be set far beyond the elements (up to 2^32 - 1): judge it before walking it.
    if (2 * value.length + 1 > maxBytes) throw new ValueTooLargeError(2 * value.length + 1, path);
    for (let i = 0; i < value.length; i++) {
      // `i in value` is false for a hole, which JSON would turn into null.
      if (!assertEncodable(value[i], `${path}[${i}]`, depth + 1, ancestors, maxBytes) || !(i in value)) plain = false;
    }
  } else if (value instanceof DataView) {
    // superjson would store it as {}: refused rather than silently emptied.
    throw new UnencodableValueError('a DataView cannot be stored (store a typed array)', path);
  } else if (ArrayBuffer.isView(value)) {
    // A typed array of n elements is a JSON array of n numbers: at least 2n + 1 bytes.
    const length = (value as unknown as ArrayLike<unknown>).length;
    if (2 * length + 1 > maxBytes) throw new ValueTooLargeError(2 * length + 1, path);
    plain = false;
  } else if (value instanceof Date || value instanceof RegExp || value instanceof Error) {
    plain = false;
  } else {
    const prototype: unknown = Object.getPrototypeOf(value);
    // Class instances may have toJSON or lose their prototype: let superjson handle them.
    if (prototype !== Object.prototype && prototype !== null) plain = false;
    for (const key of Object.keys(value)) {
      if (!assertEncodable((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1, ancestors, maxBytes)) plain = false;
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new UnencodableValueError('symbol-keyed properties cannot be stored', path);
    }
  }
  ancestors.delete(value);
  return plain;
}

/** Decodes what {@link encodeValue} stored. */
export function decodeValue(json: string | null, meta: string | null): unknown {
  if (json === null) return undefined;
  const parsed: unknown = JSON.parse(json);
  if (meta === null) return parsed;
  return superjson.deserialize({ json: parsed as never, meta: JSON.parse(meta) });
}

/** Hash domain of the bytes an agent signs for an event. */
export const SIGNABLE_DOMAIN = 'stele/signable/v1';
/** Domain of the bytes witnesses sign to clear a halt. */
export const CLEAR_HALT_DOMAIN = 'stele/ceremony/clear-halt/v1';
export const PROMOTE_REPLICA_DOMAIN = 'stele/ceremony/promote-replica/v1';

/** The event fields an agent signs, in order; FORMAT.md lists the same. */
export const SIGNED_COLUMNS = [
  'event_id',
  'stream_id',
  'type',
  'payload',
  'payload_meta',
  'metadata',
  'metadata_meta',
  'agent_id',
  'local_timestamp',
] as const;

const SIGNED_INTEGER_COLUMNS = new Set<number>([SIGNED_COLUMNS.indexOf('local_timestamp')]);

const DOMAIN_LINES = new Map<string, Buffer>();

/**
 * Tagged field encoding shared by every Stele byte string: a domain line, then each field as
 * NULL = 0x00; INTEGER = 0x01 + 8-byte big-endian; TEXT = 0x02 + 4-byte big-endian length + UTF-8.
 */
export function taggedBytes(domain: string, values: ReadonlyArray<unknown>, integerFields: ReadonlySet<number>): Buffer {
  let domainBytes = DOMAIN_LINES.get(domain);
  if (!domainBytes) DOMAIN_LINES.set(domain, (domainBytes = Buffer.from(domain + '\n', 'utf8')));
  let size = domainBytes.length;
  const texts: (string | null)[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      size += 1;
      texts[i] = null;
    } else if (integerFields.has(i)) {
      size += 9;
      texts[i] = null;
    } else {
      const text = String(value);
      texts[i] = text;
      size += 5 + Buffer.byteLength(text, 'utf8');
    }
  }
  const buffer = Buffer.allocUnsafe(size);
  let offset = domainBytes.copy(buffer, 0);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const text = texts[i] ?? null;
    if (value === null || value === undefined) {
      buffer[offset++] = TAG_NULL;
    } else if (text === null) {
      buffer[offset++] = TAG_INTEGER;
      offset = writeInt64(buffer, toInteger(value, `field ${i}`), offset);
    } else {
      buffer[offset++] = TAG_TEXT;
      const length = buffer.write(text, offset + 4, 'utf8');
      buffer.writeUInt32BE(length, offset);
      offset += 4 + length;
    }
  }
  return buffer;
}

/** The bytes an agent signs for an event, from its stored column values in {@link SIGNED_COLUMNS} order. */
export function signedBytesOf(values: ReadonlyArray<unknown>): Buffer {
  return taggedBytes(SIGNABLE_DOMAIN, values, SIGNED_INTEGER_COLUMNS);
}

/** The bytes each witness signs to clear the halt recorded at `haltSequence`. */
export function clearHaltBytes(haltSequence: number, haltContentHash: string, reason: string): Buffer {
  return taggedBytes(CLEAR_HALT_DOMAIN, [haltSequence, haltContentHash, reason], new Set([0]));
}

/** The bytes each witness signs to promote replica `replicaId` at the given head to a primary. */
export function promoteReplicaBytes(replicaId: string, headSequence: number, headContentHash: string, reason: string): Buffer {
  return taggedBytes(PROMOTE_REPLICA_DOMAIN, [replicaId, headSequence, headContentHash, reason], new Set([1]));
}

/**
 * How payload and metadata values become stored text and back. `native-sql/FORMAT.md` ("Stored
 * values") specifies the same rules for readers in other languages.
 * @internal
 */
import superjson from 'superjson';
import { describeValue } from '../errors.ts';

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

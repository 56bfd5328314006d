/**
 * How payload and metadata values become stored text and back. `native-sql/FORMAT.md` ("Stored
 * values") specifies the same rules for readers in other languages.
 *
 * A value is stored faithfully or refused, never changed on the way: it is first copied into a
 * snapshot (each property read once, so a getter cannot answer one thing to the check and another
 * to the encoder), every kind in it is checked against the supported list, and a value that needs
 * type annotations is decoded again from the very text that will be stored and compared with the
 * snapshot before the event leaves the caller's thread.
 * @internal
 */
import { types } from 'node:util';
import { SuperJSON } from 'superjson';
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

/** Thrown by {@link decodeValue} for stored text that no Stele wrote (a foreign tool, a damaged row). */
export class UndecodableValueError extends Error {}

const MAX_DEPTH = 256;

// ---------------------------------------------------------------------------------------------
// The codec: a private superjson instance (the global one is the application's: a class or a
// transformer it registers must never change what Stele stores or reads).
// ---------------------------------------------------------------------------------------------

const codec = new SuperJSON();

/**
 * Names of the custom annotations (`["custom", name]` in the meta) Stele defines for what
 * superjson 2.x gets wrong or cannot store. Stable: they are part of the file format.
 */
const CUSTOM = {
  Float32Array: 'stele.Float32Array',
  Float64Array: 'stele.Float64Array',
  BigInt64Array: 'stele.BigInt64Array',
  BigUint64Array: 'stele.BigUint64Array',
  ArrayBuffer: 'stele.ArrayBuffer',
  /** Decode-only: what a stored `["typed-array", "Buffer"]` is read through (see decodeValue). */
  Buffer: 'stele.Buffer',
} as const;

/** A float element as JSON: the number itself, or a string for what JSON has no number for. */
function floatToJson(x: number): number | string {
  if (Number.isFinite(x)) return Object.is(x, -0) ? '-0' : x;
  return Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity';
}

const NON_FINITE: Record<string, number> = { NaN: Number.NaN, Infinity: Number.POSITIVE_INFINITY, '-Infinity': Number.NEGATIVE_INFINITY, '-0': -0 };

function floatFromJson(x: unknown): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'string' && Object.hasOwn(NON_FINITE, x)) return NON_FINITE[x]!;
  throw new UndecodableValueError(`a float element must be a number or "NaN", "Infinity", "-Infinity", "-0", got ${describeValue(x)}`);
}

function jsonArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new UndecodableValueError(`${what} must be stored as a JSON array, got ${describeValue(value)}`);
  return value;
}

function bytesFromJson(value: unknown, what: string): number[] {
  const array = jsonArray(value, what);
  for (const byte of array) {
    if (typeof byte !== 'number' || !Number.isInteger(byte) || byte < 0 || byte > 255) {
      throw new UndecodableValueError(`elements of ${what} must be integers 0..255, got ${describeValue(byte)}`);
    }
  }
  return array as number[];
}

function bigIntsFromJson(value: unknown, bits: (n: number, x: bigint) => bigint, what: string): bigint[] {
  return jsonArray(value, what).map((x) => {
    if (typeof x !== 'string' || !/^-?(0|[1-9][0-9]*)$/.test(x)) throw new UndecodableValueError(`elements of ${what} must be decimal strings, got ${describeValue(x)}`);
    const n = BigInt(x);
    if (bits(64, n) !== n) throw new UndecodableValueError(`element ${x} of ${what} is out of range`);
    return n;
  });
}

codec.registerCustom<Float32Array, Array<number | string>>(
  {
    isApplicable: (v): v is Float32Array => v instanceof Float32Array,
    serialize: (v) => Array.from(v, floatToJson),
    deserialize: (v) => Float32Array.from(jsonArray(v, 'a Float32Array'), floatFromJson),
  },
  CUSTOM.Float32Array,
);
codec.registerCustom<Float64Array, Array<number | string>>(
  {
    isApplicable: (v): v is Float64Array => v instanceof Float64Array,
    serialize: (v) => Array.from(v, floatToJson),
    deserialize: (v) => Float64Array.from(jsonArray(v, 'a Float64Array'), floatFromJson),
  },
  CUSTOM.Float64Array,
);
codec.registerCustom<BigInt64Array, string[]>(
  {
    isApplicable: (v): v is BigInt64Array => v instanceof BigInt64Array,
    serialize: (v) => Array.from(v, String),
    deserialize: (v) => BigInt64Array.from(bigIntsFromJson(v, BigInt.asIntN, 'a BigInt64Array')),
  },
  CUSTOM.BigInt64Array,
);
codec.registerCustom<BigUint64Array, string[]>(
  {
    isApplicable: (v): v is BigUint64Array => v instanceof BigUint64Array,
    serialize: (v) => Array.from(v, String),
    deserialize: (v) => BigUint64Array.from(bigIntsFromJson(v, BigInt.asUintN, 'a BigUint64Array')),
  },
  CUSTOM.BigUint64Array,
);
codec.registerCustom<ArrayBuffer, number[]>(
  {
    isApplicable: (v): v is ArrayBuffer => v instanceof ArrayBuffer,
    serialize: (v) => Array.from(new Uint8Array(v)),
    deserialize: (v) => Uint8Array.from(bytesFromJson(v, 'an ArrayBuffer')).buffer,
  },
  CUSTOM.ArrayBuffer,
);
// Never applicable when encoding: superjson itself writes a Buffer as ["typed-array", "Buffer"]
// (its constructor's name), which its own decoder does not know. decodeValue points that
// annotation here, so rows written before Stele decoded them are readable too.
codec.registerCustom<Buffer, number[]>(
  {
    isApplicable: (_v): _v is Buffer => false,
    serialize: (v) => Array.from(v),
    deserialize: (v) => Buffer.from(bytesFromJson(v, 'a Buffer')),
  },
  CUSTOM.Buffer,
);

// ---------------------------------------------------------------------------------------------
// Kinds: what may be stored, recognised by exact prototype (a subclass would read back as its
// base class, so it is refused like any other class instance).
// ---------------------------------------------------------------------------------------------

type TypedArrayKind =
  | 'Buffer'
  | 'Int8Array'
  | 'Uint8Array'
  | 'Uint8ClampedArray'
  | 'Int16Array'
  | 'Uint16Array'
  | 'Int32Array'
  | 'Uint32Array'
  | 'Float32Array'
  | 'Float64Array'
  | 'BigInt64Array'
  | 'BigUint64Array';

type Kind = 'object' | 'Map' | 'Set' | 'Date' | 'ArrayBuffer' | TypedArrayKind;

type AnyTypedArray = ArrayLike<number | bigint> & ArrayBufferView;

/** The constructor that copies each typed array kind (`Buffer.from` copies; `new Buffer` is deprecated). */
const TYPED_ARRAYS: ReadonlyArray<readonly [TypedArrayKind, object, (source: never) => AnyTypedArray]> = [
  ['Buffer', Buffer.prototype, (source: Buffer) => Buffer.from(source)],
  ['Int8Array', Int8Array.prototype, (source: Int8Array) => new Int8Array(source)],
  ['Uint8Array', Uint8Array.prototype, (source: Uint8Array) => new Uint8Array(source)],
  ['Uint8ClampedArray', Uint8ClampedArray.prototype, (source: Uint8ClampedArray) => new Uint8ClampedArray(source)],
  ['Int16Array', Int16Array.prototype, (source: Int16Array) => new Int16Array(source)],
  ['Uint16Array', Uint16Array.prototype, (source: Uint16Array) => new Uint16Array(source)],
  ['Int32Array', Int32Array.prototype, (source: Int32Array) => new Int32Array(source)],
  ['Uint32Array', Uint32Array.prototype, (source: Uint32Array) => new Uint32Array(source)],
  ['Float32Array', Float32Array.prototype, (source: Float32Array) => new Float32Array(source)],
  ['Float64Array', Float64Array.prototype, (source: Float64Array) => new Float64Array(source)],
  ['BigInt64Array', BigInt64Array.prototype, (source: BigInt64Array) => new BigInt64Array(source)],
  ['BigUint64Array', BigUint64Array.prototype, (source: BigUint64Array) => new BigUint64Array(source)],
];

const KIND_OF_PROTOTYPE = new Map<unknown, Kind>([
  [Object.prototype, 'object'],
  [null, 'object'],
  [Map.prototype, 'Map'],
  [Set.prototype, 'Set'],
  [Date.prototype, 'Date'],
  [ArrayBuffer.prototype, 'ArrayBuffer'],
  ...TYPED_ARRAYS.map(([kind, prototype]) => [prototype, kind] as const),
]);

const COPY_TYPED_ARRAY = new Map(TYPED_ARRAYS.map(([kind, , copy]) => [kind, copy as (source: AnyTypedArray) => AnyTypedArray]));

/** Why a kind of object is refused, in words that say what to store instead. */
function refusal(value: object, prototype: unknown): string {
  if (value instanceof Promise) return 'a Promise cannot be stored (await it and store its result)';
  if (value instanceof WeakMap || value instanceof WeakSet || value instanceof WeakRef) {
    return `a ${value instanceof WeakMap ? 'WeakMap' : value instanceof WeakSet ? 'WeakSet' : 'WeakRef'} cannot be stored (its contents cannot be enumerated)`;
  }
  if (value instanceof DataView) return 'a DataView cannot be stored (store a typed array)';
  if (typeof SharedArrayBuffer === 'function' && value instanceof SharedArrayBuffer) return 'a SharedArrayBuffer cannot be stored (store a typed array copy)';
  if (value instanceof RegExp) return 'a RegExp cannot be stored (store its source and flags)';
  if (value instanceof Error) return 'an Error cannot be stored (store its name and message)';
  let name = 'an object';
  try {
    const constructor = (prototype as { constructor?: unknown } | null)?.constructor;
    if (typeof constructor === 'function' && constructor.name) name = constructor.name;
  } catch {
    // A hostile prototype: the kind is still refused, just without its name.
  }
  return `an instance of ${name} cannot be stored (only plain objects, arrays, Map, Set, Date, typed arrays and ArrayBuffer; copy its fields into a plain object)`;
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/**
 * Where the walk is: a stack of segments, turned into a path string (`payload.items[2].sku`) only
 * when something is refused, so the plain path builds no strings. A string is an object key
 * (`.key`), a number an array index (`[i]`), a `{ text }` a Map or Set step written out already.
 */
type Segment = string | number | { text: string };

/** State of one snapshot walk. */
interface Walk {
  readonly root: string;
  readonly segments: Segment[];
  /** True while everything seen is plain JSON that JSON.stringify/JSON.parse round-trip exactly. */
  plain: boolean;
  /** Path of the first key superjson refuses (`__proto__`, `constructor`, `prototype`), if any. */
  reservedKeyAt: string | null;
  readonly ancestors: Set<object>;
  readonly maxBytes: number;
}

function pathOf(walk: Walk, last?: Segment): string {
  let path = walk.root;
  for (const segment of last === undefined ? walk.segments : [...walk.segments, last]) {
    path += typeof segment === 'string' ? `.${segment}` : typeof segment === 'number' ? `[${segment}]` : segment.text;
  }
  return path;
}

/**
 * Encodes a payload or metadata value. `undefined` is stored as NULL. What cannot be stored
 * faithfully is refused (UnencodableValueError with the path): functions, symbols, promises, weak
 * collections, class instances, DataView, RegExp, Error, Invalid Dates, array holes, cycles and
 * nesting deeper than 256 levels. A ledger that quietly changes part of an event is worse than
 * one that says no.
 *
 * The result is computed from a snapshot that reads each property of the value exactly once.
 */
export function encodeValue(value: unknown, root: string, maxBytes = Number.MAX_SAFE_INTEGER): EncodedValue {
  if (value === undefined) return { json: null, meta: null };
  const walk: Walk = { root, segments: [], plain: true, reservedKeyAt: null, ancestors: new Set(), maxBytes };
  const snapshot = snap(value, 0, walk);
  // The fast path, taken by every plain-JSON value, needs no round trip. It is faithful by
  // construction: the snapshot holds only strings, booleans, null, finite numbers other than -0,
  // arrays without holes (fresh Array instances, no extra properties) and fresh plain objects with
  // own data properties and string keys. For exactly these JSON.stringify writes every element and
  // key (no toJSON, no getter, no replacer), numbers in their shortest round-trip form and lone
  // surrogates as \u escapes, and JSON.parse gives back the same numbers, strings, keys and
  // structure (own `__proto__` keys included, since JSON.parse defines properties rather than
  // assigning them). Anything else in the value cleared `walk.plain` and takes the checked path.
  if (walk.plain) return { json: JSON.stringify(snapshot), meta: null };
  if (walk.reservedKeyAt !== null) {
    const key = walk.reservedKeyAt.slice(walk.reservedKeyAt.lastIndexOf('.') + 1);
    throw new UnencodableValueError(
      `a key named ${key} cannot be stored in a value that also holds a Date, BigInt, Map, Set, typed array, ArrayBuffer, undefined or non-finite number (superjson refuses it as a prototype-pollution risk)`,
      walk.reservedKeyAt,
    );
  }
  let encoded: EncodedValue;
  try {
    const { json, meta } = codec.serialize(snapshot as never);
    encoded = { json: JSON.stringify(json), meta: meta === undefined ? null : JSON.stringify(meta) };
  } catch (error) {
    throw new UnencodableValueError(`the value cannot be encoded (${(error as Error)?.message ?? String(error)})`, root);
  }
  // The round trip: decode the text exactly as it will be stored and compare with the snapshot.
  // Whatever a future superjson (or a kind this file forgot) does, a value that would read back
  // differently is refused here, on the caller's thread, naming the first difference.
  let decoded: unknown;
  try {
    decoded = decodeValue(encoded.json, encoded.meta);
  } catch (error) {
    throw new UnencodableValueError(`the value would not decode (${(error as Error)?.message ?? String(error)})`, root);
  }
  const difference = firstDifference(decoded, snapshot, root);
  if (difference !== null) throw new UnencodableValueError(`the value would not read back as it is (${difference.reason})`, difference.path);
  return encoded;
}

/** A copy of `value` made of fresh supported objects, each property read once; throws for what cannot be stored. */
function snap(value: unknown, depth: number, walk: Walk): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // NaN, ±Infinity and -0 do not survive JSON; superjson annotates them.
      if (!Number.isFinite(value) || Object.is(value, -0)) walk.plain = false;
      return value;
    case 'bigint':
    case 'undefined':
      walk.plain = false; // superjson annotates them
      return value;
    case 'function':
      throw new UnencodableValueError('a function cannot be stored', pathOf(walk));
    case 'symbol':
      throw new UnencodableValueError('a symbol cannot be stored', pathOf(walk));
  }
  if (value === null) return null;
  const object = value as object;
  if (depth >= MAX_DEPTH) throw new UnencodableValueError(`nesting deeper than ${MAX_DEPTH} levels`, pathOf(walk));
  if (walk.ancestors.has(object)) throw new UnencodableValueError('a cycle cannot be stored', pathOf(walk));
  walk.ancestors.add(object);
  let copy: unknown;
  const prototype: unknown = Object.getPrototypeOf(object);
  if (Array.isArray(object)) {
    // A subclass of Array would read back as a plain array.
    if (prototype !== Array.prototype) throw new UnencodableValueError(refusal(object, prototype), pathOf(walk));
    copy = snapArray(object, depth, walk);
  } else {
    // Plain objects first: they are most of what is stored, and need no lookup.
    const kind = prototype === Object.prototype ? 'object' : KIND_OF_PROTOTYPE.get(prototype);
    if (kind === 'object') copy = snapObject(object as Record<string, unknown>, depth, walk);
    else if (kind === undefined) throw new UnencodableValueError(refusal(object, prototype), pathOf(walk));
    else {
      // A Proxy passes the prototype test, but the intrinsics that read a Map, a Date or a typed
      // array refuse it with a bare TypeError.
      if (types.isProxy(object)) throw new UnencodableValueError(`a Proxy of a ${kind} cannot be stored (store the ${kind} itself)`, pathOf(walk));
      walk.plain = false;
      copy = snapSpecial(object, kind, depth, walk);
    }
  }
  walk.ancestors.delete(object);
  return copy;
}

function snapArray(array: unknown[], depth: number, walk: Walk): unknown[] {
  // `length` can be set far beyond the elements (up to 2^32 - 1): judge it before walking it.
  const length = array.length;
  if (2 * length + 1 > walk.maxBytes) throw new ValueTooLargeError(2 * length + 1, pathOf(walk));
  const copy: unknown[] = [];
  const { segments } = walk;
  for (let i = 0; i < length; i++) {
    const element = array[i];
    // JSON has no hole and superjson writes one as null: refused rather than filled in.
    if (element === undefined && !(i in array)) {
      throw new UnencodableValueError('an array hole cannot be stored (fill it with undefined or null)', pathOf(walk, i));
    }
    segments.push(i);
    copy.push(snap(element, depth + 1, walk));
    segments.pop();
  }
  return copy;
}

function snapObject(object: Record<string, unknown>, depth: number, walk: Walk): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  const { segments } = walk;
  for (const key of Object.keys(object)) {
    segments.push(key);
    const entry = snap(object[key], depth + 1, walk);
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      walk.reservedKeyAt ??= pathOf(walk);
      // Assigning `__proto__` would set the copy's prototype instead of adding a key.
      Object.defineProperty(copy, key, { value: entry, writable: true, enumerable: true, configurable: true });
    } else {
      copy[key] = entry;
    }
    segments.pop();
  }
  if (Object.getOwnPropertySymbols(object).length > 0) {
    throw new UnencodableValueError('symbol-keyed properties cannot be stored', pathOf(walk));
  }
  return copy;
}

function snapSpecial(object: object, kind: Exclude<Kind, 'object'>, depth: number, walk: Walk): unknown {
  const { segments } = walk;
  switch (kind) {
    case 'Map': {
      const copy = new Map<unknown, unknown>();
      let index = 0;
      // Map.prototype.entries, not the object's own iterator: an own Symbol.iterator could lie.
      for (const [key, entry] of Map.prototype.entries.call(object as Map<unknown, unknown>)) {
        segments.push({ text: `<key ${index++}>` });
        const keyCopy = snap(key, depth + 1, walk);
        segments.pop();
        segments.push({ text: `.get(${describeValue(key)})` });
        copy.set(keyCopy, snap(entry, depth + 1, walk));
        segments.pop();
      }
      return copy;
    }
    case 'Set': {
      const copy = new Set<unknown>();
      let index = 0;
      for (const entry of Set.prototype.values.call(object as Set<unknown>)) {
        segments.push({ text: `<${index++}>` });
        copy.add(snap(entry, depth + 1, walk));
        segments.pop();
      }
      return copy;
    }
    case 'Date': {
      const time = Date.prototype.getTime.call(object as Date);
      if (Number.isNaN(time)) throw new UnencodableValueError('an Invalid Date cannot be stored', pathOf(walk));
      return new Date(time);
    }
    case 'ArrayBuffer': {
      const buffer = object as ArrayBuffer;
      if ((buffer as { resizable?: boolean }).resizable === true) {
        throw new UnencodableValueError('a resizable ArrayBuffer cannot be stored (store a fixed-length copy)', pathOf(walk));
      }
      // An ArrayBuffer of n bytes is a JSON array of n numbers: at least 2n + 1 bytes.
      if (2 * buffer.byteLength + 1 > walk.maxBytes) throw new ValueTooLargeError(2 * buffer.byteLength + 1, pathOf(walk));
      return buffer.slice(0);
    }
    default: {
      // A typed array of n elements is a JSON array of n numbers: at least 2n + 1 bytes.
      const array = object as AnyTypedArray;
      if (2 * array.length + 1 > walk.maxBytes) throw new ValueTooLargeError(2 * array.length + 1, pathOf(walk));
      return COPY_TYPED_ARRAY.get(kind)!(array);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The round-trip comparison
// ---------------------------------------------------------------------------------------------

interface Difference {
  path: string;
  reason: string;
}

/** The kind of a decoded or snapshot value: its typeof, or the Kind of its exact prototype. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'array';
  return KIND_OF_PROTOTYPE.get(Object.getPrototypeOf(value)) ?? 'unsupported object';
}

/**
 * The first place where `actual` (what was decoded) differs from `expected` (the snapshot), by a
 * strict structural equality: same kinds (a Uint8Array is not a Buffer, an array is not an
 * object), numbers by Object.is (NaN equals NaN, -0 differs from 0), same own keys, Map and Set
 * entries in the same order, typed arrays and ArrayBuffers element by element. Null when equal.
 */
export function firstDifference(actual: unknown, expected: unknown, path: string): Difference | null {
  const kind = kindOf(expected);
  const actualKind = kindOf(actual);
  if (actualKind !== kind) return { path, reason: `reads back as ${actualKind} instead of ${kind}` };
  switch (kind) {
    case 'null':
    case 'undefined':
      return null;
    case 'number':
    case 'string':
    case 'boolean':
    case 'bigint':
      return Object.is(actual, expected) ? null : { path, reason: `reads back as ${describeValue(actual)} instead of ${describeValue(expected)}` };
    case 'Date': {
      const [a, e] = [(actual as Date).getTime(), (expected as Date).getTime()];
      return Object.is(a, e) ? null : { path, reason: `reads back as time ${a} instead of ${e}` };
    }
    case 'array': {
      const [a, e] = [actual as unknown[], expected as unknown[]];
      if (a.length !== e.length) return { path, reason: `reads back with ${a.length} elements instead of ${e.length}` };
      for (let i = 0; i < e.length; i++) {
        if (!(i in a)) return { path: `${path}[${i}]`, reason: 'reads back as a hole' };
        const difference = firstDifference(a[i], e[i], `${path}[${i}]`);
        if (difference) return difference;
      }
      return null;
    }
    case 'object': {
      const [a, e] = [actual as Record<string, unknown>, expected as Record<string, unknown>];
      const keys = Object.keys(e);
      for (const key of keys) {
        if (!Object.hasOwn(a, key)) return { path: `${path}.${key}`, reason: 'the key is missing when read back' };
        const difference = firstDifference(a[key], e[key], `${path}.${key}`);
        if (difference) return difference;
      }
      const extra = Object.keys(a).find((key) => !Object.hasOwn(e, key));
      return extra === undefined ? null : { path, reason: `reads back with an extra key ${describeValue(extra)}` };
    }
    case 'Map': {
      const [a, e] = [[...(actual as Map<unknown, unknown>)], [...(expected as Map<unknown, unknown>)]];
      if (a.length !== e.length) return { path, reason: `reads back with ${a.length} entries instead of ${e.length}` };
      for (let i = 0; i < e.length; i++) {
        const difference =
          firstDifference(a[i]![0], e[i]![0], `${path}<key ${i}>`) ?? firstDifference(a[i]![1], e[i]![1], `${path}.get(${describeValue(e[i]![0])})`);
        if (difference) return difference;
      }
      return null;
    }
    case 'Set': {
      const [a, e] = [[...(actual as Set<unknown>)], [...(expected as Set<unknown>)]];
      if (a.length !== e.length) return { path, reason: `reads back with ${a.length} elements instead of ${e.length}` };
      for (let i = 0; i < e.length; i++) {
        const difference = firstDifference(a[i], e[i], `${path}<${i}>`);
        if (difference) return difference;
      }
      return null;
    }
    case 'ArrayBuffer':
      return firstDifference(new Uint8Array(actual as ArrayBuffer), new Uint8Array(expected as ArrayBuffer), path);
    default: {
      // A typed array kind (or the Uint8Array views of two ArrayBuffers).
      const [a, e] = [actual as AnyTypedArray, expected as AnyTypedArray];
      if (a.length !== e.length) return { path, reason: `reads back with ${a.length} elements instead of ${e.length}` };
      for (let i = 0; i < e.length; i++) {
        if (!Object.is(a[i], e[i])) return { path: `${path}[${i}]`, reason: `reads back as ${describeValue(a[i])} instead of ${describeValue(e[i])}` };
      }
      return null;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

/**
 * Decodes what {@link encodeValue} stored. Throws (SyntaxError, UndecodableValueError or
 * superjson's Error) for text Stele did not write; decodeRow turns that into UNDECODABLE_EVENT.
 */
export function decodeValue(json: string | null, meta: string | null): unknown {
  if (json === null) {
    if (meta !== null) throw new UndecodableValueError('type annotations without a value (the value column is NULL)');
    return undefined;
  }
  const parsed: unknown = JSON.parse(json);
  if (meta === null) return parsed;
  const annotations: unknown = JSON.parse(meta);
  if (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations)) {
    throw new UndecodableValueError(`the annotations must be a JSON object, got ${describeValue(annotations)}`);
  }
  const { values } = annotations as { values?: unknown };
  if (values !== undefined) pointBufferAnnotations(values);
  return codec.deserialize({ json: parsed as never, meta: annotations as never });
}

/**
 * superjson writes a Buffer as `["typed-array", "Buffer"]` (from its constructor's name) but its
 * decoder knows only the nine typed arrays of its own list, so such rows, including those written
 * before this codec, would never read. Each such annotation in the tree is pointed at Stele's
 * decode-only Buffer transformer. The tree (superjson's `meta.values`) is a leaf `[type]`, a node
 * `[type, { key: tree }]`, or a record `{ key: tree }`.
 */
function pointBufferAnnotations(tree: unknown): void {
  if (Array.isArray(tree)) {
    const type: unknown = tree[0];
    if (Array.isArray(type) && type.length === 2 && type[0] === 'typed-array' && type[1] === 'Buffer') tree[0] = ['custom', CUSTOM.Buffer];
    if (typeof tree[1] === 'object' && tree[1] !== null) for (const child of Object.values(tree[1] as object)) pointBufferAnnotations(child);
  } else if (typeof tree === 'object' && tree !== null) {
    for (const child of Object.values(tree)) pointBufferAnnotations(child);
  }
}

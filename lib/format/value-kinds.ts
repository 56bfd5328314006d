/**
 * Kinds: what may be stored, recognised by exact prototype (a subclass would read back as its
 * base class, so it is refused like any other class instance).
 * @internal
 */

/** Deeper nesting is refused. */
export const MAX_DEPTH = 256;

// ---------------------------------------------------------------------------------------------

export type TypedArrayKind =
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

export type Kind = 'object' | 'Map' | 'Set' | 'Date' | 'ArrayBuffer' | TypedArrayKind;

export type AnyTypedArray = ArrayLike<number | bigint> & ArrayBufferView;

/** Node's Buffer, a global read where it exists: the signing helpers load this module in browsers too. */
const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer;

/** The constructor that copies each typed array kind (`Buffer.from` copies; `new Buffer` is deprecated). */
export const TYPED_ARRAYS: ReadonlyArray<readonly [TypedArrayKind, object, (source: never) => AnyTypedArray]> = [
  ...(NodeBuffer === undefined ? [] : [['Buffer', NodeBuffer.prototype, (source: Buffer) => NodeBuffer.from(source)] as const]),
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

export const KIND_OF_PROTOTYPE = new Map<unknown, Kind>([
  [Object.prototype, 'object'],
  [null, 'object'],
  [Map.prototype, 'Map'],
  [Set.prototype, 'Set'],
  [Date.prototype, 'Date'],
  [ArrayBuffer.prototype, 'ArrayBuffer'],
  ...TYPED_ARRAYS.map(([kind, prototype]) => [prototype, kind] as const),
]);

export const COPY_TYPED_ARRAY = new Map(TYPED_ARRAYS.map(([kind, , copy]) => [kind, copy as (source: AnyTypedArray) => AnyTypedArray]));

const TYPED_ARRAY_TAG = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!.get!;
const ARRAY_BUFFER_BYTE_LENGTH = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get!;

/**
 * True when `object` really is a `kind`, not only an object with its prototype: a Proxy of a Map,
 * or `Object.create(Date.prototype)`, passes the prototype test, but the intrinsics that read a
 * Map, a Date or a typed array refuse it with a bare TypeError. Each check here is such an
 * intrinsic (a brand check), so it needs no `node:util` `types.isProxy` and runs on any platform.
 */
export function isGenuine(object: object, kind: Exclude<Kind, 'object'>): boolean {
  try {
    switch (kind) {
      case 'Map':
        Map.prototype.has.call(object, undefined);
        return true;
      case 'Set':
        Set.prototype.has.call(object, undefined);
        return true;
      case 'Date':
        Date.prototype.getTime.call(object);
        return true;
      case 'ArrayBuffer':
        ARRAY_BUFFER_BYTE_LENGTH.call(object);
        return true;
      default:
        // A Buffer is a Uint8Array to this getter; anything but a typed array is undefined.
        return TYPED_ARRAY_TAG.call(object) === (kind === 'Buffer' ? 'Uint8Array' : kind);
    }
  } catch {
    return false;
  }
}

/** Why a kind of object is refused, in words that say what to store instead. */
export function refusal(value: object, prototype: unknown): string {
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

/** The kind of a decoded or snapshot value: its typeof, or the Kind of its exact prototype. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'array';
  return KIND_OF_PROTOTYPE.get(Object.getPrototypeOf(value)) ?? 'unsupported object';
}

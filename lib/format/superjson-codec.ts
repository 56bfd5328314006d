/**
 * The codec: a private superjson instance (the global one is the application's: a class or a
 * transformer it registers must never change what Stele stores or reads), with the custom
 * transformers Stele defines. Their names and encodings are part of the file format
 * (FORMAT.md, "Stored values").
 * @internal
 */
import { SuperJSON } from 'superjson';
import { describeValue } from '../errors.ts';
import { UndecodableValueError } from './value-errors.ts';

// ---------------------------------------------------------------------------------------------

export const codec = new SuperJSON();

/**
 * Names of the custom annotations (`["custom", name]` in the meta) Stele defines for what
 * superjson 2.x gets wrong or cannot store. Stable: they are part of the file format.
 */
export const CUSTOM = {
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

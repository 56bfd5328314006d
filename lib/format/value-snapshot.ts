/**
 * The snapshot a value is encoded from: a copy made of fresh supported objects, each property
 * read exactly once (so a getter cannot answer one thing to the check and another to the
 * encoder), refusing with its path whatever cannot be stored faithfully.
 * @internal
 */
import { describeValue } from '../errors.ts';
import { UnencodableValueError, ValueTooLargeError } from './value-errors.ts';
import { COPY_TYPED_ARRAY, isGenuine, KIND_OF_PROTOTYPE, MAX_DEPTH, refusal, type AnyTypedArray, type Kind } from './value-kinds.ts';

/**
 * Where the walk is: a stack of segments, turned into a path string (`payload.items[2].sku`) only
 * when something is refused, so the plain path builds no strings. A string is an object key
 * (`.key`), a number an array index (`[i]`), a `{ text }` a Map or Set step written out already.
 */
export type Segment = string | number | { text: string };

/** State of one snapshot walk. */
export interface Walk {
  readonly root: string;
  readonly segments: Segment[];
  /** True while everything seen is plain JSON that JSON.stringify/JSON.parse round-trip exactly. */
  plain: boolean;
  /** Path of the first key superjson refuses (`__proto__`, `constructor`, `prototype`), if any. */
  reservedKeyAt: string | null;
  readonly ancestors: Set<object>;
  readonly maxBytes: number;
}

export function pathOf(walk: Walk, last?: Segment): string {
  let path = walk.root;
  for (const segment of last === undefined ? walk.segments : [...walk.segments, last]) {
    path += typeof segment === 'string' ? `.${segment}` : typeof segment === 'number' ? `[${segment}]` : segment.text;
  }
  return path;
}

/** A copy of `value` made of fresh supported objects, each property read once; throws for what cannot be stored. */
export function snap(value: unknown, depth: number, walk: Walk): unknown {
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
      if (!isGenuine(object, kind)) {
        throw new UnencodableValueError(`a Proxy of a ${kind}, or an object that only inherits from ${kind}.prototype, cannot be stored (store the ${kind} itself)`, pathOf(walk));
      }
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

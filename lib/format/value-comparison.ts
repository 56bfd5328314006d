/**
 * The round-trip comparison: whether a decoded value is exactly the snapshot it was encoded from.
 * @internal
 */
import { describeValue } from '../errors.ts';
import { kindOf, type AnyTypedArray } from './value-kinds.ts';


export interface Difference {
  path: string;
  reason: string;
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

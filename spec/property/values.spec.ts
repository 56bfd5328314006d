/**
 * Property: any value built from the supported kinds (plain objects, null-prototype objects,
 * arrays, Map, Set, Date, BigInt, undefined, strings, every double including NaN, ±Infinity and
 * -0, Buffer, ArrayBuffer and the eleven typed arrays) and the refused ones (functions, symbols,
 * promises, weak collections, class instances, Invalid Dates, RegExps, Errors, DataViews, array
 * holes), nested in any way, either reads back exactly through append and get, or is refused
 * with INVALID_EVENT and a path that leads, in the value itself, to something refused. It is
 * refused exactly when it holds something refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { describeValue } from '../../lib/errors.ts';
import { isLedgerError } from '../../lib/index.ts';
import { comparable } from '../helpers/comparable.ts';
import { chainOf, createLedger } from '../helpers/temp-ledger.ts';

class Point {
  constructor(readonly x: number) {}
}

const REFUSED_FACTORIES = {
  function: () => () => 1,
  symbol: () => Symbol('s'),
  promise: () => Promise.resolve(1),
  weakMap: () => new WeakMap(),
  weakSet: () => new WeakSet(),
  classInstance: () => new Point(1),
  invalidDate: () => new Date(Number.NaN),
  regExp: () => /a+/g,
  error: () => new Error('boom'),
  dataView: () => new DataView(new ArrayBuffer(2)),
};

/** A hole in an array is refused too; the property's oracle recognises it by `i in array`. */
function isRefusedLeaf(value: unknown): boolean {
  if (typeof value === 'function' || typeof value === 'symbol') return true;
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Date) return Number.isNaN(value.getTime());
  return [Promise, WeakMap, WeakSet, Point, RegExp, Error, DataView].some((kind) => value instanceof kind);
}

/** True when the value holds anything refused, holes included (the oracle, independent of the codec). */
function holdsRefused(value: unknown): boolean {
  if (isRefusedLeaf(value)) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!(i in value) || holdsRefused(value[i])) return true;
    return false;
  }
  if (value instanceof Map) return [...value].some(([k, v]) => holdsRefused(k) || holdsRefused(v));
  if (value instanceof Set) return [...value].some(holdsRefused);
  if (typeof value === 'object' && value !== null && !ArrayBuffer.isView(value) && !(value instanceof ArrayBuffer) && !(value instanceof Date)) {
    return Object.values(value).some(holdsRefused);
  }
  return false;
}

/**
 * Follows an error path (`payload.a[2]<key 0>.get('k')<1>`) into the value and returns what it may
 * lead to (`.get(an object)` matches every object key), with `hole` true when the last step is an
 * array hole. An empty list means the path leads nowhere in the value.
 */
function follow(current: unknown, rest: string): Array<{ found: unknown; hole: boolean }> {
  if (rest.length === 0) return [{ found: current, hole: false }];
  let match: RegExpMatchArray | null;
  if ((match = rest.match(/^\.get\(([^)]*)\)/))) {
    if (!(current instanceof Map)) return [];
    const after = rest.slice(match[0].length);
    return [...current].filter(([key]) => describeValue(key) === match![1]).flatMap(([, entry]) => follow(entry, after));
  }
  let next: unknown;
  let hole = false;
  if ((match = rest.match(/^<key (\d+)>/))) {
    if (!(current instanceof Map) || Number(match[1]) >= current.size) return [];
    next = [...current.keys()][Number(match[1])];
  } else if ((match = rest.match(/^<(\d+)>/))) {
    if (!(current instanceof Set) || Number(match[1]) >= current.size) return [];
    next = [...current][Number(match[1])];
  } else if ((match = rest.match(/^\[(\d+)\]/))) {
    const index = Number(match[1]);
    if (!(Array.isArray(current) || ArrayBuffer.isView(current)) || index >= (current as unknown[]).length) return [];
    hole = Array.isArray(current) && !(index in current);
    next = (current as unknown[])[index];
  } else if ((match = rest.match(/^\.([A-Za-z0-9_]*)/))) {
    if (typeof current !== 'object' || current === null || !Object.hasOwn(current, match[1]!)) return [];
    next = (current as Record<string, unknown>)[match[1]!];
  } else {
    return [];
  }
  const after = rest.slice(match[0].length);
  if (after.length === 0) return [{ found: next, hole }];
  return follow(next, after);
}

const key = fc.string({ unit: fc.constantFrom(...'abcxyz019_'), maxLength: 4 });

const leaf = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 3, arbitrary: fc.double() },
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.date({ noInvalidDate: true }),
  fc.uint8Array({ maxLength: 4 }).map((bytes) => Buffer.from(bytes)),
  fc.uint8Array({ maxLength: 4 }).map((bytes) => bytes.slice().buffer),
  fc.uint8Array({ maxLength: 4 }),
  fc.int8Array({ maxLength: 4 }),
  fc.uint8ClampedArray({ maxLength: 4 }),
  fc.int16Array({ maxLength: 4 }),
  fc.uint16Array({ maxLength: 4 }),
  fc.int32Array({ maxLength: 4 }),
  fc.uint32Array({ maxLength: 4 }),
  fc.float32Array({ maxLength: 4 }),
  fc.float64Array({ maxLength: 4 }),
  fc.bigInt64Array({ maxLength: 4 }),
  fc.bigUint64Array({ maxLength: 4 }),
  // Refused kinds, rare enough that most values are accepted.
  fc.constantFrom(...(Object.keys(REFUSED_FACTORIES) as Array<keyof typeof REFUSED_FACTORIES>)).map((kind) => REFUSED_FACTORIES[kind]()),
);

const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 4, arbitrary: leaf },
    fc.array(tie('value'), { maxLength: 4 }),
    fc.sparseArray(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 3 }).map((entries) => Object.assign(Object.create(null) as object, entries)),
    fc.array(fc.tuple(fc.oneof(key, fc.integer(), fc.dictionary(key, fc.integer(), { maxKeys: 2 }), tie('value')), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 3 }).map((entries) => new Set(entries)),
  ),
}));

test('any value either reads back exactly through append and get, or is refused with a path into it', { timeout: 120_000 }, async (t) => {
  const ledger = await createLedger(t, { durability: 'normal' });
  const outcomes = { accepted: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(value, fc.constantFrom('payload', 'metadata'), async (generated, field) => {
      const expectRefusal = holdsRefused(generated);
      let sequence: number;
      try {
        sequence = (await ledger.append({ type: 'value', [field]: generated })).sequence;
      } catch (err) {
        assert.ok(isLedgerError(err, 'INVALID_EVENT'), `expected INVALID_EVENT, got ${String(err)}`);
        assert.ok(expectRefusal, `refused a value that holds nothing refused: ${err.message}`);
        assert.equal(err.details.field, field);
        const path = err.details.path as string;
        assert.ok(path.startsWith(field), `${path} starts at ${field}`);
        const targets = follow(generated, path.slice(field.length));
        assert.ok(targets.length > 0, `${path} leads nowhere in the value: ${err.message}`);
        assert.ok(
          targets.some(({ found, hole }) => hole || isRefusedLeaf(found)),
          `${path} leads to ${targets.map(({ found }) => describeValue(found)).join(' or ')}, which is not refused: ${err.message}`,
        );
        outcomes.refused++;
        return;
      }
      assert.ok(!expectRefusal, 'accepted a value that holds something refused');
      const event = ledger.get(sequence)!;
      assert.deepStrictEqual(comparable(event[field], { plainObjects: true }), comparable(generated, { plainObjects: true }));
      outcomes.accepted++;
    }),
    { numRuns: 300, interruptAfterTimeLimit: 30_000 },
  );
  t.diagnostic(`accepted ${outcomes.accepted}, refused ${outcomes.refused}`);
  assert.ok(outcomes.accepted > 20 && outcomes.refused > 20, 'both outcomes were exercised');
  assert.equal(chainOf(ledger.path).ok, true);
});

/**
 * What goes in comes out: every payload and metadata value either reads back exactly as it was
 * appended (same kinds, same bytes, NaN, ±Infinity and -0 kept) or is refused with INVALID_EVENT
 * naming its path, and the next valid append works. A row no Stele wrote (a foreign tool) reads
 * as UNDECODABLE_EVENT with its sequence, never as an uncoded Error.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { isLedgerError, openLedger, type Ledger, type LedgerError } from '../lib/index.ts';
import { configureWriterConnection } from '../lib/sqlite/connections.ts';
import { registerNativeFunctions } from '../lib/sqlite/native-functions.ts';
import { comparable } from './helpers/comparable.ts';
import { chainOf, createLedger, reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

function assertSame(actual: unknown, expected: unknown, label: string): void {
  assert.deepStrictEqual(comparable(actual), comparable(expected), label);
}

function refusedAt(path: string, field = path.split(/[.[<]/)[0]) {
  return (err: LedgerError) => {
    assert.ok(isLedgerError(err), `expected a LedgerError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_EVENT', err.message);
    assert.equal(err.details.field, field);
    assert.equal(err.details.path, path, err.message);
    return true;
  };
}

/** Appends a valid event and checks it takes the next sequence: a refusal left no trace. */
async function nextAppendWorks(ledger: Ledger): Promise<void> {
  const expected = ledger.maxSequence() + 1;
  assert.equal((await ledger.append({ type: 'valid', payload: { ok: true } })).sequence, expected);
}

const SUPPORTED: Array<[string, unknown]> = [
  ['string', 'ünïcødé ✓ \u0000 \uD800'],
  ['finite numbers', [0, 1.5, -2, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53 + 2]],
  ['non-finite numbers and -0', [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0]],
  ['booleans and null', [true, false, null]],
  ['undefined inside objects and arrays', { a: undefined, list: [undefined, 1] }],
  ['BigInt', { n: 2n ** 100n, m: -7n }],
  ['Date', { at: new Date('2026-01-02T03:04:05.678Z'), epoch: new Date(0), early: new Date(-8.64e15) }],
  ['Map with object keys', new Map<unknown, unknown>([[{ id: 1 }, 'a'], ['k', new Map([[1n, null]])]])],
  ['Set', new Set<unknown>([1, 'x', Number.NaN, new Set([2])])],
  ['null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
  ['keys JSON treats specially', JSON.parse('{"__proto__":{"x":1},"constructor":2,"toJSON":3,"a.b":4,"":5}')],
  ['Buffer', Buffer.from('hi')],
  ['empty Buffer', Buffer.alloc(0)],
  ['Uint8Array', new Uint8Array([0, 1, 255])],
  ['Int8Array', new Int8Array([-128, 0, 127])],
  ['Uint8ClampedArray', new Uint8ClampedArray([0, 128, 255])],
  ['Int16Array', new Int16Array([-32768, 32767])],
  ['Uint16Array', new Uint16Array([0, 65535])],
  ['Int32Array', new Int32Array([-(2 ** 31), 2 ** 31 - 1])],
  ['Uint32Array', new Uint32Array([0, 2 ** 32 - 1])],
  ['Float32Array', new Float32Array([0.1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 3.4e38])],
  ['Float64Array', new Float64Array([0.1, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, Number.MIN_VALUE])],
  ['BigInt64Array', new BigInt64Array([-(2n ** 63n), 0n, 2n ** 63n - 1n])],
  ['BigUint64Array', new BigUint64Array([0n, 2n ** 64n - 1n])],
  ['typed array over part of a larger buffer', new Uint16Array(new ArrayBuffer(16), 4, 2).fill(513)],
  ['ArrayBuffer', new Uint8Array([1, 2, 3]).buffer],
  ['everything nested', { m: new Map([['f', [new Float64Array([Number.NaN])]]]), s: new Set([Buffer.from('x')]), b: { d: new Date(5) } }],
];

describe('values read back exactly as they were appended', () => {
  test('each supported kind round-trips through append and get, as payload, inside it, and as metadata', async (t) => {
    const ledger = await createLedger(t);
    for (const [label, value] of SUPPORTED) {
      const top = await ledger.append({ type: 'value', payload: value });
      const nested = await ledger.append({ type: 'value', payload: { value }, metadata: { value } });
      const expected = label === 'null-prototype object' ? { a: 1 } : value; // reads back as an ordinary object
      assertSame(ledger.get(top.sequence)!.payload, expected, `${label} as the payload`);
      assertSame(ledger.get(nested.sequence)!.payload, { value: expected }, `${label} inside the payload`);
      assertSame(ledger.get(nested.sequence)!.metadata, { value: expected }, `${label} inside the metadata`);
    }
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('a Buffer reads back as a Buffer with the same bytes from every read, and is queryable from SQL', async (t) => {
    const ledger = await createLedger(t);
    const { sequence, eventId } = await ledger.append({ type: 'upload', streamId: 'files', payload: { bytes: Buffer.from('hi') } });
    for (const [read, event] of [
      ['get', ledger.get(sequence)],
      ['getByEventId', ledger.getByEventId(eventId)],
      ['readAll', ledger.readAll()[0]],
      ['readStream', ledger.readStream('files')[0]],
    ] as const) {
      const bytes = (event?.payload as { bytes: unknown }).bytes;
      assert.ok(Buffer.isBuffer(bytes), `${read}: a Buffer, got ${String(bytes)}`);
      assert.equal(bytes.toString(), 'hi', read);
    }
    const db = new Database(ledger.path, { readonly: true });
    t.after(() => db.close());
    assert.equal(db.prepare("SELECT json_extract(payload, '$.bytes[1]') FROM events WHERE sequence = ?").pluck().get(sequence), 105);
    // A Uint8Array stays a Uint8Array (not a Buffer), and a Buffer is not turned into one.
    const plain = await ledger.append({ type: 'upload', payload: new Uint8Array([104, 105]) });
    assert.equal(Object.getPrototypeOf(ledger.get(plain.sequence)!.payload), Uint8Array.prototype);
  });

  test('a getter is read once: a value that changes between reads is stored as first read, key included', async (t) => {
    const ledger = await createLedger(t);
    let reads = 0;
    const payload = {
      stable: 1,
      get changing(): unknown {
        reads++;
        // First a number; from the second read on a function, which JSON would silently drop.
        return reads === 1 ? 42 : () => 0;
      },
    };
    const { sequence } = await ledger.append({ type: 'getter', payload });
    assert.equal(reads, 1, 'each property is read exactly once');
    assert.deepStrictEqual(ledger.get(sequence)!.payload, { stable: 1, changing: 42 });
    // The same on the annotated path: a Date beside it makes the value need type annotations.
    let dateReads = 0;
    const annotated = {
      at: new Date(7),
      get changing(): unknown {
        return ++dateReads === 1 ? 'first' : Symbol('later');
      },
    };
    const second = await ledger.append({ type: 'getter', payload: annotated });
    assert.equal(dateReads, 1);
    assert.deepStrictEqual(ledger.get(second.sequence)!.payload, { at: new Date(7), changing: 'first' });
  });
});

class Point {
  constructor(readonly x: number) {}
}
class TaggedMap extends Map<string, number> {}
class Stamp extends Date {}
class Bytes extends Uint8Array {}
class List extends Array<number> {}

describe('values that cannot be stored faithfully are refused with their path', () => {
  test('each refused kind is INVALID_EVENT at its path, and the next valid append works', async (t) => {
    const ledger = await createLedger(t);
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = cycle;
    const holey = [1, 2, 3];
    delete holey[1];
    const refused: Array<[string, () => { payload?: unknown; metadata?: unknown }, string]> = [
      ['function', () => ({ payload: { f: () => 1 } }), 'payload.f'],
      ['symbol', () => ({ payload: { list: [1, Symbol('s')] } }), 'payload.list[1]'],
      ['symbol key', () => ({ payload: { inner: { [Symbol('k')]: 1 } } }), 'payload.inner'],
      ['Promise', () => ({ payload: { pending: Promise.resolve(1) } }), 'payload.pending'],
      ['WeakMap', () => ({ payload: { cache: new WeakMap() } }), 'payload.cache'],
      ['WeakSet', () => ({ metadata: { seen: new WeakSet() } }), 'metadata.seen'],
      ['WeakRef', () => ({ payload: { ref: new WeakRef({}) } }), 'payload.ref'],
      ['class instance', () => ({ payload: { at: new Point(1) } }), 'payload.at'],
      ['class instance as the payload', () => ({ payload: new Point(1) }), 'payload'],
      ['boxed string', () => ({ payload: { s: new String('x') } }), 'payload.s'],
      ['Map subclass', () => ({ payload: { m: new TaggedMap() } }), 'payload.m'],
      ['Date subclass', () => ({ payload: { d: new Stamp(0) } }), 'payload.d'],
      ['Uint8Array subclass', () => ({ payload: { b: new Bytes(2) } }), 'payload.b'],
      ['Array subclass', () => ({ payload: { l: List.from([1]) } }), 'payload.l'],
      ['DataView', () => ({ payload: { view: new DataView(new ArrayBuffer(4)) } }), 'payload.view'],
      ['SharedArrayBuffer', () => ({ payload: { shared: new SharedArrayBuffer(4) } }), 'payload.shared'],
      ['RegExp', () => ({ payload: { pattern: /a+/g } }), 'payload.pattern'],
      ['Error', () => ({ payload: { failure: new Error('boom') } }), 'payload.failure'],
      ['Proxy of a Map', () => ({ payload: { m: new Proxy(new Map(), {}) } }), 'payload.m'],
      ['Invalid Date', () => ({ payload: { at: new Date(Number.NaN) } }), 'payload.at'],
      ['Invalid Date in a Map', () => ({ payload: new Map([['when', new Date('nope')]]) }), "payload.get('when')"],
      ['Invalid Date as a Map key', () => ({ payload: new Map([[new Date('nope'), 1]]) }), 'payload<key 0>'],
      ['Invalid Date in a Set', () => ({ metadata: new Set([1, new Date(Number.NaN)]) }), 'metadata<1>'],
      ['cycle', () => ({ payload: cycle }), 'payload.self'],
      ['array hole', () => ({ payload: { list: holey } }), 'payload.list[1]'],
      ['constructor key beside a Date', () => ({ payload: { meta: { constructor: 'x' }, at: new Date(0) } }), 'payload.meta.constructor'],
    ];
    for (const [label, input, path] of refused) {
      await assert.rejects(ledger.append({ type: 'refused', ...input() }), refusedAt(path), label);
      await nextAppendWorks(ledger);
    }
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('in a batch the refusal names the index and the path, and nothing of the batch is written', async (t) => {
    const ledger = await createLedger(t);
    await assert.rejects(
      ledger.appendBatch([{ type: 'ok', payload: 1 }, { type: 'bad', payload: { at: new Date(Number.NaN) } }]),
      (err: LedgerError) => {
        refusedAt('payload.at')(err);
        assert.equal(err.details.index, 1);
        return true;
      },
    );
    assert.equal(ledger.maxSequence(), 0);
    await nextAppendWorks(ledger);
  });

  test('types, stream ids, event ids and agent ids with a NUL, empty or only whitespace are INVALID_EVENT naming the field', async (t) => {
    const ledger = await createLedger(t);
    const bad = ['', ' ', '\t\n', '\u00A0\u2003', 'a\u0000b', '\u0000'];
    for (const text of bad) {
      for (const [field, input] of [
        ['type', { type: text }],
        ['streamId', { type: 't', streamId: text }],
        ['eventId', { type: 't', eventId: text }],
        ['agentId', { type: 't', agentId: text, signature: 'c2ln' }],
      ] as const) {
        await assert.rejects(ledger.append(input), (err: LedgerError) => {
          assert.equal(err.code, 'INVALID_EVENT', `${field} ${JSON.stringify(text)}`);
          assert.equal(err.details.field, field, `${field} ${JSON.stringify(text)}`);
          return true;
        });
      }
      await nextAppendWorks(ledger);
    }
    // Spaces inside a name are fine.
    assert.equal((await ledger.append({ type: 'order placed', streamId: ' order 7 ' })).streamVersion, 0);
  });
});

/** Appends rows the way another tool would: a raw connection that registered Stele's functions. */
function insertForeignRows(t: TestContext, path: string, rows: Array<{ eventId: string; payload: string | null; payloadMeta?: string; metadata?: string; metadataMeta?: string }>): void {
  const db = new Database(path, { timeout: 5_000 });
  t.after(() => db.close());
  registerNativeFunctions(db, { driftThresholdMs: 5_000 });
  configureWriterConnection(db, 'full');
  const insert = db.prepare(
    `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta, local_timestamp)
     VALUES (?, 'imported', 'foreign', ?, ?, ?, ?, ?)`,
  );
  for (const row of rows) insert.run(row.eventId, row.payload, row.payloadMeta ?? null, row.metadata ?? null, row.metadataMeta ?? null, Date.now());
  db.close();
}

describe('rows Stele did not write', () => {
  test('a payload or metadata that cannot be decoded is UNDECODABLE_EVENT with sequence, field and reason', async (t) => {
    const path = tempLedgerPath(t);
    const first = await openLedger(path);
    await first.append({ type: 'ours', payload: { n: 1 } });
    await first.close();
    insertForeignRows(t, path, [
      { eventId: 'foreign-unknown-type', payload: '{"amount":[1,2]}', payloadMeta: '{"values":{"amount":[["custom","acme.Money"]]},"v":1}' },
      { eventId: 'foreign-bad-json', payload: '{"ok":true}', metadata: '{not json' },
      { eventId: 'foreign-unknown-typed-array', payload: '[1,2]', payloadMeta: '{"values":[["typed-array","Float16Array"]],"v":1}' },
      { eventId: 'foreign-bad-bytes', payload: '[1,300]', payloadMeta: '{"values":[["custom","stele.ArrayBuffer"]],"v":1}' },
      { eventId: 'foreign-bad-meta', payload: '1', payloadMeta: '[]' },
    ]);
    const ledger = await reopen(t, path);
    const expectations: Array<[number, 'payload' | 'metadata', RegExp]> = [
      [2, 'payload', /unknown custom value/],
      [3, 'metadata', /JSON/],
      [4, 'payload', /unknown typed array/],
      [5, 'payload', /0\.\.255/],
      [6, 'payload', /JSON object/],
    ];
    for (const [sequence, field, reason] of expectations) {
      assert.throws(
        () => ledger.get(sequence),
        (err: unknown) => {
          assert.ok(isLedgerError(err, 'UNDECODABLE_EVENT'), `sequence ${sequence}: expected UNDECODABLE_EVENT, got ${String(err)}`);
          assert.equal(err.details.sequence, sequence);
          assert.equal(err.details.field, field);
          assert.match(String(err.details.reason), reason);
          return true;
        },
      );
    }
    assert.throws(() => ledger.readAll(), (err: unknown) => isLedgerError(err, 'UNDECODABLE_EVENT') && err.details.sequence === 2);
    assert.throws(() => ledger.readStream('imported'), (err: unknown) => isLedgerError(err, 'UNDECODABLE_EVENT'));
    // The rows are valid chain links; the ledger's own events still read and the next append works.
    assert.deepStrictEqual(ledger.get(1)!.payload, { n: 1 });
    assert.equal(chainOf(path).ok, true);
    await nextAppendWorks(ledger);
  });

  test('a Buffer stored as superjson writes it (["typed-array","Buffer"]) reads back as a Buffer', async (t) => {
    // The encoding every Stele wrote for a Buffer, also before its reads could decode it.
    const path = tempLedgerPath(t);
    const first = await openLedger(path);
    await first.close();
    insertForeignRows(t, path, [{ eventId: 'old-buffer', payload: '{"bytes":[104,105]}', payloadMeta: '{"values":{"bytes":[["typed-array","Buffer"]]},"v":1}' }]);
    const ledger = await reopen(t, path);
    const bytes = (ledger.get(1)!.payload as { bytes: unknown }).bytes;
    assert.ok(Buffer.isBuffer(bytes));
    assert.equal(bytes.toString(), 'hi');
  });
});

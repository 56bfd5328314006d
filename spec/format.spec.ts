/**
 * native-sql/FORMAT.md as a contract: an implementation of the content hash written from that
 * page alone (node:crypto and Buffer, nothing from lib/codec.ts), checked against the page's test
 * vector, against lib/codec.ts, and against real ledger files read with a plain read-only
 * connection, including a file edited behind the triggers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { EVENT_HASH_DOMAIN, GENESIS_HASH, HASHED_COLUMNS, encodeValue, eventHash } from '../lib/codec.ts';
import { DEFAULT_STREAM, type AppendResult } from '../lib/index.ts';
import { reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

const FORMAT_MD = readFileSync(new URL('../native-sql/FORMAT.md', import.meta.url), 'utf8');

// ---------------------------------------------------------------------------------------------
// The independent implementation, from FORMAT.md "Content hash v1" and "Verifying a ledger".
// ---------------------------------------------------------------------------------------------

/** Columns 1–14 of `events`, in hash order, and whether each is an integer column. */
const FORMAT_COLUMNS = [
  ['sequence', 'integer'],
  ['event_id', 'text'],
  ['stream_id', 'text'],
  ['stream_version', 'integer'],
  ['type', 'text'],
  ['payload', 'text'],
  ['payload_meta', 'text'],
  ['metadata', 'text'],
  ['metadata_meta', 'text'],
  ['agent_id', 'text'],
  ['signature', 'text'],
  ['local_timestamp', 'integer'],
  ['authority_timestamp', 'integer'],
  ['prev_hash', 'text'],
] as const;

type SqlValue = string | number | bigint | null;
type Row = Record<string, SqlValue>;

const GENESIS = '0'.repeat(64);

function hashedBytes(row: Row): Buffer {
  const parts: Buffer[] = [Buffer.from('stele/event/v1\n', 'ascii')];
  for (const [column, kind] of FORMAT_COLUMNS) {
    const value = row[column];
    assert.ok(value !== undefined, `row has no column ${column}`);
    if (value === null) {
      parts.push(Buffer.from([0x00]));
    } else if (kind === 'integer') {
      const field = Buffer.alloc(9);
      field[0] = 0x01;
      if (typeof value === 'number') assert.ok(Number.isInteger(value), `${column} is not an integer: ${value}`);
      field.writeBigInt64BE(BigInt(value), 1);
      parts.push(field);
    } else {
      assert.equal(typeof value, 'string', `${column} must be TEXT`);
      const text = Buffer.from(value as string, 'utf8');
      const header = Buffer.alloc(5);
      header[0] = 0x02;
      header.writeUInt32BE(text.length, 1);
      parts.push(header, text);
    }
  }
  return Buffer.concat(parts);
}

function contentHash(row: Row): string {
  return createHash('sha256').update(hashedBytes(row)).digest('hex');
}

type FaultReason = 'sequence' | 'prev_hash' | 'stream_version' | 'content_hash';
interface Fault {
  sequence: bigint;
  reason: FaultReason;
}

/**
 * Checks every row in sequence order and reports the first fault of each faulty row (the order
 * of FORMAT.md: continuity, link, stream version, content), then advances with the stored
 * values so that one edited row is reported once.
 */
function verifyLedgerFile(path: string): { checked: number; faults: Fault[] } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true); // full 64-bit integers, as another language would read them
    const rows = db.prepare('SELECT * FROM events ORDER BY sequence').iterate() as IterableIterator<Row>;
    const lastVersion = new Map<string, bigint>();
    const faults: Fault[] = [];
    let nextSequence = 1n;
    let previousHash = GENESIS;
    let checked = 0;
    for (const row of rows) {
      const sequence = row.sequence as bigint;
      const streamId = row.stream_id as string;
      const version = row.stream_version as bigint;
      const streamLast = lastVersion.get(streamId);
      let reason: FaultReason | undefined;
      if (sequence !== nextSequence) reason = 'sequence';
      else if (row.prev_hash !== previousHash) reason = 'prev_hash';
      else if (version !== (streamLast === undefined ? 0n : streamLast + 1n)) reason = 'stream_version';
      else if (contentHash(row) !== row.content_hash) reason = 'content_hash';
      if (reason) faults.push({ sequence, reason });
      nextSequence = sequence + 1n;
      previousHash = row.content_hash as string;
      lastVersion.set(streamId, version);
      checked++;
    }
    return { checked, faults };
  } finally {
    db.close();
  }
}

/** A ledger is its main file plus its WAL (FORMAT.md "Files"): copy both. */
function copyLedger(from: string, to: string): void {
  copyFileSync(from, to);
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
}

/** Opens a copy read-write with a plain connection, runs `edit`, closes it. */
function editBehindTriggers(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    edit(db);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The worked example of FORMAT.md, hard-coded.
// ---------------------------------------------------------------------------------------------

const H1 = '7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad';
const H2 = '9036a1415573f542265b33ecd7a095fa882e59b9ad0548f62abce85e1220378f';
const H3 = '8c167c6e474b3502696f86450fafd71f7979caa11676ad6fc105ebad0a68f40f';

const VECTOR: Row[] = [
  {
    sequence: 1, event_id: 'evt-1', stream_id: 'order-42', stream_version: 0, type: 'order_placed',
    payload: '{"sku":"café","qty":2}', payload_meta: null, metadata: '{"actor":"ada"}', metadata_meta: null,
    agent_id: null, signature: null, local_timestamp: 1700000000000, authority_timestamp: 1700000000123,
    prev_hash: GENESIS, content_hash: H1,
  },
  {
    sequence: 2, event_id: 'evt-2', stream_id: 'order-42', stream_version: 1, type: 'order_paid',
    payload: '{"paidAt":"2023-11-14T22:13:25.000Z","amount":"950"}',
    payload_meta: '{"values":{"paidAt":["Date"],"amount":["bigint"]},"v":1}', metadata: null, metadata_meta: null,
    agent_id: null, signature: null, local_timestamp: 1700000005000, authority_timestamp: 1700000005004,
    prev_hash: H1, content_hash: H2,
  },
  {
    sequence: 3, event_id: 'evt-3', stream_id: 'user-ada', stream_version: 0, type: 'user_login',
    payload: '{"ip":"10.0.0.7"}', payload_meta: null, metadata: '{"requestId":"r-7","retried":null}',
    metadata_meta: '{"values":{"retried":["undefined"]},"v":1}',
    agent_id: null, signature: null, local_timestamp: 1700000000000, authority_timestamp: 1700000012000,
    prev_hash: H2, content_hash: H3,
  },
];
const VECTOR_LENGTHS = [212, 280, 269];

const VECTOR_HASHED_1 =
  '7374656c652f6576656e742f76310a0100000000000000010200000005657674' +
  '2d3102000000086f726465722d3432010000000000000000020000000c6f7264' +
  '65725f706c6163656402000000177b22736b75223a22636166c3a9222c227174' +
  '79223a327d00020000000f7b226163746f72223a22616461227d000000010000' +
  '018bcfe56800010000018bcfe5687b0200000040303030303030303030303030' +
  '3030303030303030303030303030303030303030303030303030303030303030' +
  '3030303030303030303030303030303030303030';

/** The fenced code block that follows `heading` in FORMAT.md. */
function codeBlockAfter(heading: string): string {
  const at = FORMAT_MD.indexOf(heading);
  assert.ok(at >= 0, `FORMAT.md has no "${heading}"`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(FORMAT_MD.slice(at));
  assert.ok(match?.[1], `FORMAT.md has no code block after "${heading}"`);
  return match[1];
}

describe('FORMAT.md test vector', () => {
  test('the independent implementation reproduces the hashed bytes of sequence 1', () => {
    const bytes = hashedBytes(VECTOR[0]!);
    assert.equal(bytes.toString('hex'), VECTOR_HASHED_1);
    assert.equal(createHash('sha256').update(Buffer.from(VECTOR_HASHED_1, 'hex')).digest('hex'), H1);
  });

  test('the independent implementation reproduces every content hash, length and link', () => {
    VECTOR.forEach((row, i) => {
      assert.equal(hashedBytes(row).length, VECTOR_LENGTHS[i], `hashed length of sequence ${row.sequence}`);
      assert.equal(contentHash(row), row.content_hash, `content hash of sequence ${row.sequence}`);
      assert.equal(row.prev_hash, i === 0 ? GENESIS : VECTOR[i - 1]!.content_hash);
    });
  });

  test('every field of the hash changes it, and NULL differs from the empty string', () => {
    const base = VECTOR[1]!;
    const hashes = new Set([contentHash(base)]);
    for (const [column, kind] of FORMAT_COLUMNS) {
      hashes.add(contentHash({ ...base, [column]: kind === 'integer' ? Number(base[column]) + 1 : `${base[column] ?? ''}x` }));
    }
    assert.equal(hashes.size, FORMAT_COLUMNS.length + 1);
    assert.notEqual(contentHash({ ...base, metadata: null }), contentHash({ ...base, metadata: '' }));
  });

  test('FORMAT.md states the same vector as this spec', () => {
    const oneString = codeBlockAfter('The same bytes as one string').replace(/\s+/g, '');
    assert.equal(oneString, VECTOR_HASHED_1);
    // The field-by-field listing concatenates to the same bytes.
    const byField = codeBlockAfter('field by field (hex)')
      .split('\n')
      .map((line) => line.replace(/^[a-z_]+\s/, '').replace(/\s+/g, ''))
      .join('');
    assert.equal(byField, VECTOR_HASHED_1);
    for (const hash of [H1, H2, H3]) assert.ok(FORMAT_MD.includes(`| \`${hash}\` |`), `FORMAT.md lists ${hash}`);
    for (const [i, length] of VECTOR_LENGTHS.entries()) {
      assert.ok(FORMAT_MD.includes(`| ${i + 1} | ${length} bytes | \`${VECTOR[i]!.content_hash}\` |`));
    }
    for (const row of VECTOR) {
      for (const column of ['payload', 'payload_meta', 'metadata', 'metadata_meta'] as const) {
        const value = row[column];
        if (value !== null) assert.ok(FORMAT_MD.includes(`\`${value as string}\``), `FORMAT.md shows ${column} ${value}`);
      }
    }
  });
});

describe('lib/codec.ts agrees with FORMAT.md', () => {
  test('eventHash reproduces the vector', () => {
    for (const row of VECTOR) {
      assert.equal(eventHash(HASHED_COLUMNS.map((column) => row[column])), row.content_hash);
    }
  });

  test('column order, domain and genesis are the documented ones', () => {
    assert.deepEqual([...HASHED_COLUMNS], FORMAT_COLUMNS.map(([column]) => column));
    assert.equal(EVENT_HASH_DOMAIN, 'stele/event/v1');
    assert.equal(GENESIS_HASH, GENESIS);
  });

  test("the vector's stored text is what Stele stores for the documented inputs", () => {
    assert.deepEqual(encodeValue({ sku: 'café', qty: 2 }, 'payload'), { json: VECTOR[0]!.payload, meta: null });
    assert.deepEqual(encodeValue({ actor: 'ada' }, 'metadata'), { json: VECTOR[0]!.metadata, meta: null });
    assert.deepEqual(encodeValue({ paidAt: new Date('2023-11-14T22:13:25.000Z'), amount: 950n }, 'payload'), {
      json: VECTOR[1]!.payload,
      meta: VECTOR[1]!.payload_meta,
    });
    assert.deepEqual(encodeValue(undefined, 'metadata'), { json: null, meta: null });
    assert.deepEqual(encodeValue({ requestId: 'r-7', retried: undefined }, 'metadata'), {
      json: VECTOR[2]!.metadata,
      meta: VECTOR[2]!.metadata_meta,
    });
  });
});

describe('real ledger files verified with the independent implementation', () => {
  /** Appends a varied ledger through the public API, closes it, returns its path and results. */
  async function writeLedger(t: TestContext): Promise<{ path: string; results: AppendResult[] }> {
    const path = tempLedgerPath(t);
    const ledger = await reopen(t, path);
    const results: AppendResult[] = [];
    results.push(
      await ledger.append({
        eventId: 'order-1-placed',
        type: 'order_placed',
        streamId: 'order-1',
        payload: {
          at: new Date('2024-02-29T12:00:00.000Z'),
          total: 12345678901234567890n,
          lines: new Map([['sku-1', { qty: 2, note: undefined }]]),
          tags: new Set(['gift']),
        },
        metadata: { correlationId: 'c-1', actor: 'zoë' },
      }),
    );
    results.push(
      // An id with a raw NUL: hashed by its full byte length, not as a C string (FORMAT.md).
      await ledger.append({ eventId: 'note\u00001', type: 'note', streamId: 'user-ζ', payload: { text: 'naïve café 日本語 🎉' } }),
    );
    results.push(
      ...(await ledger.appendBatch([
        { type: 'order_paid', streamId: 'order-1', payload: { amount: 10n }, expectedVersion: 0 },
        { type: 'seen', streamId: 'user-ζ', metadata: { via: 'batch' } },
        { type: 'tick' },
        { type: 'order_shipped', streamId: 'order-1', payload: null },
      ])),
    );
    results.push(
      await ledger.append({
        type: 'late',
        streamId: 'user-ζ',
        payload: [],
        localTimestamp: new Date(Date.now() - 60_000),
      }),
    );
    await ledger.close();
    return { path, results };
  }

  test('a ledger written through openLedger verifies from a plain read-only connection', async (t) => {
    const { path, results } = await writeLedger(t);
    assert.deepEqual(verifyLedgerFile(path), { checked: 7, faults: [] });

    const db = new Database(path, { readonly: true, fileMustExist: true });
    t.after(() => db.close());
    // user_version is the number of the last native-sql/NNN-*.sql file.
    const lastMigration = Math.max(
      ...readdirSync(new URL('../native-sql/', import.meta.url)).filter((f) => /^\d{3}-.*\.sql$/.test(f)).map((f) => Number(f.slice(0, 3))),
    );
    assert.ok(lastMigration >= 1);
    assert.equal(db.pragma('user_version', { simple: true }), lastMigration);
    assert.deepEqual(db.prepare("SELECT key, value FROM ledger_meta WHERE key IN ('format', 'event_hash') ORDER BY key").all(), [
      { key: 'event_hash', value: 'stele/event/v1' },
      { key: 'format', value: 'stele' },
    ]);

    const rows = db.prepare('SELECT * FROM events ORDER BY sequence').all() as Row[];
    // What append() acknowledged is what the file holds, and the independent hash agrees.
    assert.deepEqual(
      rows.map((row) => [row.sequence, row.stream_id, row.stream_version, row.prev_hash, row.content_hash, contentHash(row)]),
      results.map((r) => [r.sequence, r.streamId, r.streamVersion, r.prevHash, r.contentHash, r.contentHash]),
    );
    // Stream versions are 0..k per stream, in sequence order.
    assert.deepEqual(
      rows.map((row) => `${row.stream_id as string}@${row.stream_version as number}`),
      ['order-1@0', 'user-ζ@0', 'order-1@1', 'user-ζ@1', `${DEFAULT_STREAM}@0`, 'order-1@2', 'user-ζ@2'],
    );
    // The batch went in with one statement per event but shares the transaction; the stored text
    // is JSON plus superjson annotations, NULL for undefined.
    const first = rows[0]!;
    assert.equal(JSON.parse(first.payload as string).total, '12345678901234567890');
    assert.ok(JSON.parse(first.payload_meta as string).values.total[0] === 'bigint');
    assert.equal(rows[4]!.payload, null);
    assert.equal(rows[4]!.payload_meta, null);
    assert.equal(rows[5]!.payload, 'null');
    assert.equal(rows[1]!.metadata, null);
    assert.ok((rows[1]!.payload as string).includes('日本語 🎉'));
    assert.equal(rows[1]!.event_id, 'note\u00001');
    // The late event drew a drift warning that copies its timestamps.
    const late = rows[6]!;
    assert.deepEqual(db.prepare('SELECT * FROM clock_drift_warnings').all(), [
      {
        sequence: 7,
        local_timestamp: late.local_timestamp,
        authority_timestamp: late.authority_timestamp,
        drift_ms: (late.authority_timestamp as number) - (late.local_timestamp as number),
        threshold_ms: 5000,
      },
    ]);
  });

  test("FORMAT.md's SQL query yields the same hashed bytes as the independent implementation", async (t) => {
    const { path } = await writeLedger(t);
    const db = new Database(path, { readonly: true, fileMustExist: true });
    t.after(() => db.close());
    const sql = codeBlockAfter('The same bytes in plain SQL');
    const fromSql = db.prepare(sql).all() as { sequence: number; content_hash: string; hashed_hex: string }[];
    const rows = db.prepare('SELECT * FROM events ORDER BY sequence').all() as Row[];
    assert.equal(fromSql.length, 7);
    fromSql.forEach((result, i) => {
      assert.equal(result.hashed_hex, hashedBytes(rows[i]!).toString('hex'), `sequence ${result.sequence}`);
      assert.equal(createHash('sha256').update(Buffer.from(result.hashed_hex, 'hex')).digest('hex'), result.content_hash);
    });
  });

  test('a payload edited behind the triggers is reported at exactly that sequence', async (t) => {
    const { path } = await writeLedger(t);
    const copy = tempLedgerPath(t, 'tampered.db');
    copyLedger(path, copy);
    assert.deepEqual(verifyLedgerFile(copy).faults, []);

    editBehindTriggers(copy, (db) => {
      assert.throws(() => db.prepare("UPDATE events SET payload = '{\"amount\":\"1000000\"}' WHERE sequence = 3").run(), {
        message: 'STELE:APPEND_ONLY_VIOLATION:update',
      });
      db.exec('DROP TRIGGER events_no_update');
      const changed = db.prepare("UPDATE events SET payload = '{\"amount\":\"1000000\"}' WHERE sequence = 3").run();
      assert.equal(changed.changes, 1);
    });

    assert.deepEqual(verifyLedgerFile(copy), { checked: 7, faults: [{ sequence: 3n, reason: 'content_hash' }] });
    assert.deepEqual(verifyLedgerFile(path).faults, [], 'the original is untouched');
  });

  test('a deleted row is reported as a break in continuity', async (t) => {
    const { path } = await writeLedger(t);
    const copy = tempLedgerPath(t, 'tampered.db');
    copyLedger(path, copy);
    editBehindTriggers(copy, (db) => {
      db.exec('DROP TRIGGER events_no_delete');
      assert.equal(db.prepare('DELETE FROM events WHERE sequence = 5').run().changes, 1);
    });
    assert.deepEqual(verifyLedgerFile(copy), { checked: 6, faults: [{ sequence: 6n, reason: 'sequence' }] });
  });

  test('a stream version forged with every later hash recomputed is still caught', async (t) => {
    const { path } = await writeLedger(t);
    const copy = tempLedgerPath(t, 'tampered.db');
    copyLedger(path, copy);
    editBehindTriggers(copy, (db) => {
      db.exec('DROP TRIGGER events_no_update');
      // order-1 is at versions 0 (seq 1), 1 (seq 3), 2 (seq 6): make seq 6 claim version 5 and
      // re-seal the chain from there, so that links and content hashes are all consistent again.
      db.prepare('UPDATE events SET stream_version = 5 WHERE sequence = 6').run();
      const rows = db.prepare('SELECT * FROM events WHERE sequence >= 6 ORDER BY sequence').all() as Row[];
      let previous = (db.prepare('SELECT content_hash FROM events WHERE sequence = 5').pluck().get() as string);
      const reseal = db.prepare('UPDATE events SET prev_hash = ?, content_hash = ? WHERE sequence = ?');
      for (const row of rows) {
        const resealed = { ...row, prev_hash: previous };
        previous = contentHash(resealed);
        reseal.run(resealed.prev_hash, previous, row.sequence);
      }
    });
    assert.deepEqual(verifyLedgerFile(copy), { checked: 7, faults: [{ sequence: 6n, reason: 'stream_version' }] });
  });

  test('a connection without the Stele functions cannot append to the file', async (t) => {
    const { path } = await writeLedger(t);
    const db = new Database(path);
    t.after(() => db.close());
    assert.throws(
      () => db.prepare("INSERT INTO append_event (event_id, stream_id, type, local_timestamp) VALUES ('x', 's', 't', 1)"),
      /no such function: stele_/,
    );
    assert.throws(
      () =>
        db.prepare(
          `INSERT INTO events (sequence, event_id, stream_id, stream_version, type, local_timestamp,
                               authority_timestamp, prev_hash, content_hash) VALUES (9, 'x', 's', 0, 't', 1, 1, '', '')`,
        ),
      /no such function: stele_/,
    );
  });
});

/**
 * The SQL trust boundary, tested from outside Stele's writer: a second raw better-sqlite3
 * connection, the `sqlite3` shell, and a raw connection that registers Stele's own functions and
 * pragmas (so "our" connection cannot bypass the rules either). Every tampering statement must be
 * refused with the exact reason, the ledger must be byte-for-byte unchanged (full row dumps of
 * every table), the chain must still verify, and the ledger's next append must extend it.
 *
 * The ledger stays open (holding the writer lock) while the raw connections write: the lock is
 * for writers that go through Stele, the ledger file itself stays open to any SQLite connection,
 * which is exactly why the triggers must guard it. Appends are awaited before each raw write, so
 * the writer holds no WAL write lock then; raw connections still get a busy timeout.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { openLedger, type Ledger } from '../lib/index.ts';
import { configureWriterConnection } from '../lib/sqlite/connections.ts';
import { registerNativeFunctions } from '../lib/sqlite/native-functions.ts';
import { chainOf, rawConnection, tempLedgerPath } from './helpers/temp-ledger.ts';

const SQLITE3 = '/usr/bin/sqlite3';
const BUSY_TIMEOUT_MS = 5_000;
const DRIFT_THRESHOLD_MS = 5_000;

interface Dump {
  events: unknown[];
  clockDriftWarnings: unknown[];
  ledgerMeta: unknown[];
}

/** Every row of every Stele table, in a stable order, from a separate read-only connection. */
function dump(path: string): Dump {
  const db = new Database(path, { readonly: true, timeout: BUSY_TIMEOUT_MS });
  try {
    return {
      events: db.prepare('SELECT * FROM events ORDER BY sequence').all(),
      clockDriftWarnings: db.prepare('SELECT * FROM clock_drift_warnings ORDER BY sequence').all(),
      ledgerMeta: db.prepare('SELECT * FROM ledger_meta ORDER BY key').all(),
    };
  } finally {
    db.close();
  }
}

interface Seeded {
  path: string;
  ledger: Ledger;
  /** Number of events written by the seed. */
  count: number;
  /** Event id of sequence 1. */
  firstEventId: string;
}

/**
 * A ledger with five events in two streams (one batch) and one clock drift warning, left open so
 * its writer lock is held while the spec attacks the file from other connections.
 */
async function seededLedger(t: TestContext): Promise<Seeded> {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path, { driftThresholdMs: DRIFT_THRESHOLD_MS });
  t.after(() => ledger.close());
  const first = await ledger.append({ type: 'account_opened', streamId: 'acct-1', payload: { owner: 'ada' } });
  await ledger.append({ type: 'deposited', streamId: 'acct-1', payload: { cents: 500 } });
  // A local clock a minute behind the database: accepted, with a clock_drift_warnings row.
  await ledger.append({
    type: 'deposited',
    streamId: 'acct-1',
    payload: { cents: 700 },
    localTimestamp: new Date(Date.now() - 60_000),
  });
  await ledger.appendBatch(
    [
      { type: 'item_added', payload: { sku: 'A' } },
      { type: 'item_added', payload: { sku: 'B' } },
    ],
    { streamId: 'cart-7', expectedVersion: 'no_stream' },
  );
  const state = dump(path);
  assert.equal(state.events.length, 5);
  assert.equal(state.clockDriftWarnings.length, 1, 'the seed must have a drift warning to attack');
  assert.equal((state.clockDriftWarnings[0] as { sequence: number }).sequence, 3);
  assert.ok(state.ledgerMeta.length >= 3);
  assert.deepEqual(chainOf(path), { ok: true, checked: 5 });
  return { path, ledger, count: 5, firstEventId: first.eventId };
}

/**
 * After the attacks: nothing changed, the chain verifies, and the ledger (still the one writer)
 * appends the next event on top of the unchanged head.
 */
async function assertUntouchedAndAppendable(seeded: Seeded, before: Dump): Promise<void> {
  assert.deepEqual(dump(seeded.path), before, 'the ledger file changed');
  assert.deepEqual(chainOf(seeded.path), { ok: true, checked: seeded.count });
  const head = seeded.ledger.head();
  assert.equal(head?.sequence, seeded.count);
  const next = await seeded.ledger.append({ type: 'after_attack', streamId: 'acct-1' });
  assert.equal(next.sequence, seeded.count + 1);
  assert.equal(next.prevHash, head?.contentHash);
  assert.equal(next.streamVersion, 3);
  assert.deepEqual(chainOf(seeded.path), { ok: true, checked: seeded.count + 1 });
}

/**
 * An INSERT into `events` of a row that would be the next event of a new stream `intruder`,
 * computed in SQL so the authority timestamp is the statement's own 'now' (what the guard
 * compares with). Every field is right unless overridden, so a refusal names the one wrong field.
 * The content hash needs `stele_event_hash`, i.e. a connection with Stele's functions.
 */
function craftedInsert(
  options: {
    verb?: string;
    eventId?: string;
    sequence?: string;
    streamVersion?: string;
    prevHash?: string;
    authority?: string;
    /** The `type` fed to the hash; differs from the row's type to forge a wrong content hash. */
    hashedType?: string;
    tail?: string;
  } = {},
): string {
  const {
    verb = 'INSERT',
    eventId = "'intruder-1'",
    sequence = 'n.seq',
    streamVersion = '0',
    prevHash = 'n.prev',
    authority = 'n.now',
    hashedType = "'forged'",
    tail = '',
  } = options;
  return `${verb} INTO events (sequence, event_id, stream_id, stream_version, type, payload, payload_meta,
            metadata, metadata_meta, agent_id, signature, local_timestamp, authority_timestamp,
            prev_hash, content_hash)
    SELECT ${sequence}, ${eventId}, 'intruder', ${streamVersion}, 'forged', '{"forged":true}', NULL,
           NULL, NULL, NULL, NULL, n.now, ${authority}, ${prevHash},
           stele_event_hash(${sequence}, ${eventId}, 'intruder', ${streamVersion}, ${hashedType},
                            '{"forged":true}', NULL, NULL, NULL, NULL, NULL, n.now, ${authority}, ${prevHash})
      FROM (SELECT (SELECT max(sequence) FROM events) + 1 AS seq,
                   (SELECT content_hash FROM events ORDER BY sequence DESC LIMIT 1) AS prev,
                   CAST(round(unixepoch('subsec') * 1000) AS INTEGER) AS now) AS n
     WHERE true ${tail}`;
}

/** A raw connection that registers Stele's functions and the writer's pragmas, closed after the test. */
function connectionWithSteleFunctions(t: TestContext, path: string): Database.Database {
  const db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
  t.after(() => db.close());
  registerNativeFunctions(db, { driftThresholdMs: DRIFT_THRESHOLD_MS });
  configureWriterConnection(db, 'full');
  return db;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function assertRefused(db: Database.Database, sql: string, code: string, message: string | RegExp): void {
  assert.throws(
    () => db.prepare(sql).run(),
    (error: unknown) => {
      assert.ok(error instanceof Database.SqliteError, `expected a SqliteError, got ${String(error)}`);
      assert.equal(error.code, code, `code of: ${sql}`);
      if (typeof message === 'string') assert.equal(error.message, message, `message of: ${sql}`);
      else assert.match(error.message, message, `message of: ${sql}`);
      return true;
    },
    `must be refused: ${sql}`,
  );
}

/**
 * Any insert into `events` needs functions that only Stele registers: it does not even prepare.
 * Which missing function SQLite names first depends on trigger order, not on the rule.
 */
const MISSING_STELE_FUNCTION = /^no such function: stele_[a-z_]+$/;

/** What a connection without Stele's functions gets for each tampering attempt. */
const WITHOUT_FUNCTIONS: Array<{ name: string; sql: string; code: string; message: string | RegExp }> = [
  {
    name: 'UPDATE of an event',
    sql: `UPDATE events SET payload = '{"cents":999999}' WHERE sequence = 2`,
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:update',
  },
  {
    name: 'DELETE of the newest event',
    sql: 'DELETE FROM events WHERE sequence = (SELECT max(sequence) FROM events)',
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:delete',
  },
  {
    name: 'INSERT OR REPLACE of an existing event',
    sql: `INSERT OR REPLACE INTO events SELECT sequence, event_id, stream_id, stream_version, 'forged', payload,
            payload_meta, metadata, metadata_meta, agent_id, signature, local_timestamp, authority_timestamp,
            prev_hash, content_hash FROM events WHERE sequence = 1`,
    code: 'SQLITE_ERROR',
    message: MISSING_STELE_FUNCTION,
  },
  {
    name: 'UPSERT (ON CONFLICT DO UPDATE) of an existing event',
    sql: `INSERT INTO events SELECT * FROM events WHERE sequence = 1
            ON CONFLICT (sequence) DO UPDATE SET type = 'forged'`,
    code: 'SQLITE_ERROR',
    message: MISSING_STELE_FUNCTION,
  },
  {
    name: 'direct INSERT of a next event linked to the head',
    sql: `INSERT INTO events SELECT sequence + 1, 'intruder-1', 'intruder', 0, 'forged', NULL, NULL, NULL, NULL,
            NULL, NULL, local_timestamp, authority_timestamp, content_hash, content_hash
            FROM events ORDER BY sequence DESC LIMIT 1`,
    code: 'SQLITE_ERROR',
    message: MISSING_STELE_FUNCTION,
  },
  {
    name: 'INSERT through the append path (append_event view)',
    sql: `INSERT INTO append_event (event_id, stream_id, type, payload, local_timestamp)
            VALUES ('intruder-2', 'acct-1', 'deposited', '{"cents":1}', 0)`,
    code: 'SQLITE_ERROR',
    message: MISSING_STELE_FUNCTION,
  },
  {
    name: 'UPDATE of a clock drift warning',
    sql: 'UPDATE clock_drift_warnings SET drift_ms = 0',
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:update',
  },
  {
    name: 'DELETE of a clock drift warning',
    sql: 'DELETE FROM clock_drift_warnings',
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:delete',
  },
  {
    name: 'UPDATE of ledger_meta',
    sql: `UPDATE ledger_meta SET value = 'stele/event/v0' WHERE key = 'event_hash'`,
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:update',
  },
  {
    name: 'DELETE of ledger_meta',
    sql: `DELETE FROM ledger_meta WHERE key = 'event_hash'`,
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:delete',
  },
  {
    // Refused before the conflict is resolved: each setting is inserted once.
    name: 'UPSERT of ledger_meta',
    sql: `INSERT INTO ledger_meta (key, value) VALUES ('event_hash', 'stele/event/v0')
            ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:ledger_meta',
  },
  {
    name: 'INSERT OR REPLACE of ledger_meta',
    sql: `INSERT OR REPLACE INTO ledger_meta (key, value) VALUES ('event_hash', 'stele/event/v0')`,
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:ledger_meta',
  },
  {
    name: 'INSERT OR REPLACE of a clock drift warning',
    sql: `INSERT OR REPLACE INTO clock_drift_warnings (sequence, local_timestamp, authority_timestamp, drift_ms, threshold_ms)
            SELECT sequence, authority_timestamp, authority_timestamp, 0, threshold_ms FROM clock_drift_warnings`,
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:clock_drift_warnings',
  },
  {
    name: 'direct INSERT of a forged clock drift warning',
    sql: `INSERT INTO clock_drift_warnings (sequence, local_timestamp, authority_timestamp, drift_ms, threshold_ms)
            SELECT sequence, local_timestamp - 60000, authority_timestamp, 60000, 5000 FROM events WHERE sequence = 1`,
    code: 'SQLITE_CONSTRAINT_TRIGGER',
    message: 'STELE:APPEND_ONLY_VIOLATION:clock_drift_warnings',
  },
];

describe('trust boundary: a second raw better-sqlite3 connection without Stele functions', () => {
  test('can read every table', async (t) => {
    const seeded = await seededLedger(t);
    const db = rawConnection(t, seeded.path);
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM events').get(), { n: 5 });
    assert.deepEqual(db.prepare('SELECT sequence FROM clock_drift_warnings').all(), [{ sequence: 3 }]);
    assert.deepEqual(db.prepare(`SELECT value FROM ledger_meta WHERE key = 'event_hash'`).get(), { value: 'stele/event/v1' });
  });

  test('every UPDATE, DELETE, REPLACE, UPSERT and INSERT is refused with its reason; nothing changes', async (t) => {
    const seeded = await seededLedger(t);
    const before = dump(seeded.path);
    const db = rawConnection(t, seeded.path);
    assert.equal(db.pragma('recursive_triggers', { simple: true }), 0, 'a raw connection has the SQLite default');
    for (const attack of WITHOUT_FUNCTIONS) {
      await t.test(attack.name, () => assertRefused(db, attack.sql, attack.code, attack.message));
    }
    db.close();
    await assertUntouchedAndAppendable(seeded, before);
  });
});

describe('trust boundary: the sqlite3 shell', () => {
  function shell(path: string, sql: string) {
    const result = spawnSync(SQLITE3, [path, sql], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(result.error, undefined, `could not run ${SQLITE3}: ${String(result.error)}`);
    return result;
  }

  test('can read the ledger', async (t) => {
    const seeded = await seededLedger(t);
    const result = shell(
      seeded.path,
      `SELECT count(*) FROM events; SELECT sequence FROM clock_drift_warnings; SELECT value FROM ledger_meta WHERE key = 'event_hash';`,
    );
    assert.equal(result.stderr, '');
    assert.equal(result.status, 0);
    assert.equal(result.stdout, '5\n3\nstele/event/v1\n');
  });

  test('every UPDATE, DELETE, REPLACE, UPSERT and INSERT is refused with its reason; nothing changes', async (t) => {
    const seeded = await seededLedger(t);
    const before = dump(seeded.path);
    for (const attack of WITHOUT_FUNCTIONS) {
      await t.test(attack.name, () => {
        const result = shell(seeded.path, attack.sql);
        assert.notEqual(result.status, 0, `the shell accepted: ${attack.sql}`);
        // The shell wraps the message in its own words: "Error: in prepare, <message>" or
        // "Error: stepping, <message> (19)".
        const message = typeof attack.message === 'string' ? escapeRegExp(attack.message) : attack.message.source.slice(1, -1);
        assert.match(result.stderr, new RegExp(`^Error: (in prepare|stepping), ${message}( \\(\\d+\\))?\\n$`));
      });
    }
    await assertUntouchedAndAppendable(seeded, before);
  });
});

describe("trust boundary: a raw connection with Stele's functions and the writer's pragmas", () => {
  test('a correctly crafted next row is accepted (the refusals below are about the one wrong field)', async (t) => {
    const seeded = await seededLedger(t);
    const before = dump(seeded.path);
    const db = connectionWithSteleFunctions(t, seeded.path);
    db.exec('BEGIN IMMEDIATE');
    try {
      assert.equal(db.prepare(craftedInsert()).run().changes, 1);
      assert.deepEqual(
        db.prepare('SELECT sequence, event_id, stream_version FROM events ORDER BY sequence DESC LIMIT 1').get(),
        { sequence: 6, event_id: 'intruder-1', stream_version: 0 },
      );
    } finally {
      db.exec('ROLLBACK');
    }
    db.close();
    await assertUntouchedAndAppendable(seeded, before);
  });

  test('UPDATE, DELETE, REPLACE, UPSERT and out-of-chain INSERTs are refused; nothing changes', async (t) => {
    const seeded = await seededLedger(t);
    const before = dump(seeded.path);
    const db = connectionWithSteleFunctions(t, seeded.path);
    assert.equal(db.pragma('recursive_triggers', { simple: true }), 1);
    assert.equal(db.pragma('trusted_schema', { simple: true }), 1);
    const violation = (reason: string) => `STELE:APPEND_ONLY_VIOLATION:${reason}`;
    const attacks: Array<[string, string, string | RegExp]> = [
      ['UPDATE of an event', `UPDATE events SET payload = '{"cents":999999}' WHERE sequence = 2`, violation('update')],
      ['UPDATE of every event', `UPDATE events SET type = type`, violation('update')],
      ['DELETE of the newest event', 'DELETE FROM events WHERE sequence = 5', violation('delete')],
      ['DELETE of every event', 'DELETE FROM events', violation('delete')],
      ['INSERT OR REPLACE of an existing row', 'INSERT OR REPLACE INTO events SELECT * FROM events WHERE sequence = 1', violation('sequence')],
      // In chain in every respect, but its event_id is event 1's: REPLACE would delete event 1.
      // Refused by the delete guard (recursive_triggers ON), or by an event_id guard on insert.
      [
        'INSERT OR REPLACE of a next row that reuses an event id',
        craftedInsert({ verb: 'INSERT OR REPLACE', eventId: `'${seeded.firstEventId}'` }),
        /^STELE:APPEND_ONLY_VIOLATION:(delete|event_id)$/,
      ],
      [
        'REPLACE of a next row that reuses an event id',
        craftedInsert({ verb: 'REPLACE', eventId: `'${seeded.firstEventId}'` }),
        /^STELE:APPEND_ONLY_VIOLATION:(delete|event_id)$/,
      ],
      [
        'UPSERT of an existing row',
        `INSERT INTO events SELECT * FROM events WHERE sequence = 1 ON CONFLICT (sequence) DO UPDATE SET type = 'forged'`,
        violation('sequence'),
      ],
      [
        'UPSERT of a next row that reuses an event id',
        craftedInsert({ eventId: `'${seeded.firstEventId}'`, tail: `ON CONFLICT (event_id) DO UPDATE SET type = 'forged'` }),
        /^STELE:APPEND_ONLY_VIOLATION:(update|event_id)$/,
      ],
      ['direct INSERT with a sequence that skips one', craftedInsert({ sequence: 'n.seq + 1' }), violation('sequence')],
      ['direct INSERT with the head sequence again', craftedInsert({ sequence: 'n.seq - 1' }), violation('sequence')],
      [
        'direct INSERT with a wrong prev_hash',
        craftedInsert({ prevHash: `'${'0'.repeat(64)}'` }),
        violation('prev_hash'),
      ],
      [
        "direct INSERT linked to the previous event's predecessor",
        craftedInsert({ prevHash: '(SELECT prev_hash FROM events WHERE sequence = n.seq - 1)' }),
        violation('prev_hash'),
      ],
      ['direct INSERT with a wrong stream version', craftedInsert({ streamVersion: '1' }), violation('stream_version')],
      ['direct INSERT with a backdated authority timestamp', craftedInsert({ authority: 'n.now - 1000' }), violation('authority_timestamp')],
      ['direct INSERT with a wrong content_hash', craftedInsert({ hashedType: "'other'" }), violation('content_hash')],
      // The side-table attacks refused without functions are refused the same way here.
      ...WITHOUT_FUNCTIONS.filter((attack) => /ledger_meta|clock drift warning/.test(attack.name)).map(
        (attack): [string, string, string | RegExp] => [attack.name, attack.sql, attack.message],
      ),
    ];
    for (const [name, sql, message] of attacks) {
      await t.test(name, () => assertRefused(db, sql, 'SQLITE_CONSTRAINT_TRIGGER', message));
    }
    db.close();
    await assertUntouchedAndAppendable(seeded, before);
  });

  test('with recursive_triggers OFF, INSERT OR REPLACE still cannot remove an event', async (t) => {
    // A stray script that registers Stele's functions but not the writer's pragmas.
    const seeded = await seededLedger(t);
    const before = dump(seeded.path);
    const db = connectionWithSteleFunctions(t, seeded.path);
    db.pragma('recursive_triggers = OFF');
    db.exec('BEGIN IMMEDIATE');
    try {
      assertRefused(
        db,
        craftedInsert({ verb: 'INSERT OR REPLACE', eventId: `'${seeded.firstEventId}'` }),
        'SQLITE_CONSTRAINT_TRIGGER',
        /^STELE:APPEND_ONLY_VIOLATION:[a-z_]+$/,
      );
    } finally {
      db.exec('ROLLBACK');
    }
    db.close();
    await assertUntouchedAndAppendable(seeded, before);
  });
});

/**
 * `eventTypes` closes the taxonomy: unknown types are refused on the caller's thread and by the
 * taxonomy rule of the events_insert_rules trigger; each type's payload is checked by its Standard Schema v1
 * validator (zod here, unchanged; or a hand-rolled async one); `true` accepts any payload.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { generateAgentKeyPair, type LedgerError, type PayloadIssue, type StandardSchemaV1 } from '../lib/index.ts';
import { appendingConnection, chainOf, createLedger, reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

/** The event type Stele was first built for: a turn of a conversation, detected by a listener. */
const turnDetected = z.object({
  session_uuid: z.uuid(),
  actor: z.string(),
  text: z.string(),
  source: z.string(),
  turn_timestamp: z.iso.datetime(),
});

const eventTypes = { turn_detected: turnDetected, note: true } as const;

function turn(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    session_uuid: randomUUID(),
    actor: 'user',
    text: 'hello',
    source: 'microphone',
    turn_timestamp: '2026-01-05T10:00:00.000Z',
    ...overrides,
  };
}

function rawAppend(db: Database.Database, type: string, streamId = 's'): void {
  db.prepare(
    `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
                               agent_id, signature, local_timestamp, expected_version)
     VALUES (?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, ?, NULL)`,
  ).run(randomUUID(), streamId, type, Date.now());
}

function unknownType(type: string, index?: number) {
  return (err: LedgerError) => {
    assert.equal(err.code, 'UNKNOWN_EVENT_TYPE');
    assert.equal(err.details.type, type);
    assert.equal(err.details.index, index);
    return true;
  };
}

function invalidPayload(paths: string[], index?: number) {
  return (err: LedgerError) => {
    assert.equal(err.code, 'INVALID_EVENT');
    assert.equal(err.details.field, 'payload');
    assert.equal(err.details.index, index);
    const issues = err.details.issues as PayloadIssue[];
    for (const path of paths) {
      assert.ok(
        issues.some((issue) => issue.path === path && issue.message.length > 0),
        `an issue at '${path}' in ${JSON.stringify(issues)}`,
      );
    }
    return true;
  };
}

describe('closed taxonomy (eventTypes)', () => {
  test('an unknown type is UNKNOWN_EVENT_TYPE, refused before anything is sent to the writer', async (t) => {
    const ledger = await createLedger(t, { eventTypes, maxPendingAppends: 1, onFull: 'reject' });
    await assert.rejects(ledger.append({ type: 'turn_ended', payload: {} }), unknownType('turn_ended'));
    await assert.rejects(ledger.append({ type: 'toString' }), unknownType('toString'), 'inherited names are not types');
    assert.equal(ledger.maxSequence(), 1, 'only the recorded taxonomy');

    // With the writer's queue full, anything that reached the writer would be BACKPRESSURE: an
    // unknown type is refused first, on the caller's thread.
    const inFlight = ledger.append({ type: 'note' });
    for (let i = 0; i < 100 && ledger.pendingAppends === 0; i++) await Promise.resolve();
    assert.equal(ledger.pendingAppends, 1);
    await assert.rejects(ledger.append({ type: 'turn_ended' }), unknownType('turn_ended'));
    await assert.rejects(ledger.append({ type: 'note' }), (err: LedgerError) => err.code === 'BACKPRESSURE', 'control: a known type is sent');
    assert.equal((await inFlight).sequence, 2);
    assert.equal(ledger.maxSequence(), 2);
  });

  test('the trigger refuses unknown types from any connection that can append', async (t) => {
    const ledger = await createLedger(t, { eventTypes });
    await ledger.append({ type: 'note', payload: 'first' });
    const db = appendingConnection(t, ledger.path);
    assert.throws(() => rawAppend(db, 'turn_ended'), /STELE:UNKNOWN_EVENT_TYPE/);
    assert.throws(() => rawAppend(db, 'Note'), /STELE:UNKNOWN_EVENT_TYPE/, 'types are case-sensitive');
    assert.equal(ledger.maxSequence(), 2);
    assert.deepEqual(
      db.prepare('SELECT type FROM event_types ORDER BY type').pluck().all(),
      ['note', 'turn_detected'],
      'the opening recorded the set it was opened with',
    );

    // Known types pass the trigger (schemas are the caller's check, not the database's).
    await ledger.close();
    rawAppend(db, 'note');
    assert.deepEqual(chainOf(ledger.path), { ok: true, checked: 3 });
  });

  test('the taxonomy is ledger state: a writer opened without eventTypes, and a raw connection, still honour it', async (t) => {
    const path = tempLedgerPath(t);
    const first = await reopen(t, path, { eventTypes });
    const record = first.get(1)!;
    assert.equal(record.streamId, '$types');
    assert.equal(record.type, 'stele.event_types_set');
    assert.deepEqual(record.payload, { types: ['note', 'turn_detected'] });
    assert.deepEqual(first.recordedEventTypes(), ['note', 'turn_detected']);
    await first.close();

    const untyped = await reopen(t, path);
    assert.deepEqual(untyped.recordedEventTypes(), ['note', 'turn_detected']);
    await assert.rejects(untyped.append({ type: 'anything' }), (err: LedgerError) => err.code === 'UNKNOWN_EVENT_TYPE');
    assert.equal((await untyped.append({ type: 'turn_detected', payload: 'no schema without eventTypes' })).sequence, 2);
    const db = appendingConnection(t, path);
    assert.throws(() => rawAppend(db, 'also_anything'), /STELE:UNKNOWN_EVENT_TYPE/);
    assert.equal(untyped.maxSequence(), 2);
    assert.equal((await untyped.verify()).ok, true);
  });

  test('setEventTypes() changes the taxonomy by an append; [] accepts any type again', async (t) => {
    const ledger = await createLedger(t, { eventTypes });
    const changed = await ledger.setEventTypes(['turn_detected', 'note', 'note', 'zoë_spoke', 'Zeta']);
    assert.deepEqual(ledger.get(changed.sequence)!.payload, { types: ['Zeta', 'note', 'turn_detected', 'zoë_spoke'] }, 'one set, in UTF-8 byte order');
    const db = appendingConnection(t, ledger.path);
    rawAppend(db, 'Zeta');
    assert.throws(() => rawAppend(db, 'turn_ended'), /STELE:UNKNOWN_EVENT_TYPE/);

    await ledger.setEventTypes([]);
    assert.deepEqual(ledger.recordedEventTypes(), []);
    rawAppend(db, 'turn_ended');
    assert.equal(db.prepare('SELECT count(*) FROM event_types').pluck().get(), 0);
    await assert.rejects(ledger.setEventTypes(['ok', ' ']), (err: LedgerError) => err.code === 'INVALID_EVENT' && err.details.field === 'types' && err.details.index === 1);
    await assert.rejects(ledger.setEventTypes('note' as never), TypeError);
    assert.equal(ledger.maxSequence(), 5);
    assert.equal((await ledger.verify()).ok, true);
  });

  test('opened with other eventTypes, the recorded taxonomy stays and a warning says so', async (t) => {
    const path = tempLedgerPath(t);
    await (await reopen(t, path, { eventTypes })).close();
    const other = await reopen(t, path, { eventTypes: { note: true, refund_issued: true } });
    const warning = await new Promise((resolve) => other.once('warning', resolve));
    assert.deepEqual(warning, { kind: 'event_types_mismatch', recorded: ['note', 'turn_detected'], given: ['note', 'refund_issued'] });
    assert.deepEqual(other.recordedEventTypes(), ['note', 'turn_detected']);
    assert.equal(other.maxSequence(), 1, 'nothing was appended by the opening');
    await assert.rejects(other.append({ type: 'refund_issued' }), (err: LedgerError) => err.code === 'UNKNOWN_EVENT_TYPE', 'the trigger holds the recorded set');
    await other.setEventTypes(['note', 'refund_issued']);
    assert.equal((await other.append({ type: 'refund_issued' })).sequence, 3);
  });

  test('event_types changes only with the chain: the shell cannot add, remove or rewrite a type', async (t) => {
    const ledger = await createLedger(t, { eventTypes });
    await ledger.append({ type: 'note' });
    const db = appendingConnection(t, ledger.path);
    assert.throws(() => db.prepare("INSERT INTO event_types (type) VALUES ('smuggled')").run(), /STELE:APPEND_ONLY_VIOLATION:event_types/);
    assert.throws(() => db.prepare("DELETE FROM event_types WHERE type = 'note'").run(), /STELE:APPEND_ONLY_VIOLATION:delete/);
    assert.throws(() => db.prepare('DELETE FROM event_types').run(), /STELE:APPEND_ONLY_VIOLATION:delete/);
    assert.throws(() => db.prepare("UPDATE event_types SET type = 'other' WHERE type = 'note'").run(), /STELE:APPEND_ONLY_VIOLATION:update/);
    const types = (payload: string) =>
      db.prepare(
        `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta, agent_id, signature, local_timestamp, expected_version)
         VALUES (?, '$types', 'stele.event_types_set', ?, NULL, NULL, NULL, NULL, NULL, ?, NULL)`,
      ).run(randomUUID(), payload, Date.now());
    for (const bad of ['{"types":["b","a"]}', '{"types":["a","a"]}', '{"types":[""]}', '{"types":[1]}', '{"types":"a"}', '{"types":["a"],"more":1}', '[]', 'not json']) {
      assert.throws(() => types(bad), /STELE:INVALID_EVENT:\{"field":"types"\}/, bad);
    }
    assert.deepEqual(db.prepare('SELECT type FROM event_types ORDER BY type').pluck().all(), ['note', 'turn_detected']);
    assert.equal(ledger.maxSequence(), 2);
  });

  test('a zod schema checks the payload: every missing field is listed with its path', async (t) => {
    const ledger = await createLedger(t, { eventTypes });
    const { actor: _actor, ...withoutActor } = turn();
    await assert.rejects(ledger.append({ type: 'turn_detected', payload: withoutActor }), (err: LedgerError) => {
      invalidPayload(['actor'])(err);
      assert.equal(err.details.type, 'turn_detected');
      assert.deepEqual((err.details.issues as PayloadIssue[]).map((issue) => issue.path), ['actor']);
      assert.match(err.message, /actor/);
      return true;
    });
    await assert.rejects(
      ledger.append({ type: 'turn_detected', payload: { session_uuid: randomUUID(), text: 'hi' } }),
      invalidPayload(['actor', 'source', 'turn_timestamp']),
    );
    await assert.rejects(ledger.append({ type: 'turn_detected', payload: turn({ session_uuid: 'not-a-uuid' }) }), invalidPayload(['session_uuid']));
    await assert.rejects(ledger.append({ type: 'turn_detected', payload: turn({ actor: 42 }) }), invalidPayload(['actor']));
    await assert.rejects(ledger.append({ type: 'turn_detected' }), invalidPayload(['']), 'no payload at all: an issue at the root');
    assert.equal(ledger.maxSequence(), 1);

    const payload = turn();
    const ok = await ledger.append({ type: 'turn_detected', streamId: `session-${String(payload.session_uuid)}`, payload });
    assert.equal(ok.sequence, 2);
    assert.deepEqual(ledger.get(2)!.payload, payload);
  });

  test('`true` accepts any payload', async (t) => {
    const ledger = await createLedger(t, { eventTypes });
    for (const payload of [undefined, null, 'text', 42, [1, 2], { nested: { deep: new Date(0) } }, 10n]) {
      await ledger.append({ type: 'note', payload });
    }
    assert.equal(ledger.maxSequence(), 8);
  });

  test('an async Standard Schema works too', async (t) => {
    let calls = 0;
    const positiveCents: StandardSchemaV1<{ cents: number }> = {
      '~standard': {
        version: 1,
        vendor: 'spec',
        validate: async (value) => {
          calls++;
          await new Promise((resolve) => setTimeout(resolve, 1));
          const cents = (value as { cents?: unknown } | null)?.cents;
          return typeof cents === 'number' && cents > 0
            ? { value: { cents } }
            : { issues: [{ message: 'must be a positive number', path: [{ key: 'cents' }] }] };
        },
      },
    };
    const ledger = await createLedger(t, { eventTypes: { deposited: positiveCents } });
    await assert.rejects(ledger.append({ type: 'deposited', payload: { cents: -5 } }), invalidPayload(['cents']));
    assert.equal((await ledger.append({ type: 'deposited', payload: { cents: 500 } })).sequence, 2);
    await assert.rejects(
      ledger.appendBatch([{ type: 'deposited', payload: { cents: 1 } }, { type: 'deposited', payload: {} }]),
      invalidPayload(['cents'], 1),
    );
    assert.equal(calls, 4);
    assert.equal(ledger.maxSequence(), 2);
  });

  test('in a batch, one bad payload or unknown type fails the whole batch, with its index', async (t) => {
    const ledger = await createLedger(t, { eventTypes });
    const { actor: _actor, ...withoutActor } = turn();
    await assert.rejects(
      ledger.appendBatch([
        { type: 'turn_detected', payload: turn() },
        { type: 'note' },
        { type: 'turn_detected', payload: withoutActor },
      ]),
      invalidPayload(['actor'], 2),
    );
    await assert.rejects(ledger.appendBatch([{ type: 'note' }, { type: 'turn_ended' }]), unknownType('turn_ended', 1));
    assert.equal(ledger.maxSequence(), 1);
    const results = await ledger.appendBatch([{ type: 'turn_detected', payload: turn() }, { type: 'note' }], { streamId: 'session-1' });
    assert.deepEqual(results.map((r) => r.sequence), [2, 3]);
  });

  test('Stele’s reserved streams are outside the taxonomy: agent keys and halt still work', async (t) => {
    const ledger = await createLedger(t, { eventTypes });
    await ledger.registerAgentKey('listener', generateAgentKeyPair().publicKey, { keyId: 'k1' });
    await ledger.revokeAgentKey('listener', 'k1', 'rotated');
    await ledger.append({ type: 'note' });
    const halt = await ledger.halt('closed taxonomy, still haltable');
    assert.equal(ledger.haltState().halted, true);
    assert.equal(ledger.get(halt.sequence)!.type, 'stele.halted');
    await assert.rejects(ledger.append({ type: 'note' }), (err: LedgerError) => err.code === 'LEDGER_HALTED');
    assert.equal(chainOf(ledger.path).ok, true);
  });
});

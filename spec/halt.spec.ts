import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { generateAgentKeyPair, witnessClearHalt, type Ledger, type LedgerError } from '../lib/index.ts';
import { configureWriterConnection } from '../lib/sqlite/connections.ts';
import { registerNativeFunctions } from '../lib/sqlite/native-functions.ts';
import { chainOf, createLedger } from './helpers/temp-ledger.ts';

async function withWitnesses(ledger: Ledger, names: string[]) {
  const keys = Object.fromEntries(names.map((name) => [name, generateAgentKeyPair()]));
  for (const name of names) await ledger.registerAgentKey(name, keys[name]!.publicKey, { role: 'witness' });
  return keys;
}

describe('halt and the clearing ceremony', () => {
  test('a halt is an event; afterwards every append is LEDGER_HALTED and reads keep working', async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 'before' });
    assert.deepEqual(ledger.haltState(), { halted: false, reason: undefined, at: undefined, sequence: undefined, halt: undefined });
    const halt = await ledger.halt('replica diverged');
    const state = ledger.haltState();
    assert.equal(state.halted, true);
    assert.equal(state.reason, 'replica diverged');
    assert.equal(state.sequence, halt.sequence);
    assert.deepEqual(state.at, halt.authorityTimestamp);
    assert.deepEqual(state.halt, { sequence: halt.sequence, contentHash: halt.contentHash });
    assert.equal(ledger.get(halt.sequence)!.type, 'stele.halted');

    const refused = (err: LedgerError) => {
      assert.equal(err.code, 'LEDGER_HALTED');
      assert.deepEqual(err.details, { haltSequence: halt.sequence, reason: 'replica diverged' });
      return true;
    };
    await assert.rejects(ledger.append({ type: 'after' }), refused);
    await assert.rejects(ledger.appendBatch([{ type: 'a' }, { type: 'b' }]), refused);
    assert.equal(ledger.maxSequence(), 2);
    assert.equal(ledger.readAll().length, 2);
    // Agent keys stay open while halted (revoking a stolen key, registering its successor);
    // witness keys do not (independent-witnesses.spec.ts).
    const key = await ledger.registerAgentKey('bot', generateAgentKeyPair().publicKey);
    assert.equal(key.sequence, 3);
    assert.equal(ledger.haltState().halted, true);
  });

  test('the halt is enforced by the trigger: a raw connection with Stele’s functions is refused too', async (t) => {
    const ledger = await createLedger(t);
    await ledger.halt('stop');
    const db = new Database(ledger.path, { timeout: 2000 });
    t.after(() => db.close());
    configureWriterConnection(db, 'normal');
    registerNativeFunctions(db, { driftThresholdMs: 5000 });
    assert.throws(
      () =>
        db
          .prepare(`INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
                      agent_id, signature, local_timestamp, expected_version) VALUES ('raw', 's', 't', NULL, NULL, NULL, NULL, NULL, NULL, ?, NULL)`)
          .run(Date.now()),
      /^SqliteError: STELE:LEDGER_HALTED$|STELE:LEDGER_HALTED/,
    );
    assert.equal(ledger.maxSequence(), 1);
  });

  test('clearing needs a quorum of distinct registered witnesses signing this halt and this reason', async (t) => {
    const ledger = await createLedger(t);
    const keys = await withWitnesses(ledger, ['alice', 'bob', 'carol']);
    const outsider = generateAgentKeyPair();
    await ledger.halt('disk errors');
    const halt = ledger.haltState().halt!;
    const reason = 'disk replaced, chain verified';
    const sign = (name: string, r = reason, h = halt) => witnessClearHalt(h, r, name, keys[name]!.secretKey);
    const refused = (err: LedgerError) => err.code === 'CEREMONY_REFUSED';

    await assert.rejects(ledger.clearHalt({ reason, witnesses: [] }), refused);
    await assert.rejects(ledger.clearHalt({ reason, witnesses: [sign('alice')] }), (err: LedgerError) => {
      assert.equal(err.code, 'CEREMONY_REFUSED');
      assert.equal(err.details.quorum, 2);
      return true;
    });
    await assert.rejects(ledger.clearHalt({ reason, witnesses: [sign('alice'), sign('alice')] }), refused, 'same witness twice');
    await assert.rejects(ledger.clearHalt({ reason, witnesses: [sign('alice'), sign('bob', 'another reason')] }), refused, 'bob signed another reason');
    await assert.rejects(
      ledger.clearHalt({ reason, witnesses: [sign('alice'), witnessClearHalt(halt, reason, 'mallory', outsider.secretKey)] }),
      refused,
      'unregistered witness',
    );
    await assert.rejects(
      ledger.clearHalt({ reason, witnesses: [sign('alice'), { witnessId: 'bob', signature: sign('carol').signature }] }),
      refused,
      'carol’s signature under bob’s name',
    );
    assert.equal(ledger.haltState().halted, true);

    const cleared = await ledger.clearHalt({ reason, witnesses: [sign('alice'), sign('carol')] });
    assert.equal(ledger.get(cleared.sequence)!.type, 'stele.halt_cleared');
    assert.deepEqual(ledger.haltState(), { halted: false, reason, at: cleared.authorityTimestamp, sequence: cleared.sequence, halt: undefined });
    assert.equal((await ledger.append({ type: 'business_as_usual' })).sequence, cleared.sequence + 1);
    await assert.rejects(ledger.clearHalt({ reason, witnesses: [sign('alice'), sign('carol')] }), (err: LedgerError) => err.code === 'NOT_HALTED');

    // Signatures for an earlier halt do not clear a later one.
    await ledger.halt('again');
    await assert.rejects(ledger.clearHalt({ reason, witnesses: [sign('alice'), sign('carol')] }), refused);
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('a revoked witness does not count toward the quorum', async (t) => {
    const ledger = await createLedger(t);
    const keys = await withWitnesses(ledger, ['alice', 'bob']);
    const bobKeyId = ledger.readStream('$agents').find((e) => (e.payload as { agentId: string }).agentId === 'bob')!;
    await ledger.revokeAgentKey('bob', (bobKeyId.payload as { keyId: string }).keyId, 'left the company');
    await ledger.halt('incident');
    const halt = ledger.haltState().halt!;
    const witnesses = ['alice', 'bob'].map((name) => witnessClearHalt(halt, 'resolved', name, keys[name]!.secretKey));
    await assert.rejects(ledger.clearHalt({ reason: 'resolved', witnesses }), (err: LedgerError) => err.code === 'CEREMONY_REFUSED');
    assert.equal(ledger.haltState().halted, true);
  });
});

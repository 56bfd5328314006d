/**
 * A witnessed ceremony needs independent people (006-independent-witnesses.sql): the quorum
 * counts distinct public keys, witness keys do not change while halted, a key holds one role,
 * the quorum is fixed when the file is created, and an app or a verifier can name the witness
 * keys it trusts. Each rule holds in SQL at append and in verify, which replays it for a file
 * written past the triggers.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import nacl from 'tweetnacl';
import {
  generateAgentKeyPair,
  LedgerError,
  openLedger,
  promoteReplica,
  replicaInfo,
  replicateFile,
  verifyLedgerFile,
  witnessClearHalt,
  witnessPromotion,
  type AgentKeyPair,
  type Ledger,
} from '../lib/index.ts';
import { systemEvent } from '../lib/format/event-encoding.ts';
import { APPEND_SQL, appendArgs } from '../lib/sqlite/append-statement.ts';
import { configureWriterConnection } from '../lib/sqlite/connections.ts';
import { registerNativeFunctions } from '../lib/sqlite/native-functions.ts';
import { chainOf, createLedger, reopen, tempDir, tempLedgerPath } from './helpers/temp-ledger.ts';

const CLI = new URL('../lib/cli/stele.ts', import.meta.url).pathname;
const codeOf = (error: unknown): string | undefined => (error instanceof LedgerError ? error.code : undefined);
const refusedWith = (code: string, details?: Record<string, unknown>) => (error: unknown) => {
  assert.equal(codeOf(error), code, String(error));
  if (details) for (const [key, value] of Object.entries(details)) assert.deepEqual((error as LedgerError).details[key], value, key);
  return true;
};

/** The signatures of `signers` (name → key pair) over the ledger's current halt and `reason`. */
function clearing(ledger: Ledger, reason: string, signers: Array<[string, AgentKeyPair]>) {
  const { halt } = ledger.haltState();
  return { reason, witnesses: signers.map(([name, keys]) => witnessClearHalt(halt!, reason, name, keys.secretKey)) };
}

const metaOf = (path: string, key: string): unknown => {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT value FROM ledger_meta WHERE key = ?').pluck().get(key);
  } finally {
    db.close();
  }
};

/** A raw connection with Stele's real functions, as a tool beside the app would have. */
function withStele(path: string, edit: (db: Database.Database, append: (streamId: string, type: string, payload: Record<string, unknown>) => void) => void): void {
  const db = new Database(path);
  try {
    configureWriterConnection(db, 'normal');
    registerNativeFunctions(db, { driftThresholdMs: 5_000 });
    edit(db, (streamId, type, payload) => void db.prepare(APPEND_SQL).run(...appendArgs(systemEvent(streamId, type, payload))));
  } finally {
    db.close();
  }
}

/** `edit` with schema 6's trigger dropped and then recreated exactly: the schema is the pinned one again. */
function pastTheTrigger(path: string, edit: Parameters<typeof withStele>[1]): void {
  withStele(path, (db, append) => {
    const sql = db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'independent_witness_rules'").pluck().get() as string;
    db.exec('DROP TRIGGER independent_witness_rules');
    try {
      edit(db, append);
    } finally {
      db.exec(sql);
    }
  });
}

describe('the quorum counts independent keys', () => {
  test('one key pair registered under two witness names cannot clear a halt; two keys can', async (t) => {
    const ledger = await createLedger(t);
    const alice = generateAgentKeyPair();
    const bob = generateAgentKeyPair();
    await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
    await ledger.registerAgentKey('alice-again', alice.publicKey, { role: 'witness' });
    await ledger.registerAgentKey('bob', bob.publicKey, { role: 'witness' });
    await ledger.halt('incident');
    await assert.rejects(
      ledger.clearHalt(clearing(ledger, 'one person', [['alice', alice], ['alice-again', alice]])),
      refusedWith('CEREMONY_REFUSED', { reason: 'not enough valid signatures of distinct witness keys', quorum: 2 }),
    );
    assert.equal(ledger.haltState().halted, true);
    await ledger.clearHalt(clearing(ledger, 'two people', [['alice', alice], ['bob', bob]]));
    assert.equal(ledger.haltState().halted, false);
    await ledger.append({ type: 'after' });
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 6 });
  });

  test('verify replays it: a ceremony of one key under two names written past the trigger is a ceremony fault', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    const alice = generateAgentKeyPair();
    await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
    await ledger.registerAgentKey('alice-again', alice.publicKey, { role: 'witness' });
    await ledger.halt('incident');
    const ceremony = clearing(ledger, 'one person', [['alice', alice], ['alice-again', alice]]);
    const halt = ledger.haltState().halt!;
    await ledger.close();
    pastTheTrigger(path, (_db, append) => append('$halt', 'stele.halt_cleared', { ...ceremony, haltSequence: halt.sequence }));
    const result = await verifyLedgerFile(path, { headSidecar: false });
    assert.deepEqual([result.ok, result.firstBad?.sequence, result.firstBad?.reason], [false, 4, 'ceremony']);
    assert.match(result.firstBad!.detail!, /^1 valid signatures of distinct witness keys, the quorum is 2$/);
  });
});

describe('witness keys do not change while halted', () => {
  test('registering or revoking a witness key is LEDGER_HALTED; agent keys stay open; nothing is lost', async (t) => {
    const ledger = await createLedger(t);
    const alice = generateAgentKeyPair();
    const witness = await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness', keyId: 'a1' });
    const halt = await ledger.halt('incident');
    const refused = refusedWith('LEDGER_HALTED', { haltSequence: halt.sequence, refused: 'witness keys cannot change while the ledger is halted' });
    await assert.rejects(ledger.registerAgentKey('mallory', generateAgentKeyPair().publicKey, { role: 'witness' }), refused);
    await assert.rejects(ledger.revokeAgentKey('alice', 'a1', 'rotated'), refused);
    // Agent keys still change: a stolen key is revoked during the incident.
    await ledger.registerAgentKey('bot', generateAgentKeyPair().publicKey, { keyId: 'b1' });
    await ledger.revokeAgentKey('bot', 'b1', 'stolen');
    assert.equal(ledger.maxSequence(), 4);
    assert.equal(witness.sequence, 1);
    assert.equal(chainOf(ledger.path).ok, true);
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 4 });
  });

  test('verify replays it: a witness registered while halted, written past the trigger, is a key_registration fault', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    await ledger.append({ type: 'a' });
    await ledger.halt('incident');
    await ledger.close();
    pastTheTrigger(path, (_db, append) =>
      append('$agents', 'stele.agent_key_registered', { agentId: 'mallory', keyId: 'm', publicKey: generateAgentKeyPair().publicKey, role: 'witness' }),
    );
    const result = await verifyLedgerFile(path, { headSidecar: false });
    assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [3, 'key_registration']);
    assert.match(result.firstBad!.detail!, /witness 'mallory' was registered while the ledger was halted/);
  });
});

describe('a public key holds one role', () => {
  test('an agent key cannot also be a witness key, nor the reverse; the next append works', async (t) => {
    const ledger = await createLedger(t);
    const shared = generateAgentKeyPair();
    const other = generateAgentKeyPair();
    await ledger.registerAgentKey('bot', shared.publicKey);
    await ledger.registerAgentKey('alice', other.publicKey, { role: 'witness' });
    const refused = refusedWith('INVALID_EVENT', { field: 'publicKey', reason: 'the key is registered under the other role' });
    await assert.rejects(ledger.registerAgentKey('bot-as-witness', shared.publicKey, { role: 'witness' }), refused);
    await assert.rejects(ledger.registerAgentKey('alice-as-agent', other.publicKey), refused);
    await ledger.registerAgentKey('bot', shared.publicKey, { keyId: 'same-role-again' });
    assert.equal((await ledger.append({ type: 'after' })).sequence, 4);
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 4 });
  });

  test('verify replays it: a witness registration of an agent key, written past the trigger, is a key_registration fault', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await openLedger(path);
    const shared = generateAgentKeyPair();
    await ledger.registerAgentKey('bot', shared.publicKey);
    await ledger.close();
    pastTheTrigger(path, (_db, append) => append('$agents', 'stele.agent_key_registered', { agentId: 'w', keyId: 'w', publicKey: shared.publicKey, role: 'witness' }));
    const result = await verifyLedgerFile(path, { headSidecar: false });
    assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [2, 'key_registration']);
    assert.match(result.firstBad!.detail!, /already registered under the other role/);
  });
});

describe('witnessQuorum', () => {
  test('is recorded when the ledger is created and fixed once it holds events', async (t) => {
    const path = tempLedgerPath(t);
    const [a, b, c] = [generateAgentKeyPair(), generateAgentKeyPair(), generateAgentKeyPair()];
    let ledger = await openLedger(path, { witnessQuorum: 3 });
    assert.equal(metaOf(path, 'witness_quorum'), '3');
    for (const [name, keys] of [['a', a], ['b', b], ['c', c]] as const) await ledger.registerAgentKey(name, keys.publicKey, { role: 'witness' });
    await ledger.halt('incident');
    await assert.rejects(ledger.clearHalt(clearing(ledger, 'two', [['a', a], ['b', b]])), refusedWith('CEREMONY_REFUSED', { quorum: 3 }));
    await ledger.clearHalt(clearing(ledger, 'three', [['a', a], ['b', b], ['c', c]]));
    await ledger.close();

    await assert.rejects(openLedger(path, { witnessQuorum: 2 }), refusedWith('WITNESS_QUORUM_FIXED', { quorum: 3, given: 2 }));
    ledger = await reopen(t, path, { witnessQuorum: 3 });
    await ledger.close();
    ledger = await reopen(t, path);
    assert.equal(metaOf(path, 'witness_quorum'), '3');
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 5 });
  });

  test('a ledger with no events yet takes another quorum; 1 lets one witness clear a halt', async (t) => {
    const path = tempLedgerPath(t);
    await (await openLedger(path, { witnessQuorum: 5 })).close();
    const ledger = await reopen(t, path, { witnessQuorum: 1 });
    assert.equal(metaOf(path, 'witness_quorum'), '1');
    const solo = generateAgentKeyPair();
    await ledger.registerAgentKey('solo', solo.publicKey, { role: 'witness' });
    await ledger.halt('incident');
    await ledger.clearHalt(clearing(ledger, 'one witness is the quorum', [['solo', solo]]));
    assert.equal(ledger.haltState().halted, false);
  });

  test('the file refuses a change of its quorum once it holds events, even from a raw connection', async (t) => {
    const ledger = await createLedger(t);
    await ledger.append({ type: 'a' });
    withStele(ledger.path, (db) => {
      assert.throws(() => db.prepare("UPDATE ledger_meta SET value = '1' WHERE key = 'witness_quorum'").run(), /STELE:APPEND_ONLY_VIOLATION:update/);
      assert.throws(() => db.prepare("UPDATE ledger_meta SET value = '1' WHERE key = 'independent_witnesses_since'").run(), /STELE:APPEND_ONLY_VIOLATION:update/);
    });
    assert.equal(metaOf(ledger.path, 'witness_quorum'), '2');
  });

  test('bad values are refused before anything is opened', async (t) => {
    const path = tempLedgerPath(t);
    await assert.rejects(openLedger(path, { witnessQuorum: 0 }), RangeError);
    await assert.rejects(openLedger(path, { witnessQuorum: 65 }), RangeError);
    await assert.rejects(openLedger(path, { witnessQuorum: '2' as unknown as number }), TypeError);
    await assert.rejects(openLedger(path, { trustedWitnesses: ['not a key'] }), RangeError);
    await assert.rejects(openLedger(path, { trustedWitnesses: 'abc' as unknown as string[] }), TypeError);
    await assert.rejects(verifyLedgerFile(path, { witnessQuorum: 0 }), RangeError);
  });
});

/**
 * A closed ledger whose halt was cleared by alice and mallory, all three witnesses registered in
 * the file; an app or verifier that trusts only alice and bob must not accept that ceremony.
 */
async function clearedWithMallory(t: TestContext) {
  const keys = { alice: generateAgentKeyPair(), bob: generateAgentKeyPair(), mallory: generateAgentKeyPair() };
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  for (const [name, pair] of Object.entries(keys)) await ledger.registerAgentKey(name, pair.publicKey, { role: 'witness' });
  await ledger.halt('incident');
  const cleared = await ledger.clearHalt(clearing(ledger, 'mallory helps', [['alice', keys.alice], ['mallory', keys.mallory]]));
  await ledger.close();
  return { keys, path, cleared };
}

describe('trusted witnesses, held outside the file', () => {
  test('clearHalt counts only the trusted keys: a witness the holder of the Ledger registered does not vouch', async (t) => {
    const keys = { alice: generateAgentKeyPair(), bob: generateAgentKeyPair(), mallory: generateAgentKeyPair() };
    const ledger = await createLedger(t, { trustedWitnesses: [keys.alice.publicKey, keys.bob.publicKey] });
    for (const [name, pair] of Object.entries(keys)) await ledger.registerAgentKey(name, pair.publicKey, { role: 'witness' });
    await ledger.halt('incident');
    await assert.rejects(
      ledger.clearHalt(clearing(ledger, 'mallory helps', [['alice', keys.alice], ['mallory', keys.mallory]])),
      refusedWith('CEREMONY_REFUSED', { reason: 'not enough valid signatures of trusted witnesses', valid: 1, quorum: 2 }),
    );
    assert.equal(ledger.maxSequence(), 4);
    await ledger.clearHalt(clearing(ledger, 'the trusted two', [['alice', keys.alice], ['bob', keys.bob]]));
    assert.equal(ledger.haltState().halted, false);
  });

  test('verify with trustedWitnesses or a higher witnessQuorum rejects a ceremony the file alone accepts', async (t) => {
    const { keys, path, cleared } = await clearedWithMallory(t);
    assert.deepEqual(await verifyLedgerFile(path), { ok: true, checked: 5 });
    const trusted = await verifyLedgerFile(path, { trustedWitnesses: [keys.alice.publicKey, keys.bob.publicKey] });
    assert.deepEqual([trusted.firstBad?.sequence, trusted.firstBad?.reason], [cleared.sequence, 'ceremony']);
    assert.match(trusted.firstBad!.detail!, /^1 valid signatures of trusted witnesses, the quorum is 2$/);
    const higher = await verifyLedgerFile(path, { witnessQuorum: 3, rangeSize: 2 });
    assert.deepEqual([higher.firstBad?.sequence, higher.firstBad?.reason], [cleared.sequence, 'ceremony']);
    assert.match(higher.firstBad!.detail!, /the quorum is 3$/);
  });

  test('stele verify takes the same outside anchors: --trusted-witness and --witness-quorum', async (t) => {
    const { keys, path, cleared } = await clearedWithMallory(t);
    const stele = (...args: string[]) =>
      new Promise<{ code: number; stdout: string }>((done) =>
        execFile(process.execPath, ['--import', 'tsx', CLI, 'verify', path, '--json', ...args], (error, stdout) =>
          done({ code: error ? Number(error.code) : 0, stdout }),
        ),
      );
    const plain = await stele();
    assert.deepEqual([plain.code, JSON.parse(plain.stdout).ok], [0, true]);
    const trusted = await stele('--trusted-witness', keys.alice.publicKey, '--trusted-witness', keys.bob.publicKey);
    assert.equal(trusted.code, 1);
    assert.deepEqual([JSON.parse(trusted.stdout).firstBad.sequence, JSON.parse(trusted.stdout).firstBad.reason], [cleared.sequence, 'ceremony']);
    const higher = await stele('--witness-quorum', '3');
    assert.deepEqual([higher.code, JSON.parse(higher.stdout).firstBad.reason], [1, 'ceremony']);
  });

  test('promoteReplica counts only trusted keys and verifies the copy with them', async (t) => {
    const dir = tempDir(t);
    const keys = { alice: generateAgentKeyPair(), bob: generateAgentKeyPair(), mallory: generateAgentKeyPair() };
    const primary = await reopen(t, join(dir, 'primary.db'), { witnessQuorum: 2 });
    for (const [name, pair] of Object.entries(keys)) await primary.registerAgentKey(name, pair.publicKey, { role: 'witness' });
    await primary.append({ type: 'a' });
    await primary.close();
    const copy = join(dir, 'copy.db');
    await replicateFile(primary.path, copy);
    const subject = replicaInfo(copy);
    const reason = 'primary lost';
    const sign = (name: keyof typeof keys) => witnessPromotion(subject, reason, name, keys[name].secretKey);
    const trustedWitnesses = [keys.alice.publicKey, keys.bob.publicKey];
    await assert.rejects(
      promoteReplica(copy, { reason, witnesses: [sign('alice'), sign('mallory')] }, { trustedWitnesses }),
      refusedWith('CEREMONY_REFUSED', { reason: 'not enough valid signatures of trusted witnesses' }),
    );
    await assert.rejects(promoteReplica(copy, { reason, witnesses: [sign('alice'), sign('alice')] }), refusedWith('CEREMONY_REFUSED'));
    const promoted = await promoteReplica(copy, { reason, witnesses: [sign('alice'), sign('bob')] }, { trustedWitnesses });
    assert.equal(promoted.sequence, 5);
    assert.deepEqual(await verifyLedgerFile(copy, { trustedWitnesses }), { ok: true, checked: 5 });
  });
});

describe('files written before schema 6', () => {
  /** The schema-5 fixture's witness keys (spec/fixtures/ledgers/build.ts). */
  const fixtureKey = (seed: number) => nacl.sign.keyPair.fromSeed(new Uint8Array(32).fill(seed)).secretKey;

  test('keep the rules they were written under; rows after the upgrade get the new ones', async (t) => {
    const path = join(tempDir(t), 'schema-5.db');
    copyFileSync(new URL('./fixtures/ledgers/schema-5.db', import.meta.url), path);
    // Schema 5 let a witness be registered while halted: written so by a Stele of that schema.
    withStele(path, (db, append) => {
      append('$halt', 'stele.halted', { reason: 'old incident' });
      const halt = db.prepare("SELECT sequence, content_hash AS contentHash FROM events WHERE stream_id = '$halt' ORDER BY sequence DESC LIMIT 1").get() as { sequence: number; contentHash: string };
      append('$agents', 'stele.agent_key_registered', { agentId: 'carol', keyId: 'c', publicKey: generateAgentKeyPair().publicKey, role: 'witness' });
      const reason = 'cleared under schema 5';
      const witnesses = [witnessClearHalt(halt, reason, 'alice', fixtureKey(2)), witnessClearHalt(halt, reason, 'bob', fixtureKey(3))];
      append('$halt', 'stele.halt_cleared', { reason, haltSequence: halt.sequence, witnesses });
    });
    assert.deepEqual(await verifyLedgerFile(path, { headSidecar: false }), { ok: true, checked: 13 });

    const ledger = await reopen(t, path);
    assert.equal(metaOf(path, 'independent_witnesses_since'), '14');
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 13 });
    await ledger.halt('new incident');
    await assert.rejects(ledger.registerAgentKey('dave', generateAgentKeyPair().publicKey, { role: 'witness' }), refusedWith('LEDGER_HALTED'));
  });

  test('a replica takes its primary\'s quorum and rules', async (t) => {
    const dir = tempDir(t);
    const primary = await reopen(t, join(dir, 'primary.db'), { witnessQuorum: 4 });
    await primary.append({ type: 'a' });
    await primary.close();
    const copy = join(dir, 'copy.db');
    await replicateFile(primary.path, copy);
    assert.deepEqual([metaOf(copy, 'witness_quorum'), metaOf(copy, 'independent_witnesses_since')], ['4', '1']);
  });
});

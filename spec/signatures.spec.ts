import assert from 'node:assert/strict';
import { createPublicKey, sign as nodeSign, verify as nodeVerify, createPrivateKey } from 'node:crypto';
import { describe, test } from 'node:test';
import nacl from 'tweetnacl';
import Database from 'better-sqlite3';
import { generateAgentKeyPair, signableBytes, signEvent, type LedgerError } from '../lib/index.ts';
import { registerNativeFunctions } from '../lib/sqlite/native-functions.ts';
import { configureWriterConnection } from '../lib/sqlite/connections.ts';
import { chainOf, createLedger, reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

function code(expected: string, details?: Record<string, unknown>) {
  return (err: LedgerError) => {
    assert.equal(err.code, expected);
    if (details) for (const [key, value] of Object.entries(details)) assert.deepEqual(err.details[key], value);
    return true;
  };
}

describe('signatures and the agent key registry', () => {
  test('tweetnacl and node:crypto produce and accept the same ed25519 signatures', () => {
    const keys = generateAgentKeyPair();
    const message = signableBytes({ type: 't', eventId: 'e', agentId: 'a', localTimestamp: new Date(5), payload: { x: 1n } });
    const naclSignature = nacl.sign.detached(message, keys.secretKey);
    // The same key in node:crypto's form: PKCS#8 from the 32-byte seed, SPKI from the public key.
    const seed = Buffer.from(keys.secretKey.subarray(0, 32));
    const privateKey = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(keys.publicKey, 'base64')]),
      format: 'der',
      type: 'spki',
    });
    const nodeSignature = nodeSign(null, message, privateKey);
    assert.deepEqual(Buffer.from(naclSignature), nodeSignature, 'ed25519 is deterministic: identical signatures');
    assert.equal(nodeVerify(null, message, publicKey, Buffer.from(naclSignature)), true);
    assert.equal(nacl.sign.detached.verify(message, new Uint8Array(nodeSignature), Buffer.from(keys.publicKey, 'base64')), true);
    const tampered = Buffer.from(message);
    tampered[tampered.length - 1]! ^= 1;
    assert.equal(nodeVerify(null, tampered, publicKey, nodeSignature), false);
  });

  test('a signed event from a registered agent is accepted and keeps its agent and signature', async (t) => {
    const ledger = await createLedger(t);
    const keys = generateAgentKeyPair();
    const registration = await ledger.registerAgentKey('billing-bot', keys.publicKey, { keyId: 'k1' });
    assert.equal(registration.streamId, '$agents');
    const signed = signEvent({ type: 'invoice_sent', streamId: 'invoice-7', payload: { cents: 1250n } }, 'billing-bot', keys.secretKey);
    const result = await ledger.append(signed);
    const event = ledger.get(result.sequence)!;
    assert.equal(event.agentId, 'billing-bot');
    assert.equal(event.signature, signed.signature);
    assert.deepEqual(event.payload, { cents: 1250n });
    // The registration is an event too, in the chain.
    assert.equal(ledger.get(registration.sequence)!.type, 'stele.agent_key_registered');
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('a signature over a different payload, agent, stream, type or id is SIGNATURE_INVALID', async (t) => {
    const ledger = await createLedger(t);
    const bot = generateAgentKeyPair();
    const other = generateAgentKeyPair();
    await ledger.registerAgentKey('bot', bot.publicKey);
    await ledger.registerAgentKey('other', other.publicKey);
    const signed = signEvent({ type: 'paid', streamId: 's', payload: { cents: 5 }, metadata: { m: 1 } }, 'bot', bot.secretKey);
    const forgeries = [
      { ...signed, payload: { cents: 6 } },
      { ...signed, metadata: { m: 2 } },
      { ...signed, streamId: 's2' },
      { ...signed, type: 'refunded' },
      { ...signed, eventId: 'another-id' },
      { ...signed, localTimestamp: new Date(signed.localTimestamp!.getTime() + 1) },
      { ...signed, agentId: 'other' },
      signEvent({ type: 'paid', streamId: 's' }, 'bot', other.secretKey),
      { ...signed, signature: 'not base64!' },
    ];
    for (const forged of forgeries) {
      await assert.rejects(ledger.append(forged), code('SIGNATURE_INVALID', { eventId: forged.eventId }));
    }
    assert.equal(ledger.maxSequence(), 2);
    assert.equal((await ledger.append(signed)).sequence, 3);
  });

  test('an unregistered agent is UNKNOWN_AGENT; half a signature is INVALID_EVENT', async (t) => {
    const ledger = await createLedger(t);
    const keys = generateAgentKeyPair();
    await assert.rejects(ledger.append(signEvent({ type: 't' }, 'stranger', keys.secretKey)), code('UNKNOWN_AGENT', { agentId: 'stranger' }));
    await assert.rejects(ledger.append({ type: 't', agentId: 'stranger' }), code('INVALID_EVENT', { field: 'signature' }));
    // A witness key cannot sign events.
    await ledger.registerAgentKey('notary', keys.publicKey, { role: 'witness' });
    await assert.rejects(ledger.append(signEvent({ type: 't' }, 'notary', keys.secretKey)), code('UNKNOWN_AGENT'));
  });

  test('a revoked key fails for new events; events it signed before stay and verify', async (t) => {
    const ledger = await createLedger(t);
    const old = generateAgentKeyPair();
    const fresh = generateAgentKeyPair();
    await ledger.registerAgentKey('bot', old.publicKey, { keyId: 'old' });
    const before = await ledger.append(signEvent({ type: 'before' }, 'bot', old.secretKey));
    const revocation = await ledger.revokeAgentKey('bot', 'old', 'laptop stolen');
    assert.equal(ledger.get(revocation.sequence)!.type, 'stele.agent_key_revoked');
    await assert.rejects(ledger.append(signEvent({ type: 'after' }, 'bot', old.secretKey)), code('AGENT_KEY_REVOKED', { agentId: 'bot' }));
    await assert.rejects(ledger.revokeAgentKey('bot', 'old', 'again'), code('AGENT_KEY_REVOKED'));
    await assert.rejects(ledger.revokeAgentKey('bot', 'nope', 'x'), code('UNKNOWN_AGENT', { agentId: 'bot', keyId: 'nope' }));
    await ledger.registerAgentKey('bot', fresh.publicKey, { keyId: 'fresh' });
    // With an active key present, the revoked key's signature is simply not valid any more.
    await assert.rejects(ledger.append(signEvent({ type: 'after' }, 'bot', old.secretKey)), code('SIGNATURE_INVALID'));
    await ledger.append(signEvent({ type: 'after' }, 'bot', fresh.secretKey));
    assert.equal(ledger.get(before.sequence)!.agentId, 'bot');
    assert.equal(chainOf(ledger.path).ok, true);
  });

  test('registering a bad key or a taken keyId is refused by the trigger', async (t) => {
    const ledger = await createLedger(t);
    const keys = generateAgentKeyPair();
    await assert.rejects(ledger.registerAgentKey('bot', 'AAAA'), code('INVALID_EVENT', { field: 'publicKey' }));
    await ledger.registerAgentKey('bot', keys.publicKey, { keyId: 'k' });
    await assert.rejects(ledger.registerAgentKey('bot', generateAgentKeyPair().publicKey, { keyId: 'k' }), code('DUPLICATE_AGENT_KEY', { agentId: 'bot', keyId: 'k' }));
    await assert.rejects(ledger.registerAgentKey('bot', keys.publicKey, { role: 'admin' as never }), RangeError);
    assert.equal(ledger.maxSequence(), 1);
  });

  test('requireSignatures refuses unsigned events in SQL, and stays on for later opens', async (t) => {
    const path = tempLedgerPath(t);
    const keys = generateAgentKeyPair();
    {
      const ledger = await reopen(t, path, { requireSignatures: true });
      await ledger.registerAgentKey('bot', keys.publicKey);
      await assert.rejects(ledger.append({ type: 'unsigned' }), code('SIGNATURE_REQUIRED'));
      await ledger.append(signEvent({ type: 'signed' }, 'bot', keys.secretKey));
      await ledger.close();
    }
    const again = await reopen(t, path);
    await assert.rejects(again.append({ type: 'unsigned' }), code('SIGNATURE_REQUIRED'));
    await again.close();

    // From a raw connection with Stele's functions: the trigger, not TypeScript, refuses.
    const db = new Database(path);
    t.after(() => db.close());
    configureWriterConnection(db, 'normal');
    registerNativeFunctions(db, { driftThresholdMs: 5000 });
    assert.throws(
      () =>
        db
          .prepare(`INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta,
                      agent_id, signature, local_timestamp, expected_version) VALUES ('raw', 's', 't', NULL, NULL, NULL, NULL, NULL, NULL, ?, NULL)`)
          .run(Date.now()),
      /STELE:SIGNATURE_REQUIRED/,
    );
  });
});

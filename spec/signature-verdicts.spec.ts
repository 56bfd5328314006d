/**
 * Signatures verified off the writer thread (ledger/signature-checks.ts): a verdict lets the
 * trigger's function skip one Ed25519 verification only for the exact row, signature and public
 * key it was made for; anything else is verified as before, and what the pool finds invalid is
 * refused by the trigger with its own code.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { generateAgentKeyPair, signEvent, type AppendInput, type LedgerError } from '../lib/index.ts';
import { signatureVerdict } from '../lib/format/hash-bytes.ts';
import { encodeInput } from '../lib/format/event-encoding.ts';
import { signedBytesOfEvent } from '../lib/format/signing.ts';
import { appendingConnection, createLedger } from './helpers/temp-ledger.ts';

const AGENT = generateAgentKeyPair();
const OTHER = generateAgentKeyPair();

/** A ledger file with AGENT registered, and a raw appending connection whose verdict set the test fills. */
async function withVerdicts(t: Parameters<typeof createLedger>[0]) {
  const ledger = await createLedger(t, { durability: 'normal' });
  await ledger.registerAgentKey('bot', AGENT.publicKey, { keyId: 'k1' });
  await ledger.registerAgentKey('other', OTHER.publicKey, { keyId: 'k2' });
  const path = ledger.path;
  await ledger.close();
  const verdicts = new Set<string>();
  const db = appendingConnection(t, path, verdicts);
  const insert = (input: AppendInput) => {
    const e = encodeInput(input, undefined, 1 << 20);
    db.prepare(
      `INSERT INTO append_event (event_id, stream_id, type, payload, payload_meta, metadata, metadata_meta, agent_id, signature, local_timestamp, expected_version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
    ).run(e.eventId, e.streamId, e.type, e.payload, e.payloadMeta, e.metadata, e.metadataMeta, e.agentId, e.signature, e.localTimestamp);
  };
  return { verdicts, insert, count: () => db.prepare('SELECT count(*) FROM events').pluck().get() as number };
}

const verdictOf = (input: AppendInput, publicKey: string) => {
  const event = encodeInput(input, undefined, 1 << 20);
  return signatureVerdict(publicKey, event.signature!, signedBytesOfEvent(event));
};

const refusedWith = (code: string) => (error: unknown) => {
  assert.match((error as Error).message, new RegExp(`^STELE:${code}`));
  return true;
};

describe('a verdict stands for one row under one key', () => {
  test('the function takes the verdict made for this row and key, and verifies everything else itself', async (t) => {
    const { verdicts, insert, count } = await withVerdicts(t);
    const signed = signEvent({ type: 'invoice', payload: { n: 1 } }, 'bot', AGENT.secretKey);
    // A signature that does not verify, with the verdict of exactly it: taken without verifying,
    // which is why only Stele's own pool may fill the set.
    const forged = { ...signed, eventId: randomUUID(), signature: signEvent({ type: 'x' }, 'bot', AGENT.secretKey).signature };
    verdicts.add(verdictOf(forged, AGENT.publicKey));
    insert(forged);
    assert.equal(count(), 3);
    verdicts.clear();

    // The verdict of one row does not carry to a row that differs in any signed field, or to another key.
    fc.assert(
      fc.property(fc.constantFrom('payload', 'type', 'streamId', 'localTimestamp', 'eventId', 'key'), (change) => {
        const base = signEvent({ type: 'invoice', payload: { n: 2 } }, 'bot', AGENT.secretKey);
        const bad: AppendInput = { ...base, signature: signEvent({ type: 'y' }, 'bot', AGENT.secretKey).signature };
        verdicts.add(verdictOf(bad, change === 'key' ? OTHER.publicKey : AGENT.publicKey));
        const row: AppendInput =
          change === 'payload' ? { ...bad, payload: { n: 3 } } :
          change === 'type' ? { ...bad, type: 'invoice_2' } :
          change === 'streamId' ? { ...bad, streamId: 'elsewhere' } :
          change === 'localTimestamp' ? { ...bad, localTimestamp: new Date(bad.localTimestamp!.getTime() + 1) } :
          change === 'eventId' ? { ...bad, eventId: randomUUID() } : bad;
        const before = count();
        assert.throws(() => insert(row), refusedWith('SIGNATURE_INVALID'));
        assert.equal(count(), before);
        verdicts.clear();
      }),
      { numRuns: 25 },
    );
  });
});

describe('signed appends in flight', () => {
  test('many signed appends at once, some with bad signatures: the good ones commit in order, each bad one is SIGNATURE_INVALID, and the file verifies', async (t) => {
    const ledger = await createLedger(t, { durability: 'normal' });
    await ledger.registerAgentKey('bot', AGENT.publicKey, { keyId: 'k1' });
    const inputs = Array.from({ length: 300 }, (_, i) => {
      const event = signEvent({ type: 'invoice', payload: { i } }, 'bot', AGENT.secretKey);
      return i % 37 === 5 ? { ...event, payload: { i, tampered: true } } : event;
    });
    const outcomes = await Promise.allSettled(inputs.map((input) => ledger.append(input)));
    outcomes.forEach((outcome, i) => {
      if (i % 37 === 5) {
        assert.equal(outcome.status, 'rejected');
        assert.equal(((outcome as PromiseRejectedResult).reason as LedgerError).code, 'SIGNATURE_INVALID');
        assert.equal(((outcome as PromiseRejectedResult).reason as LedgerError).details.eventId, inputs[i]!.eventId);
      } else {
        assert.equal(outcome.status, 'fulfilled', String((outcome as PromiseRejectedResult).reason));
      }
    });
    const sequences = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.sequence] : []));
    assert.deepEqual(sequences, [...sequences].sort((a, b) => a - b), 'in the order they were made');
    assert.equal(sequences.length, 300 - inputs.filter((_, i) => i % 37 === 5).length);
    assert.deepEqual(await ledger.verify(), { ok: true, checked: 1 + sequences.length });
    // A batch of signed events takes the same path.
    const batch = Array.from({ length: 50 }, (_, i) => signEvent({ type: 'invoice', payload: { batch: i } }, 'bot', AGENT.secretKey));
    assert.equal((await ledger.appendBatch(batch, {})).length, 50);
    await assert.rejects(ledger.appendBatch([...batch.slice(0, 3).map((e) => ({ ...e, eventId: randomUUID() }))], {}), (error: LedgerError) => error.code === 'SIGNATURE_INVALID');
  });

  test("Stele's own events made after signed appends do not overtake them: a key revoked in the same tick revokes it after them", async (t) => {
    const ledger = await createLedger(t, { durability: 'normal' });
    await ledger.registerAgentKey('bot', AGENT.publicKey, { keyId: 'k1' });
    const signed = Array.from({ length: 20 }, (_, i) => ledger.append(signEvent({ type: 'invoice', payload: { i } }, 'bot', AGENT.secretKey)));
    const revoked = ledger.revokeAgentKey('bot', 'k1', 'rotated');
    const results = await Promise.all(signed);
    const revocation = await revoked;
    assert.ok(results.every((r) => r.sequence < revocation.sequence), 'in the order they were made');
    await assert.rejects(ledger.append(signEvent({ type: 'invoice' }, 'bot', AGENT.secretKey)), (error: LedgerError) => error.code === 'AGENT_KEY_REVOKED');
    assert.equal((await ledger.verify()).ok, true);
  });
});


/**
 * Prove one event to someone who has no access to the ledger: the ledger signs a checkpoint of
 * its Merkle tree, two witnesses cosign it, and a proof bundle (C2SP tlog-proof) of the event
 * is checked with nothing but the bundle, the event's content hash and three public keys.
 * Run with `npx tsx examples/prove-an-event.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger } from 'stele';
import { SIGNATURE_TYPE_COSIGNATURE_V1, cosignCheckpoint, eventLeaf, generateKeyPair, verifyProofBundle } from 'stele/proofs';

const origin = 'example.com/stele/payments';
const log = generateKeyPair(origin);
const witness1 = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
const witness2 = generateKeyPair('witness.example/w2', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });

const dir = mkdtempSync(join(tmpdir(), 'stele-prove-'));
const ledger = await openLedger(join(dir, 'payments.db'), { checkpoint: { origin, secretKey: log.signerKey } });
await ledger.appendBatch(Array.from({ length: 20 }, (_, i) => ({ type: 'payment_received', payload: { cents: 100 * (i + 1) } })));
const { sequence, contentHash } = await ledger.append({ type: 'refund_issued', payload: { cents: 250 } });

// The log signs its tree head; each witness checks the log's signature before cosigning.
const signed = ledger.checkpoint();
const once = cosignCheckpoint(signed, { secretKey: witness1.signerKey, logKey: log.verifierKey }).signedCheckpoint;
const cosigned = cosignCheckpoint(once, { secretKey: witness2.signerKey, logKey: log.verifierKey }).signedCheckpoint;
const bundle = ledger.proofBundle(sequence, { checkpoint: cosigned });
console.log(`bundle for #${sequence}:\n${bundle}`);
await ledger.close();
rmSync(dir, { recursive: true, force: true });

// Offline, the ledger gone: the bundle, the event's content hash and three public keys suffice.
const result = verifyProofBundle(bundle, {
  leaf: eventLeaf(contentHash),
  logKey: log.verifierKey,
  origin,
  witnessKeys: [witness1.verifierKey, witness2.verifierKey],
  quorum: 2,
});
if (!result.ok) throw new Error(`the bundle did not verify: ${result.code} ${result.message}`);
console.log(`event #${result.index + 1} is in the tree of ${result.checkpoint.size} events, cosigned by ${result.cosignatures.length} witnesses`);

// A forged event (another content hash) is refused by the same check.
const forged = verifyProofBundle(bundle, { leaf: eventLeaf('0'.repeat(64)), logKey: log.verifierKey, witnessKeys: [witness1.verifierKey, witness2.verifierKey], quorum: 2 });
console.log(`a forged event: ${forged.ok ? 'accepted?!' : `refused (${forged.code})`}`);
if (forged.ok) process.exit(1);

/**
 * Prove one event to someone who has no access to the ledger. The ledger stores a signed
 * checkpoint of its Merkle tree; two witnesses, each a real C2SP tlog-witness server on
 * 127.0.0.1, cosign it; the ledger stores their cosignatures with it; and a proof bundle (C2SP
 * tlog-proof) of the event is checked in a fresh process that has nothing but the bundle, the
 * event and three public keys (examples/offline/verify-a-proof-bundle.ts).
 * Run with `npx tsx examples/prove-an-event.ts`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger, requestCosignature, serveWitness } from 'stele';
import { SIGNATURE_TYPE_COSIGNATURE_V1, generateKeyPair } from 'stele/proofs';

const origin = 'example.com/stele/payments';
const log = generateKeyPair(origin);
const dir = mkdtempSync(join(tmpdir(), 'stele-prove-'));

// Two witnesses others could run, each knowing only the log's origin and public key.
const witnesses = await Promise.all(
  ['w1', 'w2'].map((name) =>
    serveWitness({
      state: join(dir, `${name}.db`),
      secretKey: generateKeyPair(`witness.example/${name}`, { type: SIGNATURE_TYPE_COSIGNATURE_V1 }).signerKey,
      logs: [{ origin, verifierKey: log.verifierKey }],
    }),
  ),
);
const witnessKeys = witnesses.map((witness) => witness.verifierKey);

const ledger = await openLedger(join(dir, 'payments.db'), { checkpoint: { origin, secretKey: log.signerKey, witnesses: witnessKeys } });
await ledger.appendBatch(Array.from({ length: 20 }, (_, i) => ({ type: 'payment_received', payload: { cents: 100 * (i + 1) } })));
const { sequence } = await ledger.append({ type: 'refund_issued', payload: { cents: 250 } });

// The log stores its signed tree head; each witness checks the log's signature (and, next time,
// consistency with what it cosigned before) and answers with its cosignature.
const { note } = await ledger.storeCheckpoint();
for (const witness of witnesses) {
  const { cosignedCheckpoint } = await requestCosignature(witness.url, { checkpoint: note, witnessKey: witness.verifierKey });
  await ledger.addCosignatures(cosignedCheckpoint);
}
// The bundle carries the smallest stored checkpoint that covers the event, with both cosignatures.
const bundle = ledger.proofBundle(sequence);
console.log(`bundle for #${sequence}:\n${bundle}`);
writeFileSync(join(dir, 'bundle.txt'), bundle);
const ledgerEvent = ledger.get(sequence)!;
writeFileSync(join(dir, 'event.json'), JSON.stringify(ledgerEvent));
await ledger.close();
await Promise.all(witnesses.map((witness) => witness.close()));

// Offline, in another process: the bundle, the event and three public keys suffice.
const verifier = new URL('./offline/verify-a-proof-bundle.ts', import.meta.url).pathname;
const keys = ['--log-key', log.verifierKey, '--origin', origin, ...witnessKeys.flatMap((key) => ['--witness', key]), '--quorum', '2'];
process.stdout.write(execFileSync(process.execPath, [...process.execArgv, verifier, join(dir, 'bundle.txt'), join(dir, 'event.json'), ...keys], { encoding: 'utf8' }));

// A forged event (another content hash) is refused by the same check.
writeFileSync(join(dir, 'forged.json'), JSON.stringify({ ...ledgerEvent, contentHash: '0'.repeat(64) }));
try {
  execFileSync(process.execPath, [...process.execArgv, verifier, join(dir, 'bundle.txt'), join(dir, 'forged.json'), ...keys], { encoding: 'utf8', stdio: 'pipe' });
  throw new Error('a forged event was accepted');
} catch (error) {
  const { status, stdout } = error as { status?: number; stdout?: string };
  if (status !== 1) throw error;
  process.stdout.write(`a forged event: ${stdout}`);
}
rmSync(dir, { recursive: true, force: true });

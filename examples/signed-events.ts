/**
 * Signed events from agents: each agent holds an ed25519 key; the ledger's trigger verifies every
 * signature and refuses forgeries, unknown agents and revoked keys. Run with
 * `npx tsx examples/signed-events.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAgentKeyPair, isLedgerError, openLedger, signEvent } from 'stele';

const dir = mkdtempSync(join(tmpdir(), 'stele-signed-'));
// requireSignatures: the database refuses unsigned events from now on, for good.
const ledger = await openLedger(join(dir, 'agents.db'), { requireSignatures: true });

// Key pairs are generated where the agent runs (tweetnacl: browsers and edge runtimes too);
// only the public key goes to the ledger.
const billing = generateAgentKeyPair();
await ledger.registerAgentKey('billing-bot', billing.publicKey, { keyId: '2026-11' });

const invoice = signEvent({ type: 'invoice_sent', streamId: 'invoice-7', payload: { cents: 1250n } }, 'billing-bot', billing.secretKey);
const { sequence } = await ledger.append(invoice);
console.log(`#${sequence} ${ledger.get(sequence)!.type} signed by ${ledger.get(sequence)!.agentId}`);

async function refused(label: string, attempt: Promise<unknown>): Promise<void> {
  try {
    await attempt;
    throw new Error(`${label} was accepted`);
  } catch (error) {
    if (!isLedgerError(error)) throw error;
    console.log(`${label}: refused with ${error.code}`);
  }
}

await refused('tampered amount', ledger.append({ ...invoice, eventId: 'forged-1', payload: { cents: 1n } }));
await refused('unsigned event', ledger.append({ type: 'invoice_sent', payload: { cents: 5n } }));
const stranger = generateAgentKeyPair();
await refused('unknown agent', ledger.append(signEvent({ type: 'invoice_sent' }, 'mallory', stranger.secretKey)));

await ledger.revokeAgentKey('billing-bot', '2026-11', 'key rotated');
await refused('revoked key', ledger.append(signEvent({ type: 'invoice_sent' }, 'billing-bot', billing.secretKey)));

// Events signed before the revocation stay valid: verify() re-checks every signature.
const report = await ledger.verify();
console.log(`verify: ok=${report.ok}, ${report.checked} rows checked`);
await ledger.close();
rmSync(dir, { recursive: true, force: true });
if (!report.ok) process.exit(1);

/**
 * Halt and the clearing ceremony: an operator halts the ledger during an incident; the database
 * refuses every append until two registered witnesses sign the clearing of that very halt.
 * Run with `npx tsx examples/halt-and-ceremony.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateAgentKeyPair, isLedgerError, openLedger, witnessClearHalt } from 'stele';

const dir = mkdtempSync(join(tmpdir(), 'stele-halt-'));
const ledger = await openLedger(join(dir, 'audit.db'));

const alice = generateAgentKeyPair();
const bob = generateAgentKeyPair();
await ledger.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
await ledger.registerAgentKey('bob', bob.publicKey, { role: 'witness' });
await ledger.append({ type: 'payment_received', payload: { cents: 4200 } });

await ledger.halt('suspicious replica divergence at #3');
const state = ledger.haltState();
console.log(`halted at #${state.sequence}: ${state.reason}`);

try {
  await ledger.append({ type: 'payment_received', payload: { cents: 1 } });
} catch (error) {
  if (!isLedgerError(error, 'LEDGER_HALTED')) throw error;
  console.log('append while halted: refused with LEDGER_HALTED (reads keep working:', ledger.maxSequence(), 'events)');
}

// Each witness signs the halt record (its sequence and hash) and the reason, on their own device.
const reason = 'divergence explained: replica disk was restored from backup; chain verified';
const alone = [witnessClearHalt(state.halt!, reason, 'alice', alice.secretKey)];
try {
  await ledger.clearHalt({ reason, witnesses: alone });
} catch (error) {
  if (!isLedgerError(error, 'CEREMONY_REFUSED')) throw error;
  console.log(`one witness is not enough: CEREMONY_REFUSED (quorum ${error.details.quorum})`);
}
const both = [...alone, witnessClearHalt(state.halt!, reason, 'bob', bob.secretKey)];
const ceremony = await ledger.clearHalt({ reason, witnesses: both });
console.log(`cleared by alice and bob, recorded as #${ceremony.sequence}`);

const after = await ledger.append({ type: 'payment_received', payload: { cents: 1 } });
console.log(`appends work again: #${after.sequence}`);
await ledger.close();
rmSync(dir, { recursive: true, force: true });

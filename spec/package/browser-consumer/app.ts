// A browser (or edge) app: it signs events where its key lives and checks proofs, with the
// stele/signing and stele/proofs entries only. Type-checked by spec/consumer-types.spec.ts with
// skipLibCheck off and no @types/node installed: these entries' declarations must need nothing
// of Node.
import { generateAgentKeyPair, isLedgerError, signEvent, witnessClearHalt, type AppendInput, type WitnessSignature } from 'stele/signing';
import { verifyProofBundle, type ProofBundle } from 'stele/proofs';

const keys = generateAgentKeyPair();

export function signScan(badge: string): AppendInput {
  try {
    return signEvent({ type: 'badge_scanned', streamId: 'door-3', payload: { badge, at: new Date() } }, 'kiosk-7', keys.secretKey);
  } catch (error) {
    if (isLedgerError(error, 'INVALID_EVENT')) throw new Error(`not signable: ${error.details.path}`);
    throw error;
  }
}

export function witness(halt: { sequence: number; contentHash: string }, reason: string): WitnessSignature {
  return witnessClearHalt(halt, reason, 'alice', keys.secretKey);
}

export function check(bundle: ProofBundle, leaf: Uint8Array, logKey: string): boolean {
  return verifyProofBundle(bundle, { leaf, logKey }).ok;
}

// @ts-expect-error signEvent takes the secret key as bytes
signEvent({ type: 'badge_scanned' }, 'kiosk-7', 'not-bytes');

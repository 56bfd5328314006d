/**
 * Event signatures verified on a pool thread (ledger/signature-checks.ts sends them): for each,
 * the index of the agent's key that verifies it, or -1. The same strict Ed25519 rules as the
 * trigger's function (format/ed25519.ts), so a verdict from here is the verdict the trigger
 * would reach.
 * @internal
 */
import { verifyEd25519 } from '../format/ed25519.ts';

/** One pool task: signatures with the bytes they sign and the keys that may have signed them. */
export interface SignatureTask {
  checks: Array<{ keys: readonly string[]; signed: Uint8Array; signature: string }>;
}

/** The piscina task handler. */
export default function verifySignatures(task: SignatureTask): number[] {
  return task.checks.map(({ keys, signed, signature }) => keys.findIndex((key) => verifyEd25519(key, signed, signature)));
}

/**
 * The `stele/proofs` functions the transparency commands use, and proofs as base64 text.
 * @internal
 */
import { toBase64 } from '../../proofs/bytes.ts';
export { eventLeaf, verifyProofBundle } from '../../proofs/index.ts';

/** A proof as the base64 lines of a tlog-proof. */
export function toBase64Proof(proof: readonly Uint8Array[]): string[] {
  return proof.map(toBase64);
}

/**
 * `stele/proofs`: the pure, offline-verifiable transparency-log layer. RFC 9162 Merkle trees
 * with inclusion and consistency proofs, C2SP signed notes, checkpoints, witness cosignatures
 * and tlog-proof bundles. No `node:` imports and no native code: it runs unchanged in Node,
 * browsers and edge runtimes.
 *
 * @example
 * ```ts
 * import { verifyProofBundle, eventLeaf } from 'stele/proofs';
 * const result = verifyProofBundle(bundleText, { leaf: eventLeaf(event.contentHash), logKey, witnessKeys, quorum: 2 });
 * ```
 *
 * @module stele/proofs
 */
export { ProofError, isProofError, type ProofErrorCode } from './proof-error.ts';
export {
  HASH_SIZE,
  MemoryTree,
  emptyRoot,
  leafHash,
  merkleRoot,
  nodeHash,
  rangeHash,
  rangeSubtrees,
  treeRoot,
  type SubtreeSource,
} from './merkle-tree.ts';
export { consistencyProof, inclusionProof } from './merkle-proof.ts';
export { verifyConsistency, verifyInclusion } from './merkle-verification.ts';
export {
  SIGNATURE_TYPE_COSIGNATURE_V1,
  SIGNATURE_TYPE_ED25519,
  formatSignerKey,
  formatVerifierKey,
  generateKeyPair,
  keyId,
  parseSignerKey,
  parseVerifierKey,
  type SignerKey,
  type VerifierKey,
} from './note-key.ts';
export {
  MAX_SIGNATURES,
  addSignatures,
  formatSignatureLine,
  noteSigner,
  noteVerifier,
  parseNote,
  signNote,
  verifyNote,
  type Note,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type VerifiedNote,
} from './signed-note.ts';
export { formatCheckpoint, parseCheckpoint, signCheckpoint, verifyCheckpoint, type Checkpoint, type VerifiedCheckpoint } from './checkpoint.ts';
export {
  cosignCheckpoint,
  cosignatureMessage,
  cosignatureTimestamp,
  cosignatureVerifier,
  verifyCosignedCheckpoint,
  type CosignOptions,
  type CosignResult,
  type VerifiedCosignature,
  type WitnessPolicy,
} from './cosignature.ts';
export {
  formatProofBundle,
  parseProofBundle,
  verifyProofBundle,
  type ProofBundle,
  type ProofBundleResult,
  type VerifyProofBundleOptions,
} from './proof-bundle.ts';
export { STELE_MERKLE_DOMAIN, eventLeaf, leafIndexOf } from './event-leaf.ts';

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
 * @module
 */
export { ProofError, isProofError, type ProofErrorCode } from './proof-error.ts';
export {
  HASH_SIZE,
  MemoryTree,
  consistencyProof,
  emptyRoot,
  inclusionProof,
  leafHash,
  merkleRoot,
  nodeHash,
  rangeHash,
  rangeSubtrees,
  treeRoot,
  verifyConsistency,
  verifyInclusion,
  type SubtreeSource,
} from './merkle.ts';
export {
  MAX_SIGNATURES,
  SIGNATURE_TYPE_COSIGNATURE_V1,
  SIGNATURE_TYPE_ED25519,
  addSignatures,
  formatSignatureLine,
  formatSignerKey,
  formatVerifierKey,
  generateKeyPair,
  keyId,
  noteSigner,
  noteVerifier,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  verifyNote,
  type Note,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type SignerKey,
  type VerifiedNote,
  type VerifierKey,
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

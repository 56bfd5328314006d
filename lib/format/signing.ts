/**
 * Signing helpers for callers, on tweetnacl so they are pure JavaScript. Verification inside the
 * ledger uses node:crypto (see ed25519.ts); both produce and accept the same signatures.
 *
 * Everything this file reaches runs on any platform (no `node:` module, no Buffer needed): it is
 * also the `stele/signing` entry, for browsers and edge runtimes. spec/signing-browser.spec.ts
 * bundles it for the browser and checks that it signs byte for byte as it does on Node.
 */
import nacl from 'tweetnacl';
import { toBase64 } from './portable-bytes.ts';
import { clearHaltBytes, promoteReplicaBytes, signedBytesOf } from './tagged-bytes.ts';
import { SIGNED_COLUMNS } from './columns.ts';
import { encodeInput, type EncodedEvent } from './event-encoding.ts';
import { type AppendInput } from '../event.ts';
import { newEventId } from './event-id.ts';

/**
 * An ed25519 key pair; `publicKey` is what {@link Ledger.registerAgentKey} takes.
 *
 * @example
 * ```ts
 * const { publicKey, secretKey } = generateAgentKeyPair();
 * await ledger.registerAgentKey('billing-bot', publicKey);
 * await ledger.append(signEvent({ type: 'invoice_sent', payload: { id: 7 } }, 'billing-bot', secretKey));
 * ```
 */
export interface AgentKeyPair {
  /** base64 of the raw 32-byte public key. */
  publicKey: string;
  /** The 64-byte tweetnacl secret key. Keep it secret; it never goes into the ledger. */
  secretKey: Uint8Array;
}

/**
 * Generates a key pair for an agent or a witness.
 *
 * @example
 * ```ts
 * const keys = generateAgentKeyPair();
 * await ledger.registerAgentKey('billing-bot', keys.publicKey);
 * ```
 */
export function generateAgentKeyPair(): AgentKeyPair {
  const pair = nacl.sign.keyPair();
  return { publicKey: toBase64(pair.publicKey), secretKey: pair.secretKey };
}

/**
 * The exact bytes an agent signs for an input: see "Signable bytes" in native-sql/FORMAT.md.
 * The input must already carry its `eventId`, `localTimestamp` and `agentId`.
 *
 * @example
 * ```ts
 * const bytes = signableBytes({ type: 't', eventId: 'e1', agentId: 'bot', localTimestamp: new Date() });
 * ```
 */
export function signableBytes(input: AppendInput): Uint8Array {
  if (input.eventId === undefined || input.localTimestamp === undefined || input.agentId === undefined) {
    throw new TypeError('signableBytes needs eventId, localTimestamp and agentId on the input; signEvent() fills them in');
  }
  return signedBytesOfEvent(encodeInput({ ...input, signature: input.signature ?? 'unsigned' }, undefined, Number.MAX_SAFE_INTEGER));
}

/** The bytes an encoded event's signature signs: what the trigger rebuilds from its row. @internal */
export function signedBytesOfEvent(event: EncodedEvent): Uint8Array {
  // Each signed column is the encoded field of the same name in camelCase (payload_meta → payloadMeta).
  return signedBytesOf(SIGNED_COLUMNS.map((column) => event[camelCase(column) as keyof EncodedEvent]));
}

/**
 * Signs an input as `agentId`: fills in `eventId` and `localTimestamp` when missing (both are
 * signed), and returns the input with `agentId` and `signature` set, ready for `append()`.
 *
 * @example
 * ```ts
 * const signed = signEvent({ type: 'invoice_sent', payload: { id: 7 } }, 'billing-bot', keys.secretKey);
 * await ledger.append(signed);
 * ```
 */
export function signEvent(input: AppendInput, agentId: string, secretKey: Uint8Array): AppendInput {
  const complete: AppendInput = {
    ...input,
    eventId: input.eventId ?? newEventId(),
    localTimestamp: input.localTimestamp ?? new Date(),
    agentId,
  };
  delete complete.signature;
  const signature = nacl.sign.detached(signableBytes(complete), secretKey);
  return { ...complete, signature: toBase64(signature) };
}

/**
 * A witness's signature in a {@link Ledger.clearHalt} ceremony.
 *
 * @example
 * ```ts
 * const { halt } = ledger.haltState();
 * const fromAlice: WitnessSignature = witnessClearHalt(halt!, reason, 'alice', alice.secretKey);
 * await ledger.clearHalt({ reason, witnesses: [fromAlice, fromBob] });
 * ```
 */
export interface WitnessSignature {
  witnessId: string;
  /** base64 ed25519 signature over {@link clearHaltSignableBytes}. */
  signature: string;
}

/**
 * The most witnesses a ceremony lists, and so the highest quorum a ledger can have: a quorum is
 * a handful of witnesses; a list longer than this is a mistake, not a ceremony.
 */
export const MAX_WITNESSES = 64;

/**
 * The witness list of a ceremony, checked for shape on the caller's thread (the trigger checks
 * every signature): an array of at most 64 `{ witnessId, signature }` strings.
 * @internal
 */
export function checkWitnesses(method: string, ceremony: { reason?: unknown; witnesses?: unknown }): WitnessSignature[] {
  const usage = `${method} takes { reason: string, witnesses: WitnessSignature[] }`;
  if (typeof ceremony !== 'object' || ceremony === null || typeof ceremony.reason !== 'string') throw new TypeError(usage);
  const witnesses = ceremony.witnesses;
  if (!Array.isArray(witnesses)) throw new TypeError(usage);
  if (witnesses.length > MAX_WITNESSES) {
    throw new RangeError(`${method}: at most ${MAX_WITNESSES} witnesses, got ${witnesses.length}`);
  }
  return Array.from(witnesses, (witness: Partial<WitnessSignature> | undefined, index) => {
    if (typeof witness?.witnessId !== 'string' || typeof witness.signature !== 'string') {
      throw new TypeError(`${method}: witnesses[${index}] must be { witnessId: string, signature: string }`);
    }
    return { witnessId: witness.witnessId, signature: witness.signature };
  });
}

/**
 * The bytes each witness signs to clear the halt at `haltSequence` (see FORMAT.md, "Ceremonies").
 *
 * @example
 * ```ts
 * // A witness signing with its own tooling instead of witnessClearHalt:
 * const bytes = clearHaltSignableBytes(ledger.haltState().halt!, reason);
 * const signature = Buffer.from(nacl.sign.detached(bytes, alice.secretKey)).toString('base64');
 * await ledger.clearHalt({ reason, witnesses: [{ witnessId: 'alice', signature }, fromBob] });
 * ```
 */
export function clearHaltSignableBytes(halt: { sequence: number; contentHash: string }, reason: string): Uint8Array {
  return clearHaltBytes(halt.sequence, halt.contentHash, reason);
}

/**
 * A witness signs the clearing of a halt. `halt` is `ledger.haltState().halt`.
 *
 * @example
 * ```ts
 * const { halt } = ledger.haltState();
 * const w1 = witnessClearHalt(halt!, 'disk replaced, chain verified', 'alice', alice.secretKey);
 * ```
 */
export function witnessClearHalt(
  halt: { sequence: number; contentHash: string },
  reason: string,
  witnessId: string,
  secretKey: Uint8Array,
): WitnessSignature {
  const signature = nacl.sign.detached(clearHaltSignableBytes(halt, reason), secretKey);
  return { witnessId, signature: toBase64(signature) };
}

/**
 * What witnesses of a promotion sign: the replica and the head it is promoted at.
 *
 * @example
 * ```ts
 * const subject: PromotionSubject = replicaInfo('/mnt/backup/audit.db'); // its replicaId and head
 * const fromAlice = witnessPromotion(subject, 'primary disk lost', 'alice', alice.secretKey);
 * ```
 */
export interface PromotionSubject {
  /** The replica's id (`replicaId` of {@link ReplicaInfo}). */
  replicaId: string;
  /** The replica's head: the last row the promoted ledger inherits. */
  head: { sequence: number; contentHash: string };
}

/**
 * The bytes each witness signs to promote a replica (see FORMAT.md, "Promoting a replica").
 *
 * @example
 * ```ts
 * // A witness signing with its own tooling instead of witnessPromotion:
 * const bytes = promoteReplicaSignableBytes(replicaInfo('/mnt/backup/audit.db'), reason);
 * const signature = Buffer.from(nacl.sign.detached(bytes, alice.secretKey)).toString('base64');
 * ```
 */
export function promoteReplicaSignableBytes(subject: PromotionSubject, reason: string): Uint8Array {
  return promoteReplicaBytes(subject.replicaId, subject.head.sequence, subject.head.contentHash, reason);
}

/**
 * A witness signs the promotion of a replica to a primary. `subject` is `replicaInfo(path)` of
 * the copy, checked by the witness (its head is what the new primary starts from).
 *
 * @example
 * ```ts
 * const subject = replicaInfo('/backup/audit.db');
 * const w1 = witnessPromotion(subject, 'primary disk lost', 'alice', alice.secretKey);
 * const w2 = witnessPromotion(subject, 'primary disk lost', 'bob', bob.secretKey);
 * await promoteReplica('/backup/audit.db', { reason: 'primary disk lost', witnesses: [w1, w2] });
 * ```
 */
export function witnessPromotion(subject: PromotionSubject, reason: string, witnessId: string, secretKey: Uint8Array): WitnessSignature {
  const signature = nacl.sign.detached(promoteReplicaSignableBytes(subject, reason), secretKey);
  return { witnessId, signature: toBase64(signature) };
}

function camelCase(column: string): string {
  return column.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

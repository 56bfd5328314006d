/**
 * Stele's own events, checked and built on the caller's thread: key registrations and
 * revocations in `$agents`, halts and clear-halt ceremonies in `$halt`, the taxonomy in `$types`.
 * The triggers check each again and derive the key and type tables from them in the same commit.
 * @internal
 */
import { createHash } from 'node:crypto';
import { requireOneOf, requireText } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import { requireName, systemEvent, type EncodedEvent } from '../format/event-encoding.ts';
import { checkWitnesses, type WitnessSignature } from '../format/signing.ts';
import { clearHaltBytes } from '../format/hash-bytes.ts';
import type { LedgerReader } from './reader.ts';
import type { RegisterAgentKeyOptions } from './ledger-types.ts';

export function agentKeyRegistration(agentId: unknown, publicKey: unknown, options: RegisterAgentKeyOptions = {}): EncodedEvent {
  requireText('agentId', agentId);
  requireText('publicKey', publicKey);
  const keyId = options.keyId ?? createHash('sha256').update(publicKey as string).digest('hex').slice(0, 16);
  requireText('keyId', keyId);
  const role = requireOneOf('role', options.role ?? 'agent', ['agent', 'witness']);
  return systemEvent('$agents', 'stele.agent_key_registered', { agentId, keyId, publicKey, role });
}

export function agentKeyRevocation(agentId: unknown, keyId: unknown, reason: unknown): EncodedEvent {
  requireText('agentId', agentId);
  requireText('keyId', keyId);
  if (typeof reason !== 'string') throw new TypeError('revokeAgentKey needs a reason string');
  return systemEvent('$agents', 'stele.agent_key_revoked', { agentId, keyId, reason });
}

export function haltRecord(reason: unknown): EncodedEvent {
  if (typeof reason !== 'string' || reason.length === 0) throw new TypeError('halt needs a reason');
  return systemEvent('$halt', 'stele.halted', { reason });
}

/**
 * The ceremony that clears the current halt; NOT_HALTED when there is none, CEREMONY_REFUSED when
 * the app names trusted witnesses and too few of them signed.
 */
export function clearHaltCeremony(
  ceremony: { reason: string; witnesses: WitnessSignature[] },
  reader: LedgerReader,
  trusted: readonly string[] | undefined,
): EncodedEvent {
  const witnesses = checkWitnesses('clearHalt', ceremony);
  const state = reader.haltState();
  if (!state.halt) throw LedgerError.of('NOT_HALTED');
  if (trusted) reader.requireTrustedQuorum(trusted, witnesses, clearHaltBytes(state.halt.sequence, state.halt.contentHash, ceremony.reason));
  return systemEvent('$halt', 'stele.halt_cleared', { reason: ceremony.reason, haltSequence: state.halt.sequence, witnesses });
}

/**
 * The taxonomy as a set: each type once, in UTF-8 byte order (the order SQLite compares text in,
 * which the trigger requires), so one set has one spelling in the chain.
 */
export function eventTypeSet(types: unknown): string[] {
  if (!Array.isArray(types)) throw new TypeError(`setEventTypes needs an array of event types, got ${typeof types}`);
  const unique = [...new Set(types.map((type, index) => requireName(type, 'types', { index })))];
  return unique.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** The `$types` event that records {@link eventTypeSet}`(types)`. */
export function eventTypesRecord(types: unknown): EncodedEvent {
  return systemEvent('$types', 'stele.event_types_set', { types: eventTypeSet(types) });
}

/** Whether two taxonomies are the same set. */
export function sameEventTypes(a: readonly string[], b: readonly string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((type) => set.has(type));
}

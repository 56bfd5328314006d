/**
 * Stele's own events, checked and built on the caller's thread: key registrations and
 * revocations in `$agents`, halts and clear-halt ceremonies in `$halt`. The triggers check each
 * again and derive the key table from them in the same commit.
 * @internal
 */
import { createHash } from 'node:crypto';
import { requireOneOf, requireText } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import { systemEvent, type EncodedEvent } from '../format/event-encoding.ts';
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

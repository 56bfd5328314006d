/**
 * Agent keys as the `$agents` events registered and revoked them, replayed row by row: what a
 * signature at some sequence is checked against. FORMAT.md "Keys, signatures and halts".
 * @internal
 */
import { AT, SIGNED_AT, type RawRow } from '../format/columns.ts';
import { verifyEd25519 } from '../format/ed25519.ts';
import { signedBytesOf } from '../format/hash-bytes.ts';

export interface AgentKey {
  publicKey: string;
  role: string;
  revoked: boolean;
}

/** Agent keys as the `$agents` events registered and revoked them, up to some sequence. */
export class KeyRegistry {
  readonly #agents = new Map<string, Map<string, AgentKey>>();

  apply(type: string, payload: string | null): void {
    let body: unknown;
    try {
      body = payload === null ? undefined : JSON.parse(payload);
    } catch {
      return;
    }
    if (typeof body !== 'object' || body === null) return;
    const { agentId, keyId, publicKey, role } = body as Record<string, unknown>;
    if (typeof agentId !== 'string' || typeof keyId !== 'string') return;
    let keys = this.#agents.get(agentId);
    if (type === 'stele.agent_key_registered') {
      if (typeof publicKey !== 'string' || typeof role !== 'string') return;
      if (!keys) this.#agents.set(agentId, (keys = new Map()));
      if (!keys.has(keyId)) keys.set(keyId, { publicKey, role, revoked: false });
    } else if (type === 'stele.agent_key_revoked') {
      const key = keys?.get(keyId);
      if (key) key.revoked = true;
    }
  }

  /** The key registered as (agentId, keyId), revoked or not; undefined when never registered. */
  key(agentId: string, keyId: string): AgentKey | undefined {
    return this.#agents.get(agentId)?.get(keyId);
  }

  /** True when `publicKey` is registered (revoked or not) under a role other than `role`. */
  hasOtherRole(publicKey: string, role: string): boolean {
    for (const keys of this.#agents.values()) for (const key of keys.values()) if (key.publicKey === publicKey && key.role !== role) return true;
    return false;
  }

  /** The agent's keys of `role` that are not revoked. */
  activeKeys(agentId: string, role: 'agent' | 'witness'): AgentKey[] {
    return [...(this.#agents.get(agentId)?.values() ?? [])].filter((key) => key.role === role && !key.revoked);
  }

  /** Why `row`'s signature is not valid here, or undefined when it is (or the row is unsigned). */
  faultOf(row: RawRow): string | undefined {
    const agentId = row[AT.agent_id] as string | null;
    const signature = row[AT.signature] as string | null;
    if (signature === null && agentId === null) return undefined;
    if (signature === null || agentId === null) return 'agent_id and signature must be set together';
    const keys = [...(this.#agents.get(agentId)?.values() ?? [])].filter((key) => key.role === 'agent');
    if (keys.length === 0) return `no agent key of '${agentId}' was registered before this event`;
    const active = keys.filter((key) => !key.revoked);
    if (active.length === 0) return `every key of '${agentId}' was revoked before this event`;
    let message: Uint8Array;
    try {
      message = signedBytesOf(SIGNED_AT.map((index) => row[index]));
    } catch (error) {
      return `the signed fields cannot be encoded: ${(error as Error).message}`;
    }
    if (active.some((key) => verifyEd25519(key.publicKey, message, signature))) return undefined;
    return `the signature does not verify against any active key of '${agentId}'`;
  }
}

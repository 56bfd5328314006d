/**
 * The rules the triggers enforced at append, replayed from the chain itself (the hashed rows,
 * never the derived tables): storage classes, the halt rule, the reserved streams, key
 * registrations and revocations, the taxonomy, and the two witnessed ceremonies. FORMAT.md
 * "Verifying a ledger", steps 5 to 8 (what a stored checkpoint holds is checkpoint-rules.ts's). A
 * row is judged against the state the rows before it built (a revocation signed by the key it
 * revokes is judged with that key still active), then applied.
 *
 * Why replay rather than trust the triggers: whoever can write the file can also register
 * look-alike `stele_*` functions on a raw connection, and every trigger then passes garbage.
 * @internal
 */
import { AT, type RawRow } from '../format/columns.ts';
import { isValidPublicKey, verifyEd25519 } from '../format/ed25519.ts';
import { clearHaltBytes, promoteReplicaBytes } from '../format/hash-bytes.ts';
import type { KeyRegistry } from './key-registry.ts';

/** A rule a row breaks: the fault's reason and a sentence saying which rule. */
export interface RuleFault {
  reason: 'storage_class' | 'halted' | 'reserved_stream' | 'event_type' | 'key_registration' | 'key_revocation' | 'ceremony';
  detail: string;
}

/** The newest `$halt` row so far. */
export interface HaltRow {
  sequence: number;
  contentHash: string;
  type: string;
}

const TYPES_OF: Record<string, readonly string[]> = {
  $agents: ['stele.agent_key_registered', 'stele.agent_key_revoked'],
  $halt: ['stele.halted', 'stele.halt_cleared'],
  $replication: ['stele.replica_promoted'],
  $types: ['stele.event_types_set'],
  // What a checkpoint holds is checked against the tree once the chain has passed (checkpoint-rules.ts).
  $checkpoints: ['stele.checkpoint', 'stele.checkpoint_cosigned'],
};
/** TEXT columns that may not be NULL, and those that may. */
const TEXT_NOT_NULL = [AT.event_id, AT.stream_id, AT.type, AT.prev_hash, AT.content_hash];
const TEXT_NULLABLE = [AT.payload, AT.payload_meta, AT.metadata, AT.metadata_meta, AT.agent_id, AT.signature];
/**
 * The SQL expression the chain check selects after the row's columns: 1 when the four INTEGER
 * columns hold SQLite integers. JavaScript cannot tell an integral REAL (5.0) from an integer.
 */
export const INTEGER_STORAGE_SQL =
  "(typeof(sequence) = 'integer' AND typeof(stream_version) = 'integer' AND typeof(local_timestamp) = 'integer' AND typeof(authority_timestamp) = 'integer')";
/** Where {@link INTEGER_STORAGE_SQL}'s value is in a row. */
export const INTEGER_STORAGE_AT = AT.content_hash + 1;

/**
 * How ceremonies are judged: the file's own settings, and what a verifier holds outside the file
 * (FORMAT.md "Independent witnesses").
 */
export interface WitnessRules {
  /** `ledger_meta.witness_quorum`, or the verifier's own minimum when that is higher. */
  quorum: number;
  /**
   * The first sequence written under schema 6's rules (`ledger_meta.independent_witnesses_since`):
   * from it on a ceremony counts distinct public keys too, witness keys do not change while
   * halted, and a public key holds one role. Infinity for a file before schema 6.
   */
  independentSince: number;
  /** When set, only these public keys (base64) count in a ceremony: the verifier's trusted witnesses. */
  trusted?: ReadonlySet<string>;
}

export class LedgerRules {
  readonly #keys: KeyRegistry;
  readonly #witnesses: WitnessRules;
  #halt: HaltRow | undefined;
  /** The taxonomy in force: undefined (or empty) accepts any type. */
  #types: ReadonlySet<string> | undefined;

  /** `typesPayload`: the payload of the newest `$types` row before the range, if any. */
  constructor(keys: KeyRegistry, witnesses: WitnessRules, halt: HaltRow | undefined, typesPayload: string | undefined) {
    this.#keys = keys;
    this.#witnesses = witnesses;
    this.#halt = halt;
    this.#types = typesPayload === undefined ? undefined : taxonomyOf(typesPayload);
  }

  /** The storage class of every column: TEXT where TEXT belongs (a BLOB is a fault), integers where INTEGER. */
  static storageFault(row: RawRow): RuleFault | undefined {
    if (row[INTEGER_STORAGE_AT] !== 1) return { reason: 'storage_class', detail: 'an INTEGER column holds another storage class' };
    for (const at of TEXT_NOT_NULL) if (typeof row[at] !== 'string') return { reason: 'storage_class', detail: `column ${at + 1} is not TEXT` };
    for (const at of TEXT_NULLABLE) {
      if (row[at] !== null && typeof row[at] !== 'string') return { reason: 'storage_class', detail: `column ${at + 1} is neither TEXT nor NULL` };
    }
    return undefined;
  }

  /** Why the row breaks a rule in the state before it, or undefined. */
  faultOf(row: RawRow): RuleFault | undefined {
    const streamId = row[AT.stream_id] as string;
    const halted = this.#halt?.type === 'stele.halted';
    const type = row[AT.type] as string;
    if (streamId.charCodeAt(0) !== 36 /* $ */ || streamId === '$default') {
      if (halted) return { reason: 'halted', detail: `an event of '${streamId}' was appended while the ledger was halted` };
      if (this.#types?.size && !this.#types.has(type)) return { reason: 'event_type', detail: `type '${type}' is not in the taxonomy in force` };
      return undefined;
    }
    const types = TYPES_OF[streamId];
    if (!types) return { reason: 'reserved_stream', detail: `'${streamId}' is not a stream Stele reserves` };
    if (!types.includes(type)) return { reason: 'reserved_stream', detail: `type '${type}' is not allowed in '${streamId}'` };
    if (streamId === '$types') {
      if (halted) return { reason: 'halted', detail: "the taxonomy was changed while the ledger was halted" };
      if (row[AT.payload_meta] !== null || !taxonomyOf(row[AT.payload] as string | null)) {
        return { reason: 'event_type', detail: 'a $types payload must be {"types": [...]} of non-empty strings in strictly ascending UTF-8 byte order' };
      }
      return undefined;
    }
    const body = parseObject(row[AT.payload] as string | null);
    const independent = (row[AT.sequence] as number) >= this.#witnesses.independentSince;
    switch (type) {
      case 'stele.agent_key_registered':
        return this.#registrationFault(body, independent, halted);
      case 'stele.agent_key_revoked':
        return this.#revocationFault(body, independent && halted);
      case 'stele.halt_cleared':
        return this.#clearHaltFault(body, independent);
      case 'stele.replica_promoted':
        return this.#promotionFault(body, row, independent);
      default:
        return undefined;
    }
  }

  /** Advances the state past a row that passed. */
  apply(row: RawRow): void {
    const streamId = row[AT.stream_id] as string;
    if (streamId === '$agents') this.#keys.apply(row[AT.type] as string, row[AT.payload] as string | null);
    else if (streamId === '$halt') this.#halt = { sequence: row[AT.sequence] as number, contentHash: row[AT.content_hash] as string, type: row[AT.type] as string };
    else if (streamId === '$types') this.#types = taxonomyOf(row[AT.payload] as string | null);
  }

  /** `independent`: schema 6's rules apply to this row. */
  #registrationFault(body: Record<string, unknown> | undefined, independent: boolean, halted: boolean): RuleFault | undefined {
    const fault = (detail: string): RuleFault => ({ reason: 'key_registration', detail });
    if (!body || typeof body.agentId !== 'string' || typeof body.keyId !== 'string') return fault('agentId and keyId must be strings');
    if (!isValidPublicKey(body.publicKey)) return fault(`publicKey of '${body.agentId}' is not a valid Ed25519 public key`);
    if (body.role !== 'agent' && body.role !== 'witness') return fault("role must be 'agent' or 'witness'");
    if (this.#keys.key(body.agentId, body.keyId)) return fault(`key '${body.keyId}' of '${body.agentId}' is already registered`);
    if (!independent) return undefined;
    if (this.#keys.hasOtherRole(body.publicKey as string, body.role)) return fault(`the public key of '${body.agentId}' is already registered under the other role`);
    if (halted && body.role === 'witness') return fault(`witness '${body.agentId}' was registered while the ledger was halted`);
    return undefined;
  }

  /** `independentWhileHalted`: schema 6's rules apply to this row and the ledger is halted. */
  #revocationFault(body: Record<string, unknown> | undefined, independentWhileHalted: boolean): RuleFault | undefined {
    const fault = (detail: string): RuleFault => ({ reason: 'key_revocation', detail });
    if (!body || typeof body.agentId !== 'string' || typeof body.keyId !== 'string') return fault('agentId and keyId must be strings');
    const key = this.#keys.key(body.agentId, body.keyId);
    if (!key) return fault(`key '${body.keyId}' of '${body.agentId}' was never registered`);
    if (key.revoked) return fault(`key '${body.keyId}' of '${body.agentId}' is already revoked`);
    if (independentWhileHalted && key.role === 'witness') return fault(`witness key '${body.keyId}' of '${body.agentId}' was revoked while the ledger was halted`);
    return undefined;
  }

  #clearHaltFault(body: Record<string, unknown> | undefined, independent: boolean): RuleFault | undefined {
    const fault = (detail: string): RuleFault => ({ reason: 'ceremony', detail });
    const halt = this.#halt;
    if (halt?.type !== 'stele.halted') return fault('a halt was cleared while the ledger was not halted');
    if (!body || body.haltSequence !== halt.sequence) return fault(`the ceremony names another halt than #${halt.sequence}`);
    if (typeof body.reason !== 'string') return fault('the ceremony has no reason string');
    const bytes = clearHaltBytes(halt.sequence, halt.contentHash, body.reason);
    return this.#quorumFault(body.witnesses, bytes, independent, fault);
  }

  #promotionFault(body: Record<string, unknown> | undefined, row: RawRow, independent: boolean): RuleFault | undefined {
    const fault = (detail: string): RuleFault => ({ reason: 'ceremony', detail });
    const head = (row[AT.sequence] as number) - 1;
    if (!body || body.headSequence !== head || body.headHash !== row[AT.prev_hash] || typeof body.replicaId !== 'string') {
      return fault('the promotion names another head than the row before it');
    }
    const bytes = promoteReplicaBytes(body.replicaId, head, row[AT.prev_hash] as string, String(body.reason));
    return this.#quorumFault(body.witnesses, bytes, independent, fault);
  }

  /**
   * At least the quorum of distinct witnesses, each with an active witness key that verifies its
   * signature (and is trusted, when the verifier names trusted keys); under schema 6's rules also
   * of distinct public keys, so one key pair under two names counts once.
   */
  #quorumFault(witnesses: unknown, bytes: Uint8Array, independent: boolean, fault: (detail: string) => RuleFault): RuleFault | undefined {
    if (!Array.isArray(witnesses)) return fault('the ceremony has no witnesses array');
    const { quorum, trusted } = this.#witnesses;
    const ids = new Set<string>();
    const keys = new Set<string>();
    for (const entry of witnesses) {
      if (typeof entry !== 'object' || entry === null) continue;
      const { witnessId, signature } = entry as Record<string, unknown>;
      if (typeof witnessId !== 'string' || ids.has(witnessId)) continue;
      const signer = this.#keys
        .activeKeys(witnessId, 'witness')
        .find((key) => (!trusted || trusted.has(key.publicKey)) && verifyEd25519(key.publicKey, bytes, signature));
      if (!signer) continue;
      ids.add(witnessId);
      keys.add(signer.publicKey);
    }
    const valid = independent ? Math.min(ids.size, keys.size) : ids.size;
    const what = trusted ? 'valid signatures of trusted witnesses' : independent ? 'valid signatures of distinct witness keys' : 'valid witness signatures';
    if (valid < quorum) return fault(`${valid} ${what}, the quorum is ${quorum}`);
    return undefined;
  }
}

function parseObject(payload: string | null): Record<string, unknown> | undefined {
  if (payload === null) return undefined;
  try {
    const value: unknown = JSON.parse(payload);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The set a `$types` payload names, or undefined when it is not one: a JSON object whose only
 * member `types` is an array of non-empty strings, each greater than the one before in UTF-8 byte
 * order (the trigger of schema/5-event-types.sql compares them as SQLite compares text).
 */
export function taxonomyOf(payload: string | null): ReadonlySet<string> | undefined {
  const body = parseObject(payload);
  if (!body || Object.keys(body).length !== 1 || !Array.isArray(body.types)) return undefined;
  let previous: Buffer | undefined;
  for (const type of body.types as unknown[]) {
    if (typeof type !== 'string' || type === '') return undefined;
    const bytes = Buffer.from(type);
    if (previous && Buffer.compare(previous, bytes) >= 0) return undefined;
    previous = bytes;
  }
  return new Set(body.types as string[]);
}

/**
 * A checkpoint as the file stores it: an event of the reserved stream `$checkpoints`, type
 * `stele.checkpoint` (or `stele.checkpoint_cosigned`), payload
 * `{"logKey": <vkey>, "note": <signed checkpoint note>}`
 * (native-sql/schema/10-checkpoints.sql). The triggers, verify and the writer's start read
 * payloads through this one parser, so they agree on what a well-formed one is.
 * @internal
 */
import { parseCheckpoint } from '../proofs/checkpoint.ts';
import { parseVerifierKey, SIGNATURE_TYPE_ED25519 } from '../proofs/note-key.ts';
import { parseNote, verifyNote } from '../proofs/signed-note.ts';

/** The stream of stored checkpoints; the type of a new tree's, and of an earlier one's text with more cosignatures. */
export const CHECKPOINT_STREAM = '$checkpoints';
export const CHECKPOINT_TYPE = 'stele.checkpoint';
export const COSIGNED_CHECKPOINT_TYPE = 'stele.checkpoint_cosigned';

/** A well-formed `$checkpoints` payload, parsed. Its signature is not checked here: see {@link signedByLogKey}. */
export interface StoredCheckpointPayload {
  logKey: string;
  note: string;
  /** The checkpoint text, from the origin line to the newline before the blank line. */
  body: string;
  origin: string;
  size: number;
  rootHash: Uint8Array;
}

const parsed = new Map<string, StoredCheckpointPayload | null>();

/**
 * The payload of a `$checkpoints` event, or undefined unless it is a JSON object with exactly
 * `logKey` (an Ed25519 vkey) and `note` (a signed note whose text is a checkpoint of at least one
 * leaf). The last few results are kept: a trigger asks for several parts of one payload.
 */
export function storedCheckpointPayload(payload: unknown): StoredCheckpointPayload | undefined {
  if (typeof payload !== 'string') return undefined;
  let result = parsed.get(payload);
  if (result === undefined) {
    result = parse(payload) ?? null;
    if (parsed.size >= 8) parsed.clear();
    parsed.set(payload, result);
  }
  return result ?? undefined;
}

function parse(payload: string): StoredCheckpointPayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  const { logKey, note } = value as Record<string, unknown>;
  if (keys.length !== 2 || typeof logKey !== 'string' || typeof note !== 'string') return undefined;
  try {
    if (parseVerifierKey(logKey).type !== SIGNATURE_TYPE_ED25519) return undefined;
    const body = parseNote(note).text;
    const checkpoint = parseCheckpoint(body);
    if (checkpoint.size < 1) return undefined;
    return { logKey, note, body, origin: checkpoint.origin, size: checkpoint.size, rootHash: checkpoint.rootHash };
  } catch {
    return undefined;
  }
}

/** True when the note carries a valid signature by its payload's log key (other signatures are not checked). */
export function signedByLogKey(checkpoint: StoredCheckpointPayload): boolean {
  try {
    verifyNote(checkpoint.note, [checkpoint.logKey]);
    return true;
  } catch {
    return false;
  }
}

/**
 * A C2SP tlog-witness (c2sp.org/tlog-witness) without its HTTP server: it decides what to answer
 * to one `add-checkpoint` body, and remembers, per log origin, the latest tree it cosigned
 * (`witness-state.ts`). The checks run in the order the spec states them, so each refusal has the
 * status the spec gives it; the cosignature itself is made by `cosignCheckpoint` of `lib/proofs`,
 * which checks the log's signature and the consistency from the recorded tree once more. Those
 * checks decide what a Stele witness signs; the ones here pick the HTTP status.
 * @internal
 */
import { requireKnownKeys, requireOptions } from '../arguments.ts';
import { bytesEqual } from '../proofs/bytes.ts';
import { parseCheckpoint, type Checkpoint } from '../proofs/checkpoint.ts';
import { cosignCheckpoint } from '../proofs/cosignature.ts';
import { emptyRoot } from '../proofs/merkle-tree.ts';
import { verifyConsistency } from '../proofs/merkle-verification.ts';
import { generateKeyPair, parseSignerKey, SIGNATURE_TYPE_COSIGNATURE_V1 } from '../proofs/note-key.ts';
import { ProofError } from '../proofs/proof-error.ts';
import { noteVerifier, parseNote, verifyNote, type NoteVerifier } from '../proofs/signed-note.ts';
import { formatSizeResponse, parseAddCheckpointRequest, SIZE_CONTENT_TYPE } from './add-checkpoint.ts';
import { WitnessState, type WitnessRecord } from './witness-state.ts';

/**
 * A log a witness cosigns for: its checkpoint origin and the Ed25519 signed-note key (vkey) that
 * signs its checkpoints.
 *
 * @example
 * ```ts
 * const log: WitnessedLog = { origin: 'example.com/audit', verifierKey: 'example.com/audit+1a2b3c4d+A…' };
 * ```
 */
export interface WitnessedLog {
  origin: string;
  verifierKey: string;
}

/**
 * How a witness is set up; see {@link serveWitness}.
 *
 * @example
 * ```ts
 * const options: WitnessOptions = { state: 'witness.db', secretKey: witnessSkey, logs: [{ origin, verifierKey: logVkey }] };
 * ```
 */
export interface WitnessOptions {
  /** Path of the witness's SQLite state file, created when missing. Keep it: it is the witness's memory. */
  state: string;
  /**
   * The witness's key: a cosignature/v1 skey (type 0x04, `PRIVATE+KEY+<name>+…`), or a 32-byte
   * Ed25519 seed with `name`.
   */
  secretKey: string | Uint8Array;
  /** The witness's key name; taken from the skey when `secretKey` is one (they must agree when both are given). */
  name?: string;
  /** The logs it witnesses. An origin listed twice trusts each of its keys. */
  logs: readonly WitnessedLog[];
}

/** One answer to an add-checkpoint body, as the HTTP server sends it. */
export interface WitnessAnswer {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422;
  readonly contentType: string;
  readonly body: string;
  /** The checkpoint's origin and size, when the body got that far (for the operator's log). */
  readonly origin?: string;
  readonly size?: number;
}

const TEXT = 'text/plain; charset=utf-8';

export class Witness {
  /** The witness's key name. */
  readonly name: string;
  /** Its cosignature/v1 verifier key (type 0x04): what clients and proof verifiers trust. */
  readonly verifierKey: string;
  readonly #seed: Uint8Array;
  readonly #logs: ReadonlyMap<string, readonly NoteVerifier[]>;
  readonly #state: WitnessState;
  readonly #now: () => Date;

  constructor(options: WitnessOptions, now: () => Date = () => new Date()) {
    // Validate
    requireKnownKeys(requireOptions('witness options', options), ['state', 'secretKey', 'name', 'logs'], 'witness');
    if (typeof options.state !== 'string' || options.state.length === 0) throw new TypeError('state must be the path of the witness state file');
    const { name, seed } = witnessKey(options.secretKey, options.name);
    if (!Array.isArray(options.logs) || options.logs.length === 0) throw new TypeError('logs must list at least one { origin, verifierKey }');
    const logs = new Map<string, NoteVerifier[]>();
    for (const [i, log] of (options.logs as readonly WitnessedLog[]).entries()) {
      if (typeof log !== 'object' || log === null) throw new TypeError(`logs[${i}] must be { origin, verifierKey }`);
      requireKnownKeys(log, ['origin', 'verifierKey'], `logs[${i}]`);
      if (typeof log.origin !== 'string' || log.origin.length === 0 || log.origin.includes('\n')) throw new TypeError(`logs[${i}].origin must be a non-empty line`);
      if (typeof log.verifierKey !== 'string') throw new TypeError(`logs[${i}].verifierKey must be the log's Ed25519 vkey text`);
      const list = logs.get(log.origin) ?? [];
      list.push(noteVerifier(log.verifierKey));
      logs.set(log.origin, list);
    }
    // Interpret
    this.name = name;
    this.#seed = seed;
    this.verifierKey = generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1, seed }).verifierKey;
    this.#logs = logs;
    this.#now = now;
    this.#state = new WitnessState(options.state);
  }

  /** The latest tree cosigned for `origin`, or undefined. */
  recorded(origin: string): WitnessRecord | undefined {
    return this.#state.get(origin);
  }

  /** Answers one add-checkpoint request body; the state is committed before this returns a 200. */
  addCheckpoint(body: string): WitnessAnswer {
    const request = parseAddCheckpointRequest(body);
    if ('problem' in request) return refuse(400, request.problem);
    let checkpoint: Checkpoint;
    try {
      checkpoint = parseCheckpoint(parseNote(request.checkpoint).text);
    } catch (error) {
      if (error instanceof ProofError) return refuse(400, error.message);
      throw error;
    }
    const { origin, size, rootHash } = checkpoint;
    const seen = { origin, size };
    const keys = this.#logs.get(origin);
    if (!keys) return refuse(404, `this witness does not witness the log ${JSON.stringify(origin)}`, seen);
    let logKey: NoteVerifier;
    try {
      logKey = verifyNote(request.checkpoint, keys).verified[0]!.verifier;
    } catch (error) {
      // No signature by a trusted key, a trusted key's signature that fails, or two by one key.
      if (error instanceof ProofError) return refuse(403, error.message, seen);
      throw error;
    }
    const { oldSize, consistencyProof } = request;
    if (oldSize > size) return refuse(400, `the old size ${oldSize} is larger than the checkpoint's ${size}`, seen);

    type Outcome = WitnessAnswer & { next?: WitnessRecord; evidence?: { status: number; request: string } };
    /** A refusal of a log-signed tree that contradicts the record: kept as evidence. */
    const contradicts = (answer: WitnessAnswer): Outcome => ({ ...answer, evidence: { status: answer.status, request: body } });
    const { next: _stored, evidence: _kept, ...answer } = this.#state.update(origin, (current): Outcome => {
      const recordedSize = current?.size ?? 0;
      if (oldSize !== recordedSize) {
        return { status: 409, contentType: SIZE_CONTENT_TYPE, body: formatSizeResponse(recordedSize), ...seen };
      }
      if (current && size === current.size && !bytesEqual(rootHash, current.rootHash)) {
        return contradicts(refuse(409, `the witness cosigned another tree of size ${size} for this log`, seen));
      }
      if (size === 0 && !bytesEqual(rootHash, emptyRoot())) return refuse(422, 'a checkpoint of size 0 must carry the empty tree\'s root', seen);
      if (oldSize === 0 && consistencyProof.length > 0) return refuse(422, 'the consistency proof from size 0 must be empty', seen);
      if (current && oldSize > 0) {
        try {
          verifyConsistency(oldSize, size, consistencyProof, current.rootHash, rootHash);
        } catch (error) {
          if (error instanceof ProofError) return contradicts(refuse(422, error.message, seen));
          throw error;
        }
      }
      const cosigned = cosignCheckpoint(request.checkpoint, {
        name: this.name,
        secretKey: this.#seed,
        logKey,
        origin,
        ...(current ? { previous: { origin, size: current.size, rootHash: current.rootHash }, consistencyProof } : {}),
        now: this.#now(),
      });
      const next: WitnessRecord = { origin, size, rootHash, checkpoint: request.checkpoint, cosignedAt: cosigned.timestamp };
      return { status: 200, contentType: TEXT, body: cosigned.line, ...seen, next };
    });
    return answer;
  }

  close(): void {
    this.#state.close();
  }
}

function refuse(status: WitnessAnswer['status'], message: string, seen: { origin?: string; size?: number } = {}): WitnessAnswer {
  return { status, contentType: TEXT, body: `${message}\n`, ...seen };
}

/** The witness's name and seed, from an skey of type 0x04 or a seed with a name. */
function witnessKey(secretKey: unknown, name: unknown): { name: string; seed: Uint8Array } {
  if (typeof secretKey === 'string') {
    const key = parseSignerKey(secretKey);
    if (key.type !== SIGNATURE_TYPE_COSIGNATURE_V1) {
      throw new TypeError(`secretKey must be a witness (cosignature/v1, type 0x04) skey, got type 0x${key.type.toString(16).padStart(2, '0')}: generate one with generateKeyPair(name, { type: SIGNATURE_TYPE_COSIGNATURE_V1 })`);
    }
    if (name !== undefined && name !== key.name) throw new TypeError(`name ${JSON.stringify(name)} differs from the skey's ${JSON.stringify(key.name)}`);
    return { name: key.name, seed: key.seed };
  }
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== 32) throw new TypeError('secretKey must be a witness skey string or a 32-byte seed');
  if (typeof name !== 'string') throw new TypeError('name is required when secretKey is a seed');
  return { name, seed: secretKey.slice() };
}

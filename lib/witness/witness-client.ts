/**
 * The log's side of C2SP tlog-witness: ask a witness to cosign a checkpoint (`add-checkpoint`),
 * with the global `fetch`, and turn its answer into cosignature lines or a coded error.
 */
import { requireAbortSignal, requireInteger, requireKnownKeys, requireOptions } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import { parseCheckpoint } from '../proofs/checkpoint.ts';
import { cosignatureVerifier } from '../proofs/cosignature.ts';
import { ProofError } from '../proofs/proof-error.ts';
import { parseNote, verifyNote } from '../proofs/signed-note.ts';
import { ADD_CHECKPOINT_PATH, formatAddCheckpointRequest, parseSizeResponse, SIZE_CONTENT_TYPE } from './add-checkpoint.ts';

/** Statuses by which a witness refuses a checkpoint on purpose (the others are failures). */
const REFUSALS = new Set([400, 403, 404, 409, 422]);

/**
 * What {@link requestCosignature} sends.
 *
 * @example
 * ```ts
 * const options: RequestCosignatureOptions = { checkpoint: ledger.checkpoint(), oldSize: 8, consistencyProof: ledger.consistencyProof(8) };
 * ```
 */
export interface RequestCosignatureOptions {
  /** The log's signed checkpoint (cosignatures it already carries are sent along and kept). */
  checkpoint: string;
  /** The size the witness last cosigned for this log, as far as the caller knows (default 0). */
  oldSize?: number;
  /** The consistency proof from `oldSize` to the checkpoint's size (empty from 0). */
  consistencyProof?: readonly Uint8Array[];
  /**
   * The witness's cosignature/v1 vkey. With it, the answer must hold a valid cosignature by that
   * key and only its lines are kept; without it, the lines are returned unchecked.
   */
  witnessKey?: string;
  /** Gives up after this long, milliseconds (default 10000). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * A witness's answer to a checkpoint it cosigned.
 *
 * @example
 * ```ts
 * const { signatures, cosignedCheckpoint } = await requestCosignature(url, { checkpoint });
 * const bundle = ledger.proofBundle(42, { checkpoint: cosignedCheckpoint });
 * ```
 */
export interface WitnessCosignature {
  /** The witness's signature lines, each ending with a newline. */
  readonly signatures: readonly string[];
  /** The checkpoint with those lines added (replacing older ones by the same keys). */
  readonly cosignedCheckpoint: string;
  /** The size of the cosigned tree: the size the witness now holds for this log. */
  readonly size: number;
}

/**
 * Asks a C2SP tlog-witness to cosign a checkpoint: `POST <url>/add-checkpoint` with the old size,
 * the consistency proof and the checkpoint. Resolves with the cosignature lines; rejects with
 * `WITNESS_REFUSED` when the witness says no (`details.status`; on 409 `details.recordedSize`,
 * the size it holds, to retry from with a proof from that size) or `WITNESS_FAILED` when there
 * is no usable answer (`details.reason`).
 *
 * @example
 * ```ts
 * import { requestCosignature, isLedgerError } from 'stele';
 *
 * const checkpoint = ledger.checkpoint();
 * try {
 *   const { cosignedCheckpoint } = await requestCosignature('https://witness.example', { checkpoint, witnessKey });
 * } catch (err) {
 *   if (isLedgerError(err, 'WITNESS_REFUSED') && err.details.status === 409) {
 *     const from = err.details.recordedSize as number;
 *     await requestCosignature('https://witness.example', { checkpoint, oldSize: from, consistencyProof: ledger.consistencyProof(from), witnessKey });
 *   }
 * }
 * ```
 */
export async function requestCosignature(url: string, options: RequestCosignatureOptions): Promise<WitnessCosignature> {
  // Validate
  if (typeof url !== 'string') throw new TypeError('url must be the witness\'s submission prefix, e.g. https://witness.example');
  const given = requireOptions('requestCosignature(options)', options);
  requireKnownKeys(given, ['checkpoint', 'oldSize', 'consistencyProof', 'witnessKey', 'timeoutMs', 'signal'], 'requestCosignature');
  const { checkpoint, oldSize = 0, consistencyProof = [], witnessKey, timeoutMs = 10_000, signal } = given as RequestCosignatureOptions;
  const size = checkpointSize(checkpoint);
  requireInteger('oldSize', oldSize, 0, size);
  if (!Array.isArray(consistencyProof)) throw new TypeError('consistencyProof must be an array of 32-byte hashes');
  const verifier = witnessKey === undefined ? undefined : cosignatureVerifier(witnessKey);
  requireInteger('timeoutMs', timeoutMs, 1);
  if (signal !== undefined) requireAbortSignal('signal', signal);

  const endpoint = `${url.replace(/\/+$/, '')}${ADD_CHECKPOINT_PATH}`;
  const where = { url: endpoint, size, oldSize };
  // One controller for the caller's signal and the timeout (AbortSignal.any needs Node 20.3).
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const forward = () => controller.abort(signal!.reason);
  if (signal?.aborted) forward();
  signal?.addEventListener('abort', forward, { once: true });
  let status: number;
  let contentType: string;
  let body: string;
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: formatAddCheckpointRequest({ oldSize, consistencyProof, checkpoint }),
      signal: controller.signal,
    });
    status = response.status;
    contentType = (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    body = await response.text();
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    const reason = timedOut ? `no answer within ${timeoutMs} ms` : `unreachable: ${(error as Error).message}`;
    throw withCause(LedgerError.of('WITNESS_FAILED', { ...where, reason }, reason), error);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', forward);
  }

  if (status === 200) return cosignature(checkpoint, size, body, verifier, where);
  const said = body.trim().slice(0, 300);
  if (status === 409 && contentType === SIZE_CONTENT_TYPE) {
    const recordedSize = parseSizeResponse(body);
    if (recordedSize === undefined) throw LedgerError.of('WITNESS_FAILED', { ...where, status, reason: 'a 409 size body that is not one decimal line' });
    throw LedgerError.of('WITNESS_REFUSED', { ...where, status, recordedSize }, `the witness holds size ${recordedSize}, not ${oldSize}`);
  }
  if (REFUSALS.has(status)) throw LedgerError.of('WITNESS_REFUSED', { ...where, status, reason: said }, `${status}: ${said}`);
  throw LedgerError.of('WITNESS_FAILED', { ...where, status, reason: said }, `HTTP ${status}`);
}

/**
 * The slice of a log {@link cosignWithWitness} needs: a `Ledger` opened with the `checkpoint`
 * option has both methods.
 *
 * @example
 * ```ts
 * const log: CheckpointSource = ledger; // checkpoint() and consistencyProof(from, to)
 * ```
 */
export interface CheckpointSource {
  checkpoint(): string;
  consistencyProof(fromSize: number, toSize?: number): Uint8Array[];
}

/**
 * Gets a log's current checkpoint cosigned by a witness without knowing what the witness holds:
 * it asks from `oldSize` (default 0) and, when the witness answers 409 with the size it holds,
 * asks again with the log's consistency proof from that size. A witness that holds a larger tree
 * than the log (a rolled-back file, or another copy of the log) is `WITNESS_REFUSED` as it
 * answered. Remember `size` of the result and pass it as `oldSize` next time to save a round trip.
 *
 * @example
 * ```ts
 * const ledger = await openLedger('audit.db', { checkpoint: { origin: 'example.com/audit', secretKey: logSkey } });
 * const { cosignedCheckpoint } = await cosignWithWitness(ledger, 'https://witness.example', { witnessKey });
 * const bundle = ledger.proofBundle(42, { checkpoint: cosignedCheckpoint });
 * ```
 */
export async function cosignWithWitness(
  log: CheckpointSource,
  url: string,
  options: Omit<RequestCosignatureOptions, 'consistencyProof' | 'checkpoint'> & { checkpoint?: string } = {},
): Promise<WitnessCosignature> {
  const given = requireOptions('cosignWithWitness(options)', options);
  requireKnownKeys(given, ['checkpoint', 'oldSize', 'witnessKey', 'timeoutMs', 'signal'], 'cosignWithWitness');
  const { checkpoint: fixed, oldSize: firstOld = 0, ...rest } = given as typeof options;
  let checkpoint = fixed ?? log.checkpoint();
  let oldSize = firstOld;
  // Two retries: one to learn the witness's size, one more if another client advanced it meanwhile.
  for (let attempt = 0; ; attempt++) {
    const size = checkpointSize(checkpoint);
    const consistencyProof = oldSize > 0 && oldSize <= size ? log.consistencyProof(oldSize, size) : [];
    try {
      return await requestCosignature(url, { ...rest, checkpoint, oldSize: Math.min(oldSize, size), consistencyProof });
    } catch (error) {
      const recorded = error instanceof LedgerError && error.code === 'WITNESS_REFUSED' ? error.details.recordedSize : undefined;
      if (typeof recorded !== 'number' || recorded === oldSize || attempt === 2) throw error;
      // Another client had a newer tree of this log cosigned meanwhile: the log's current checkpoint may reach it.
      if (recorded > size && fixed === undefined) checkpoint = log.checkpoint();
      if (recorded > checkpointSize(checkpoint)) throw error;
      oldSize = recorded;
    }
  }
}

/** The lines of a 200 answer, checked, and the checkpoint carrying them. */
function cosignature(checkpoint: string, size: number, body: string, verifier: ReturnType<typeof cosignatureVerifier> | undefined, where: object): WitnessCosignature {
  const failed = (reason: string, cause?: unknown) => withCause(LedgerError.of('WITNESS_FAILED', { ...where, status: 200, reason }, reason), cause);
  if (!body.startsWith('\u2014 ') || !body.endsWith('\n')) throw failed('the answer is not signature lines');
  try {
    const note = parseNote(checkpoint);
    // The answer's lines, parsed (and so checked) as the signatures of the checkpoint's own text.
    const answered = `${note.text}\n${body}`;
    const fresh = verifier ? verifyNote(answered, [verifier]).verified : parseNote(answered).signatures;
    const lines = fresh.map((s) => `${s.line}\n`);
    // A newer cosignature by a key replaces the older one the checkpoint may carry.
    const kept = note.signatures.filter((s) => !fresh.some((f) => f.name === s.name && f.keyId === s.keyId)).map((s) => `${s.line}\n`);
    const cosigned = `${note.text}\n${[...kept, ...lines].join('')}`;
    parseNote(cosigned);
    return Object.freeze({ signatures: Object.freeze(lines), cosignedCheckpoint: cosigned, size });
  } catch (error) {
    if (!(error instanceof ProofError)) throw error;
    throw failed(error.code === 'UNKNOWN_KEY' ? 'no cosignature by the witness key' : `the cosignature lines are not valid: ${error.message}`, error);
  }
}

function checkpointSize(checkpoint: unknown): number {
  if (typeof checkpoint !== 'string') throw new TypeError('checkpoint must be the signed checkpoint\'s text');
  try {
    return parseCheckpoint(parseNote(checkpoint).text).size;
  } catch (error) {
    if (error instanceof ProofError) throw new TypeError(`checkpoint is not a signed checkpoint: ${error.message}`);
    throw error;
  }
}

function withCause(error: LedgerError, cause: unknown): LedgerError {
  if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, configurable: true, writable: true });
  return error;
}

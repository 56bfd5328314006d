/**
 * The texts of C2SP tlog-witness `add-checkpoint` (c2sp.org/tlog-witness), shared by the witness
 * and its client so that both read and write one encoding:
 *
 * ```
 * old <size>               the size the client believes the witness holds; decimal, no leading zeroes
 * <base64 hash>            the consistency proof from that size, zero to 63 lines
 * <blank line>
 * <signed checkpoint>      verbatim, with the log's signature (and any others)
 * ```
 *
 * A 409 answer carries the witness's recorded size as `<size>\n` (`text/x.tlog.size`); a 200
 * answer one or more cosignature lines. Pure text handling: no `node:` import.
 * @internal
 */
import { fromBase64, toBase64 } from '../proofs/bytes.ts';
import { HASH_SIZE } from '../proofs/merkle-tree.ts';

/** The path of the call under the witness's submission prefix. */
export const ADD_CHECKPOINT_PATH = '/add-checkpoint';

/** The content type of a 409 answer's body, the witness's recorded size. */
export const SIZE_CONTENT_TYPE = 'text/x.tlog.size';

/** The most consistency proof lines a request may carry (the spec's limit: a proof of a 2^63 tree). */
export const MAX_PROOF_LINES = 63;

/** An add-checkpoint request, parsed. */
export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly consistencyProof: readonly Uint8Array[];
  /** The signed checkpoint, verbatim. */
  readonly checkpoint: string;
}

/** The request body: the old size line, the proof lines, a blank line, the checkpoint. */
export function formatAddCheckpointRequest(request: AddCheckpointRequest): string {
  const proof = request.consistencyProof.map((hash) => `${toBase64(hash)}\n`).join('');
  return `old ${request.oldSize}\n${proof}\n${request.checkpoint}`;
}

/**
 * Parses a request body, or returns why it is not one (the witness answers 400 with it). The
 * checkpoint is returned as text; its note and signatures are checked by the caller.
 */
export function parseAddCheckpointRequest(body: string): AddCheckpointRequest | { problem: string } {
  // The header ends at the first blank line; the checkpoint after it has a blank line of its own.
  const end = body.indexOf('\n\n');
  if (end < 0) return { problem: 'the body has no blank line between the old size and proof lines and the checkpoint' };
  const [oldLine, ...proofLines] = body.slice(0, end).split('\n') as [string, ...string[]];
  const match = /^old (0|[1-9][0-9]*)$/.exec(oldLine);
  if (!match) return { problem: `the first line must be "old <size>" with a decimal size without leading zeroes, got ${JSON.stringify(oldLine.slice(0, 40))}` };
  const oldSize = Number(match[1]);
  if (!Number.isSafeInteger(oldSize)) return { problem: `the old size ${match[1]} is past ${Number.MAX_SAFE_INTEGER}` };
  if (proofLines.length > MAX_PROOF_LINES) return { problem: `at most ${MAX_PROOF_LINES} consistency proof lines, got ${proofLines.length}` };
  const consistencyProof: Uint8Array[] = [];
  for (const [i, line] of proofLines.entries()) {
    const hash = fromBase64(line);
    if (hash === undefined || hash.length !== HASH_SIZE) return { problem: `consistency proof line ${i + 1} is not canonical base64 of ${HASH_SIZE} bytes` };
    consistencyProof.push(hash);
  }
  return { oldSize, consistencyProof, checkpoint: body.slice(end + 2) };
}

/** A 409 body: the recorded size and a newline. */
export function formatSizeResponse(size: number): string {
  return `${size}\n`;
}

/** The size of a 409 `text/x.tlog.size` body, or undefined when the body is not exactly one. */
export function parseSizeResponse(body: string): number | undefined {
  const match = /^(0|[1-9][0-9]*)\n$/.exec(body);
  const size = match ? Number(match[1]) : NaN;
  return Number.isSafeInteger(size) ? size : undefined;
}

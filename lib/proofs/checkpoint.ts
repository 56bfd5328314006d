/**
 * C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): a signed note whose text is a log's tree head.
 *
 * ```
 * <origin>                 a unique name of the log, e.g. example.com/ledger
 * <tree size>              ASCII decimal, no leading zeroes
 * <base64 root hash>       the RFC 9162 root of that many leaves, 32 bytes
 * [extension lines]        optional, opaque, non-empty
 * ```
 */
import { fromBase64, isBytes, toBase64 } from './bytes.ts';
import { HASH_SIZE } from './merkle-tree.ts';
import { ProofError } from './proof-error.ts';
import { signNote, textProblem, verifyNote, type NoteSigner, type NoteVerifier, type VerifiedNote } from './signed-note.ts';

/**
 * A log's tree head, the text of a checkpoint.
 *
 * @example
 * ```ts
 * const cp: Checkpoint = { origin: 'example.com/ledger', size: 3, rootHash: treeRoot(tree, 3), extensions: [] };
 * ```
 */
export interface Checkpoint {
  /** The log's identity (non-empty; should be a schema-less URL without spaces or "+"). */
  readonly origin: string;
  /** The number of leaves. Sizes past `Number.MAX_SAFE_INTEGER` are refused. */
  readonly size: number;
  /** The 32-byte RFC 9162 root of the first `size` leaves. */
  readonly rootHash: Uint8Array;
  /** Extension lines after the root (opaque; not recommended). */
  readonly extensions?: readonly string[];
}

/**
 * A checkpoint whose log signature verified.
 *
 * @example
 * ```ts
 * const { checkpoint, note } = verifyCheckpoint(signed, logKey);
 * note.unverified.length; // cosignatures and other signatures not checked here
 * ```
 */
export interface VerifiedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The verified note: its text, the log's signature, and the signatures not checked. */
  readonly note: VerifiedNote;
}

/**
 * The checkpoint's note text: origin, size and base64 root, each on a line, then any
 * extension lines.
 *
 * @example
 * ```ts
 * formatCheckpoint({ origin: 'example.org/log', size: 10, rootHash });
 * // 'example.org/log\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n'
 * ```
 */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash } = checkpoint;
  const extensions = checkpoint.extensions ?? [];
  if (typeof origin !== 'string' || origin.length === 0 || origin.includes('\n')) {
    throw new TypeError(`origin must be a non-empty line, got ${JSON.stringify(origin)}`);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be a non-negative safe integer, got ${String(size)}`);
  if (!isBytes(rootHash) || rootHash.length !== HASH_SIZE) throw new TypeError(`rootHash must be ${HASH_SIZE} bytes`);
  for (const line of extensions) {
    if (typeof line !== 'string' || line.length === 0 || line.includes('\n')) {
      throw new TypeError(`extension lines must be non-empty single lines, got ${JSON.stringify(line)}`);
    }
  }
  const text = [origin, String(size), toBase64(rootHash), ...extensions].map((l) => `${l}\n`).join('');
  const problem = textProblem(text);
  if (problem) throw new TypeError(`the checkpoint text ${problem}`);
  return text;
}

/**
 * Parses a checkpoint's note text (not a signed note: see {@link verifyCheckpoint}). Anything
 * but three or more newline-terminated lines with a non-empty origin, a canonical decimal size
 * and a canonical base64 32-byte root is `MALFORMED_CHECKPOINT`.
 *
 * @example
 * ```ts
 * const cp = parseCheckpoint('example.org/log\n10\nHA5HAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n');
 * cp.size; // 10
 * ```
 */
export function parseCheckpoint(text: string): Checkpoint {
  const problem = textProblem(text);
  if (problem) throw malformed(`its text ${problem}`);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw malformed('it needs an origin, a size and a root hash line');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw malformed('the origin line is empty');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw malformed(`the size ${JSON.stringify(sizeText)} is not a decimal without leading zeroes`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw malformed(`the size ${sizeText} is past ${Number.MAX_SAFE_INTEGER}, which this library does not handle`);
  const rootHash = fromBase64(rootText);
  if (rootHash === undefined || rootHash.length !== HASH_SIZE) throw malformed(`the root hash is not canonical base64 of ${HASH_SIZE} bytes`);
  if (extensions.some((l) => l.length === 0)) throw malformed('an extension line is empty');
  return Object.freeze({ origin, size, rootHash, extensions: Object.freeze(extensions) });
}

/**
 * Signs a checkpoint as the log: returns the signed note.
 *
 * @example
 * ```ts
 * const signed = signCheckpoint({ origin: 'example.com/ledger', size: tree.size, rootHash: tree.root() }, logSkey);
 * ```
 */
export function signCheckpoint(
  checkpoint: Checkpoint,
  signers: NoteSigner | string | ReadonlyArray<NoteSigner | string>,
): string {
  return signNote(formatCheckpoint(checkpoint), signers);
}

/**
 * Verifies a signed checkpoint's log signature and parses its text. Other signatures (witness
 * cosignatures) are left unchecked in `note.unverified`. Errors: the signed-note codes
 * (`MALFORMED_NOTE`, `BAD_SIGNATURE`, `UNKNOWN_KEY`), `MALFORMED_CHECKPOINT`, and
 * `ORIGIN_MISMATCH` when `options.origin` is given and differs.
 *
 * @example
 * ```ts
 * const { checkpoint } = verifyCheckpoint(signed, 'example.com/ledger+1a2b3c4d+A…', { origin: 'example.com/ledger' });
 * ```
 */
export function verifyCheckpoint(
  signed: string | Uint8Array,
  logKey: NoteVerifier | string,
  options: { origin?: string } = {},
): VerifiedCheckpoint {
  const note = verifyNote(signed, [logKey]);
  const checkpoint = parseCheckpoint(note.text);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw new ProofError('ORIGIN_MISMATCH', `the checkpoint is for ${JSON.stringify(checkpoint.origin)}, not ${JSON.stringify(options.origin)}`, { expected: options.origin, actual: checkpoint.origin });
  }
  return Object.freeze({ checkpoint, note });
}

function malformed(problem: string): ProofError {
  return new ProofError('MALFORMED_CHECKPOINT', `not a checkpoint: ${problem}`);
}

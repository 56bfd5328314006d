/**
 * C2SP tlog-proof (c2sp.org/tlog-proof@v1): one self-contained, offline-verifiable text that
 * proves an entry is in a log, and that witnesses saw that log's tree:
 *
 * ```
 * c2sp.org/tlog-proof@v1
 * extra <base64>            optional, opaque, NOT authenticated
 * index <N>                 zero-based leaf index, decimal without leading zeroes
 * <base64 hash>             the inclusion proof, zero or more lines, leaf's sibling first
 * <blank line>
 * <signed checkpoint>       verbatim: note text, blank line, log signature and cosignatures
 * ```
 */
import { fromBase64, isBytes, toBase64 } from './bytes.ts';
import { parseCheckpoint, verifyCheckpoint, type Checkpoint } from './checkpoint.ts';
import { verifyCosignedCheckpoint, type VerifiedCosignature } from './cosignature.ts';
import { HASH_SIZE, leafHash } from './merkle-tree.ts';
import { verifyInclusion } from './merkle-verification.ts';
import { ProofError, type ProofErrorCode } from './proof-error.ts';
import { parseNote, type NoteVerifier } from './signed-note.ts';

const HEADER = 'c2sp.org/tlog-proof@v1';

/**
 * The parts of a tlog-proof.
 *
 * @example
 * ```ts
 * const bundle: ProofBundle = { index: 41, proof: inclusionProof(tree, 41, 100), checkpoint: signedCheckpoint };
 * ```
 */
export interface ProofBundle {
  /** The zero-based leaf index (for a Stele event: sequence − 1). */
  readonly index: number;
  /** The inclusion proof of that leaf in the checkpoint's tree. */
  readonly proof: readonly Uint8Array[];
  /** The signed (and possibly cosigned) checkpoint, verbatim. */
  readonly checkpoint: string;
  /** Optional opaque data; not authenticated, never to be trusted as is. */
  readonly extra?: Uint8Array;
}

/**
 * What {@link verifyProofBundle} checks the bundle against.
 *
 * @example
 * ```ts
 * const options: VerifyProofBundleOptions = { leaf: contentHashBytes, logKey, witnessKeys: [w1, w2, w3], quorum: 2 };
 * ```
 */
export interface VerifyProofBundleOptions {
  /** The entry's leaf bytes (hashed here with `0x00 ‖ leaf`); for Stele, the 32 content-hash bytes. */
  leaf: Uint8Array;
  /** The log's Ed25519 vkey or verifier. */
  logKey: NoteVerifier | string;
  /** The log's expected checkpoint origin. */
  origin?: string;
  /** Trusted witnesses (cosignature/v1 vkeys or verifiers). */
  witnessKeys?: ReadonlyArray<NoteVerifier | string>;
  /** How many distinct witnesses must have cosigned (default: all of `witnessKeys`). */
  quorum?: number;
}

/**
 * The verdict of {@link verifyProofBundle}.
 *
 * @example
 * ```ts
 * const result: ProofBundleResult = verifyProofBundle(text, options);
 * if (!result.ok) console.log(result.code);
 * ```
 */
export type ProofBundleResult =
  | {
      readonly ok: true;
      readonly index: number;
      readonly checkpoint: Checkpoint;
      readonly cosignatures: readonly VerifiedCosignature[];
      /** The unauthenticated extra data, if any. */
      readonly extra?: Uint8Array;
    }
  | { readonly ok: false; readonly code: ProofErrorCode; readonly message: string };

/**
 * Formats a tlog-proof.
 *
 * @example
 * ```ts
 * const text = formatProofBundle({ index: 5, proof, checkpoint: signedCheckpoint });
 * // 'c2sp.org/tlog-proof@v1\nindex 5\n<hash>\n<hash>\n<hash>\n\n<checkpoint>'
 * ```
 */
export function formatProofBundle(bundle: ProofBundle): string {
  const { index, proof, checkpoint, extra } = bundle;
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`index must be a non-negative safe integer, got ${String(index)}`);
  for (const hash of proof) {
    if (!isBytes(hash) || hash.length !== HASH_SIZE) throw new TypeError(`every proof hash must be ${HASH_SIZE} bytes`);
  }
  if (extra !== undefined && !isBytes(extra)) throw new TypeError('extra must be a Uint8Array');
  parseCheckpoint(parseNote(checkpoint).text); // refuse to wrap something that is no checkpoint
  const lines = [HEADER];
  if (extra !== undefined) lines.push(`extra ${toBase64(extra)}`);
  lines.push(`index ${index}`, ...proof.map(toBase64), '');
  return `${lines.join('\n')}\n${checkpoint}`;
}

/**
 * Parses a tlog-proof; the checkpoint must be a well-formed signed checkpoint but is not
 * verified here. Layout errors are `MALFORMED_BUNDLE`; a bad checkpoint keeps its own code
 * (`MALFORMED_NOTE`, `MALFORMED_CHECKPOINT`).
 *
 * @example
 * ```ts
 * const { index, proof, checkpoint } = parseProofBundle(text);
 * ```
 */
export function parseProofBundle(text: string): ProofBundle {
  if (typeof text !== 'string') throw new TypeError('a proof bundle must be a string');
  let pos = 0;
  const nextLine = (): string => {
    const nl = text.indexOf('\n', pos);
    if (nl < 0) throw malformed('it ends before the blank line that precedes the checkpoint');
    const line = text.slice(pos, nl);
    pos = nl + 1;
    return line;
  };
  if (nextLine() !== HEADER) throw malformed(`the first line must be ${HEADER}`);
  let line = nextLine();
  let extra: Uint8Array | undefined;
  if (line.startsWith('extra ')) {
    extra = fromBase64(line.slice('extra '.length));
    if (extra === undefined) throw malformed('the extra data is not canonical base64');
    line = nextLine();
  }
  const match = /^index (0|[1-9][0-9]*)$/.exec(line);
  if (!match) throw malformed('expected "index <N>" (decimal, no leading zeroes)');
  const index = Number(match[1]);
  if (!Number.isSafeInteger(index)) throw malformed(`the index ${match[1]} is past ${Number.MAX_SAFE_INTEGER}`);
  const proof: Uint8Array[] = [];
  for (line = nextLine(); line !== ''; line = nextLine()) {
    const hash = fromBase64(line);
    if (hash === undefined || hash.length !== HASH_SIZE) throw malformed(`proof line ${proof.length + 1} is not canonical base64 of ${HASH_SIZE} bytes`);
    proof.push(hash);
  }
  const checkpoint = text.slice(pos);
  if (checkpoint.length === 0) throw malformed('the checkpoint is missing');
  parseCheckpoint(parseNote(checkpoint).text);
  return Object.freeze({ index, proof: Object.freeze(proof), checkpoint, ...(extra === undefined ? {} : { extra }) });
}

/**
 * Verifies a tlog-proof offline: the checkpoint's log signature (and origin, if given), the
 * witness quorum when `witnessKeys` are given, and the inclusion of `leaf` at `index` in the
 * checkpoint's tree. Never throws for a bad bundle: the verdict carries the
 * {@link ProofErrorCode} (`MALFORMED_BUNDLE`, `BAD_SIGNATURE`, `UNKNOWN_KEY`, `QUORUM_NOT_MET`,
 * `INCLUSION_FAILED`, …). Misuse (no leaf bytes, a quorum above the witness count) throws.
 *
 * @example
 * ```ts
 * const result = verifyProofBundle(text, { leaf: hexToBytes(event.contentHash), logKey, witnessKeys, quorum: 2 });
 * if (result.ok) console.log(`event ${result.index + 1} is in ${result.checkpoint.origin} at size ${result.checkpoint.size}`);
 * ```
 */
export function verifyProofBundle(bundle: string | ProofBundle, options: VerifyProofBundleOptions): ProofBundleResult {
  if (!isBytes(options.leaf)) throw new TypeError('leaf must be the entry\'s leaf bytes (a Uint8Array)');
  const witnessKeys = options.witnessKeys ?? [];
  if (options.quorum !== undefined && options.witnessKeys === undefined && options.quorum > 0) {
    throw new RangeError('quorum was given without witnessKeys');
  }
  try {
    const parsed = typeof bundle === 'string' ? parseProofBundle(bundle) : bundle;
    const originOption = options.origin === undefined ? {} : { origin: options.origin };
    let checkpoint: Checkpoint;
    let cosignatures: readonly VerifiedCosignature[] = [];
    if (witnessKeys.length > 0 || options.quorum !== undefined) {
      const policy = { logKey: options.logKey, witnesses: witnessKeys, ...originOption, ...(options.quorum === undefined ? {} : { quorum: options.quorum }) };
      ({ checkpoint, cosignatures } = verifyCosignedCheckpoint(parsed.checkpoint, policy));
    } else {
      ({ checkpoint } = verifyCheckpoint(parsed.checkpoint, options.logKey, originOption));
    }
    verifyInclusion(leafHash(options.leaf), parsed.index, checkpoint.size, parsed.proof, checkpoint.rootHash);
    return Object.freeze({
      ok: true as const,
      index: parsed.index,
      checkpoint,
      cosignatures,
      ...(parsed.extra === undefined ? {} : { extra: parsed.extra }),
    });
  } catch (err) {
    if (err instanceof ProofError) return Object.freeze({ ok: false as const, code: err.code, message: err.message });
    throw err;
  }
}

function malformed(problem: string): ProofError {
  return new ProofError('MALFORMED_BUNDLE', `not a tlog-proof: ${problem}`);
}

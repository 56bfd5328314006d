/**
 * The witness on HTTP: `POST /add-checkpoint` of C2SP tlog-witness on node:http, answered by
 * {@link Witness}. A request is read whole (at most {@link MAX_BODY_BYTES}), then decided and
 * committed synchronously: better-sqlite3 blocks the event loop for the transaction, so the
 * requests of one process are serialized by construction and the state's IMMEDIATE transaction
 * serializes them with any other process on the same file.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requireFunction, requireInteger, requireKnownKeys, requireOptions } from '../arguments.ts';
import { ADD_CHECKPOINT_PATH } from './add-checkpoint.ts';
import { Witness, type WitnessAnswer, type WitnessOptions } from './witness.ts';

/** The largest request body accepted: a checkpoint with 100 signatures and 63 proof lines is under 20 KiB. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * What {@link serveWitness} takes: the witness itself, and where it listens.
 *
 * @example
 * ```ts
 * const options: WitnessServerOptions = {
 *   state: 'witness.db', secretKey: witnessSkey, logs: [{ origin: 'example.com/audit', verifierKey: logVkey }],
 *   host: '127.0.0.1', port: 7380,
 * };
 * ```
 */
export interface WitnessServerOptions extends WitnessOptions {
  /** The address to listen on (default `127.0.0.1`; put a TLS proxy in front to serve others). */
  host?: string;
  /** The TCP port (default 0: a free port, which `url` names). */
  port?: number;
  /** Called after each add-checkpoint answer is sent, for the operator's log. */
  onAnswer?: (answer: WitnessAnswerInfo) => void;
}

/**
 * One answer of the witness, as {@link WitnessServerOptions.onAnswer} sees it.
 *
 * @example
 * ```ts
 * const onAnswer = (a: WitnessAnswerInfo) => console.log(a.status, a.origin, a.size);
 * ```
 */
export interface WitnessAnswerInfo {
  /** 200 cosigned; 400, 403, 404, 409, 422 refused as the spec says; 500 the state could not be written. */
  readonly status: number;
  readonly origin?: string;
  readonly size?: number;
  /** The answer's body: the cosignature line, the recorded size, or why it was refused. */
  readonly body: string;
}

/**
 * A running witness; see {@link serveWitness}.
 *
 * @example
 * ```ts
 * const witness = await serveWitness(options);
 * console.log(witness.url, witness.verifierKey);
 * await witness.close();
 * ```
 */
export interface WitnessServer {
  /** The submission prefix, e.g. `http://127.0.0.1:7380`: clients POST to `<url>/add-checkpoint`. */
  readonly url: string;
  /** The witness's key name. */
  readonly name: string;
  /** Its cosignature/v1 verifier key (type 0x04), the key clients and proof verifiers trust. */
  readonly verifierKey: string;
  /** The latest tree it cosigned for `origin`, from its state file, or undefined. */
  recorded(origin: string): { readonly size: number; readonly rootHash: Uint8Array; readonly checkpoint: string; readonly cosignedAt: number } | undefined;
  /** Stops listening, ends open connections and closes the state file. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Runs a C2SP tlog-witness (c2sp.org/tlog-witness) over HTTP: `POST /add-checkpoint` with the old
 * size, a consistency proof and a log's signed checkpoint. It answers 200 with its cosignature/v1
 * line only after the log's signature (a configured key for that origin) and the consistency
 * from the tree it last cosigned have verified, and after the new tree is committed to its state
 * file; otherwise 404 (unknown origin), 403 (no valid signature by the log's key), 400 (bad
 * body, old size past the checkpoint's), 409 (the old size is not the one it holds, which the
 * `text/x.tlog.size` body gives; or another root for the same size), 422 (the proof fails).
 * It never cosigns a smaller tree than, or a tree inconsistent with, one it cosigned, across
 * restarts, as long as its state file is kept.
 *
 * @example
 * ```ts
 * import { serveWitness } from 'stele';
 * import { generateKeyPair, SIGNATURE_TYPE_COSIGNATURE_V1 } from 'stele/proofs';
 *
 * const { signerKey } = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
 * const witness = await serveWitness({
 *   state: 'witness.db', secretKey: signerKey, port: 7380,
 *   logs: [{ origin: 'example.com/audit', verifierKey: logVkey }],
 * });
 * console.log(`cosigning at ${witness.url} as ${witness.verifierKey}`);
 * ```
 */
export async function serveWitness(options: WitnessServerOptions): Promise<WitnessServer> {
  // Validate
  const given = requireOptions('serveWitness(options)', options);
  requireKnownKeys(given, ['state', 'secretKey', 'name', 'logs', 'host', 'port', 'onAnswer'], 'serveWitness');
  const { host = '127.0.0.1', port = 0, onAnswer, ...witnessOptions } = given as WitnessServerOptions;
  if (typeof host !== 'string' || host.length === 0) throw new TypeError('host must be an address to listen on, e.g. 127.0.0.1');
  requireInteger('port', port, 0, 65535);
  if (onAnswer !== undefined) requireFunction('onAnswer', onAnswer);

  const witness = new Witness(witnessOptions);
  const server = createServer((request, response) => {
    handle(witness, request, response, onAnswer);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    witness.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }).finally(() => witness.close()));
  return Object.freeze({
    url,
    name: witness.name,
    verifierKey: witness.verifierKey,
    recorded: (origin: string) => witness.recorded(origin),
    close,
    [Symbol.asyncDispose]: close,
  });
}

function handle(witness: Witness, request: IncomingMessage, response: ServerResponse, onAnswer: ((answer: WitnessAnswerInfo) => void) | undefined): void {
  const path = new URL(request.url ?? '/', 'http://witness').pathname;
  if (path !== ADD_CHECKPOINT_PATH) return send(response, { status: 404, body: `no such endpoint; POST ${ADD_CHECKPOINT_PATH}\n` });
  if (request.method !== 'POST') return send(response, { status: 405, body: `${ADD_CHECKPOINT_PATH} takes POST\n`, headers: { allow: 'POST' } });
  const chunks: Buffer[] = [];
  let length = 0;
  request.on('data', (chunk: Buffer) => {
    length += chunk.length;
    if (length <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  request.on('end', () => {
    if (length > MAX_BODY_BYTES) return send(response, { status: 413, body: `the body is over ${MAX_BODY_BYTES} bytes\n`, headers: { connection: 'close' } });
    let answer: WitnessAnswer | WitnessAnswerInfo;
    try {
      const body = decode(Buffer.concat(chunks));
      answer = body === undefined ? { status: 400, body: 'the body is not valid UTF-8\n' } : witness.addCheckpoint(body);
    } catch (error) {
      // The state file could not be read or written: nothing was cosigned, the client may retry.
      answer = { status: 500, body: `the witness could not record the checkpoint: ${(error as Error).message}\n` };
    }
    send(response, { status: answer.status, body: answer.body, ...('contentType' in answer ? { headers: { 'content-type': answer.contentType } } : {}) });
    onAnswer?.(Object.freeze({ status: answer.status, origin: answer.origin, size: answer.size, body: answer.body }));
  });
  request.on('error', () => response.destroy());
}

function send(response: ServerResponse, answer: { status: number; body: string; headers?: Record<string, string> }): void {
  response.writeHead(answer.status, { 'content-type': 'text/plain; charset=utf-8', ...answer.headers });
  response.end(answer.body);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The body as text, or undefined when it is not UTF-8 (a replacement character would only fail the signature later). */
function decode(bytes: Uint8Array): string | undefined {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

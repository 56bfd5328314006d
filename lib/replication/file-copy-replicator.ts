/**
 * {@link FileCopyReplicator}: a copy of the ledger in another Stele file, kept by a thread of its own.
 */
import { resolve as resolvePath } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fromWire, LedgerError, toWire } from '../errors.ts';
import { workerScript } from '../runtime/worker-script.ts';
import type { CopierReply, CopierRequest, CopierStartup } from './file-copy-protocol.ts';
import type { PrimarySource, ReplicationReceipt, Replicator, VerificationResult } from './replicator.ts';
import { verifyReplicaFile } from './replica-tools.ts';

/**
 * Options of {@link FileCopyReplicator}.
 *
 * @example
 * ```ts
 * const usb = new FileCopyReplicator('/mnt/usb/audit.db', { id: 'usb' });
 * const ledger = await openLedger('audit.db', { replicas: [usb] });
 * ```
 */
export interface FileCopyReplicatorOptions {
  /** Names the copy in receipts and health; defaults to the copy's absolute path. */
  id?: string;
}

/**
 * Keeps a copy of the ledger in another SQLite file (another disk, a synced folder, a backup
 * volume). The copy is itself a Stele ledger: rows arrive verbatim, hashes included, and its own
 * guards refuse any row that does not extend its chain, so it can only ever be a prefix of its
 * primary. Each propagation copies only the new rows, commits them with an fsync and then
 * confirms; a crash leaves the copy at an earlier consistent head. A copy whose row differs from
 * the primary's is reported as REPLICA_DIVERGED and never overwritten; one ahead of its primary
 * as REPLICA_AHEAD. Each replicator runs a thread of its own, so copies to slow disks proceed in
 * parallel and never on the ledger's writer.
 *
 * @example
 * ```ts
 * import { openLedger, FileCopyReplicator } from 'stele';
 * const ledger = await openLedger('audit.db', {
 *   replicas: [new FileCopyReplicator('/mnt/usb/audit.db'), new FileCopyReplicator('/mnt/nas/audit.db')],
 *   replication: 'sync', // append() resolves once both copies hold the event
 * });
 * ```
 */
export class FileCopyReplicator implements Replicator {
  readonly id: string;
  /** Absolute path of the copy. */
  readonly path: string;
  #primary: string | undefined;
  #worker: Worker | undefined;
  #nextId = 0;
  readonly #waiting = new Map<number, (reply: CopierReply) => void>();
  #lastSequence = 0;

  constructor(path: string, options: FileCopyReplicatorOptions = {}) {
    if (typeof path !== 'string' || path.length === 0 || path.includes('\0')) throw new TypeError('FileCopyReplicator needs a file path');
    if (typeof options !== 'object' || options === null) throw new TypeError('FileCopyReplicator options must be an object');
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0)) throw new TypeError('id must be a non-empty string');
    this.path = resolvePath(path);
    this.id = options.id ?? this.path;
  }

  async attach(primary: PrimarySource): Promise<void> {
    const primaryPath = resolvePath(primary.path);
    if (primaryPath === this.path) throw new RangeError(`a replica cannot be its own primary: ${this.path}`);
    this.#primary = primaryPath;
  }

  async propagate(upTo: number): Promise<ReplicationReceipt> {
    if (this.#primary === undefined) return this.#receipt('not_configured', this.#lastSequence);
    const reply = await this.#request(upTo);
    this.#lastSequence = reply.sequence;
    return reply.error ? this.#receipt('failed', reply.sequence, fromWire(reply.error)) : this.#receipt('confirmed', reply.sequence);
  }

  async verify(): Promise<VerificationResult> {
    if (this.#primary === undefined) throw new TypeError('FileCopyReplicator.verify: not attached to a primary');
    return verifyReplicaFile(this.#primary, this.path, this.id);
  }

  async close(): Promise<void> {
    this.#primary = undefined;
    const worker = this.#worker;
    if (!worker) return;
    this.#worker = undefined;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.postMessage({ kind: 'close' } satisfies CopierRequest);
    await exited;
  }

  #receipt(status: ReplicationReceipt['status'], sequence: number, error?: LedgerError): ReplicationReceipt {
    return { replicaId: this.id, sequence, status, at: new Date(), ...(error ? { error } : {}) };
  }

  /** One request to the thread, started on first use and again after it died. */
  #request(upTo: number): Promise<CopierReply> {
    const worker = (this.#worker ??= this.#start());
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      worker.postMessage({ kind: 'propagate', id, upTo } satisfies CopierRequest);
    });
  }

  #start(): Worker {
    const script = workerScript('replication/file-copy-worker');
    const startup: CopierStartup = { replicaPath: this.path, primaryPath: this.#primary! };
    const worker = new Worker(script.filename, { workerData: { ...script.workerData, ...startup } });
    worker.on('message', (reply: CopierReply) => {
      const resolve = this.#waiting.get(reply.id);
      this.#waiting.delete(reply.id);
      resolve?.(reply);
    });
    const died = (cause: string) => {
      if (this.#worker === worker) this.#worker = undefined;
      const error = LedgerError.of('REPLICATION_FAILED', { path: this.path }, `the replication thread stopped: ${cause}`);
      for (const [id, resolve] of this.#waiting) resolve({ id, sequence: this.#lastSequence, error: toWire(error) });
      this.#waiting.clear();
    };
    worker.on('error', (error) => died(error.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
    return worker;
  }
}

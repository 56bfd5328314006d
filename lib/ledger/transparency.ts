/**
 * The ledger as a transparency log: signed C2SP checkpoints of its Merkle tree
 * (`native-sql/schema/8-merkle-tree.sql`), RFC 9162 inclusion and consistency proofs read from the stored
 * subtrees, and tlog-proof bundles that prove one event offline with `stele/proofs`.
 * `Ledger` delegates its transparency methods here.
 * @internal
 */
import type Database from 'better-sqlite3';
import { requireInteger } from '../arguments.ts';
import { LedgerError } from '../errors.ts';
import type { ResolvedOptions } from '../options.ts';
import { parseCheckpoint, signCheckpoint } from '../proofs/checkpoint.ts';
import { consistencyProof, inclusionProof } from '../proofs/merkle-proof.ts';
import { treeRoot } from '../proofs/merkle-tree.ts';
import { formatProofBundle } from '../proofs/proof-bundle.ts';
import { noteSigner, parseNote, type NoteSigner } from '../proofs/signed-note.ts';
import { openReadConnection } from '../sqlite/connections.ts';
import { MerkleStore } from '../sqlite/merkle-store.ts';
import { CHECKPOINT_STREAM, storedCheckpointPayload } from '../sqlite/stored-checkpoint.ts';
import type { StoredCheckpoint } from './ledger-types.ts';

export class Transparency {
  readonly #path: string;
  readonly #options: ResolvedOptions;
  #db: Database.Database | undefined;
  #store: MerkleStore | undefined;
  #signer: NoteSigner | undefined;

  constructor(path: string, options: ResolvedOptions) {
    this.#path = path;
    this.#options = options;
  }

  /** The stored tree, on a read-only connection of its own opened at first use. */
  #tree(): MerkleStore {
    if (!this.#store) {
      this.#db = openReadConnection(this.#path);
      this.#store = new MerkleStore(this.#db);
    }
    return this.#store;
  }

  size(): number {
    return this.#tree().size;
  }

  root(size?: number): Uint8Array {
    const tree = this.#tree();
    return treeRoot(tree, size === undefined ? tree.size : this.#size('treeSize', size, 0, tree.size));
  }

  checkpoint(): string {
    const config = this.#options.checkpoint;
    if (!config) throw new TypeError('checkpoint() needs the checkpoint option: openLedger(path, { checkpoint: { origin, secretKey } })');
    this.#signer ??= config.signer ?? noteSigner(config.secretKey!);
    const tree = this.#tree();
    const size = tree.size;
    return signCheckpoint({ origin: config.origin, size, rootHash: treeRoot(tree, size) }, this.#signer);
  }

  inclusionProof(sequence: number, treeSize?: number): Uint8Array[] {
    const tree = this.#tree();
    const stored = tree.size;
    const size = treeSize === undefined ? stored : this.#size('treeSize', treeSize, 1, stored);
    requireInteger('sequence', sequence, 1);
    if (sequence > size) throw new RangeError(`sequence ${sequence} is not in the tree of size ${size}`);
    return inclusionProof(tree, sequence - 1, size);
  }

  consistencyProof(fromSize: number, toSize?: number): Uint8Array[] {
    const tree = this.#tree();
    const stored = tree.size;
    const to = toSize === undefined ? stored : this.#size('toSize', toSize, 0, stored);
    const from = this.#size('fromSize', fromSize, 0, to);
    return from === 0 ? [] : consistencyProof(tree, from, to);
  }

  /**
   * The stored checkpoints, one per tree size in ascending order, each the newest row of its text:
   * the one with every cosignature stored for it.
   */
  storedCheckpoints(): StoredCheckpoint[] {
    this.#tree();
    const rows = this.#db!.prepare<[string], { sequence: number; payload: string }>(
      'SELECT sequence, payload FROM events WHERE stream_id = ? ORDER BY sequence',
    );
    const bySize = new Map<number, StoredCheckpoint>();
    for (const { sequence, payload } of rows.iterate(CHECKPOINT_STREAM)) {
      const stored = storedCheckpointPayload(payload);
      if (stored) bySize.set(stored.size, { sequence, treeSize: stored.size, note: stored.note });
    }
    return [...bySize.values()].sort((a, b) => a.treeSize - b.treeSize);
  }

  /** The log's verifier key: configured, or derived from the configured secret key. */
  logKey(): string {
    const config = this.#options.checkpoint;
    if (!config?.logKey) {
      throw new TypeError('storing checkpoints needs the log\'s verifier key: openLedger(path, { checkpoint: { origin, secretKey } }), or with a signer also logKey');
    }
    return config.logKey;
  }

  proofBundle(sequence: number, options: { checkpoint?: string } = {}): string {
    const checkpoint = options.checkpoint ?? this.#storedCovering(sequence) ?? this.checkpoint();
    let size: number;
    let rootHash: Uint8Array;
    try {
      ({ size, rootHash } = parseCheckpoint(parseNote(checkpoint).text));
    } catch (error) {
      throw new TypeError(`proofBundle: options.checkpoint is not a signed checkpoint: ${(error as Error).message}`);
    }
    if (size > this.#tree().size || !sameBytes(this.root(size), rootHash)) {
      // A bundle whose proof cannot reach the checkpoint's root would only fail its verifier.
      throw LedgerError.of('WRITER_INCONSISTENCY', { check: 'checkpoint', sequence: size, reason: 'this file does not contain the checkpoint\'s tree' });
    }
    return formatProofBundle({ index: sequence - 1, proof: this.inclusionProof(sequence, size), checkpoint });
  }

  /** The smallest stored checkpoint that covers `sequence`, with its cosignatures. */
  #storedCovering(sequence: number): string | undefined {
    if (!Number.isSafeInteger(sequence)) return undefined; // the proof below names the error
    return this.storedCheckpoints().find((stored) => stored.treeSize >= sequence)?.note;
  }

  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#store = undefined;
  }

  #size(name: string, value: number, min: number, max: number): number {
    requireInteger(name, value, min);
    if (value > max) throw new RangeError(`${name} ${value} is past the ledger's ${max} events`);
    return value;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

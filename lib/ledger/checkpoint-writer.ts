/**
 * Stored checkpoints, written: the log signs the tree at its current size and appends the note
 * to `$checkpoints` (native-sql/schema/10-checkpoints.sql checks it against the file's tree);
 * witnesses' cosignatures are stored as the same checkpoint text again with more signature lines
 * (`stele.checkpoint_cosigned`); and with `checkpoint.every` the ledger does this by itself after
 * the commits that call for it.
 * `Ledger` delegates its checkpoint appends here.
 * @internal
 */
import { LedgerError } from '../errors.ts';
import type { AppendResult } from '../event.ts';
import { systemEvent, type EncodedEvent } from '../format/event-encoding.ts';
import { cosignatureVerifier } from '../proofs/cosignature.ts';
import { parseCheckpoint } from '../proofs/checkpoint.ts';
import { MAX_SIGNATURES, parseNote, verifyNote } from '../proofs/signed-note.ts';
import { requireKnownKeys, requireOptions, requireVerifierKey } from '../arguments.ts';
import type { ResolvedOptions } from '../options.ts';
import { CHECKPOINT_STREAM, CHECKPOINT_TYPE, COSIGNED_CHECKPOINT_TYPE } from '../sqlite/stored-checkpoint.ts';
import type { StoredCheckpoint } from './ledger-types.ts';
import type { Transparency } from './transparency.ts';

/** How the ledger appends its own events (`Appends.appendSystem`). */
type AppendSystem = (build: () => EncodedEvent) => Promise<AppendResult>;

export class CheckpointWriter {
  readonly #transparency: Transparency;
  readonly #options: ResolvedOptions;
  readonly #appendSystem: AppendSystem;
  readonly #warn: (error: unknown) => void;
  readonly #timer: NodeJS.Timeout | undefined;
  /** The sequence of the newest checkpoint's row, once known. */
  #newestSequence: number | undefined;
  #storing: Promise<unknown> | undefined;
  #closed = false;

  /** `warn`: a checkpoint the ledger meant to store by itself was not stored. */
  constructor(transparency: Transparency, options: ResolvedOptions, appendSystem: AppendSystem, warn: (error: unknown) => void) {
    this.#transparency = transparency;
    this.#options = options;
    this.#appendSystem = appendSystem;
    this.#warn = warn;
    const ms = options.checkpoint?.every?.ms;
    if (ms !== undefined) {
      this.#timer = setInterval(() => this.#storeIfGrown(1), ms);
      this.#timer.unref();
    }
  }

  /** Signs the tree at its current size and appends the checkpoint. */
  async store(): Promise<StoredCheckpoint> {
    const logKey = this.#transparency.logKey();
    const note = this.#transparency.checkpoint();
    // The size the note names: the writer may commit more events meanwhile.
    const treeSize = parseCheckpoint(parseNote(note).text).size;
    const { sequence } = await this.#appendSystem(() => systemEvent(CHECKPOINT_STREAM, CHECKPOINT_TYPE, { logKey, note }));
    this.#newestSequence = sequence;
    return { sequence, treeSize, note };
  }

  /**
   * Adds the cosignatures of `note` that verify under a witness key to the stored checkpoint with
   * the same text. Resolves to the stored checkpoint, unchanged when there was nothing new.
   */
  async addCosignatures(note: string, options: { witnessKeys?: readonly string[] }): Promise<StoredCheckpoint> {
    requireKnownKeys(requireOptions('addCosignatures(note, options)', options), ['witnessKeys'], 'addCosignatures');
    const witnessKeys = options.witnessKeys;
    if (typeof note !== 'string') throw new TypeError(`addCosignatures needs the cosigned checkpoint's note text, got ${typeof note}`);
    const keys = witnessKeys ?? this.#options.checkpoint?.witnesses;
    if (!keys || !Array.isArray(keys) || keys.length === 0) {
      throw new TypeError('addCosignatures needs the witnesses\' verifier keys: addCosignatures(note, { witnessKeys }), or checkpoint.witnesses');
    }
    const verifiers = keys.map((key, i) => cosignatureVerifier(requireVerifierKey(`witnessKeys[${i}]`, key)));
    const given = parseNote(note);
    const stored = this.#transparency.storedCheckpoints().find((c) => parseNote(c.note).text === given.text);
    if (!stored) throw LedgerError.of('CHECKPOINT_REFUSED', { reason: 'no stored checkpoint has this text' }, 'store the checkpoint before its cosignatures');
    const have = new Set(parseNote(stored.note).signatures.map((s) => s.line));
    const fresh = given.signatures.filter((s) => !have.has(s.line));
    if (fresh.length === 0) return stored;
    const unknown = fresh.filter((line) => !verifiers.some((v) => v.name === line.name && v.keyId === line.keyId));
    if (unknown.length > 0) {
      throw LedgerError.of('CHECKPOINT_REFUSED', { reason: 'a signature by a key that is not among the witness keys', names: unknown.map((line) => line.name) });
    }
    try {
      verifyNote(`${given.text}\n${fresh.map((line) => `${line.line}\n`).join('')}`, verifiers);
    } catch (error) {
      throw LedgerError.of('CHECKPOINT_REFUSED', { reason: `a cosignature does not verify: ${(error as Error).message}` });
    }
    const lines = [...have, ...fresh.map((s) => s.line)];
    if (lines.length > MAX_SIGNATURES) throw LedgerError.of('CHECKPOINT_REFUSED', { reason: `a note holds at most ${MAX_SIGNATURES} signatures` });
    const cosigned = `${given.text}\n${lines.map((line) => `${line}\n`).join('')}`;
    const logKey = this.#transparency.logKey();
    const { sequence } = await this.#appendSystem(() => systemEvent(CHECKPOINT_STREAM, COSIGNED_CHECKPOINT_TYPE, { logKey, note: cosigned }));
    return { sequence, treeSize: stored.treeSize, note: cosigned };
  }

  /** After each commit: with `checkpoint.every.events`, stores one once that many events followed the newest. */
  afterCommit(head: number): void {
    const events = this.#options.checkpoint?.every?.events;
    if (events !== undefined) this.#storeIfGrown(events, head);
  }

  /** Stops storing by itself; resolves once a store under way has ended. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#storing;
  }

  /** Stores a checkpoint once at least `events` events followed the newest stored one, unless one is being stored. */
  #storeIfGrown(events: number, head: number = this.#transparency.size()): void {
    if (this.#closed || this.#storing) return;
    this.#newestSequence ??= this.#transparency.storedCheckpoints().at(-1)?.sequence ?? 0;
    const after = head - this.#newestSequence;
    if (after < events) return;
    // Its own append, after the one that triggered it: never part of an app's request.
    this.#storing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => (this.#closed ? undefined : this.store()))
      .catch((error: unknown) => {
        if (!this.#closed) this.#warn(error);
      })
      .finally(() => (this.#storing = undefined));
  }
}

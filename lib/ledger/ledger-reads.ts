/**
 * The read API of a ledger: synchronous reads on the caller's thread, over the read-only
 * connection of {@link LedgerReader}, each consistent with every acknowledged append.
 */
import { EventEmitter } from 'node:events';
import { requireInteger, requireKnownKeys, requireOptions, requireString } from '../arguments.ts';
import { DEFAULT_STREAM, type LedgerHead } from '../event.ts';
import type { HaltState, LedgerEvents, ReadAllOptions, ReadStreamOptions, StoredCheckpoint } from './ledger-types.ts';
import type { LedgerReader } from './reader.ts';
import { queryEvents, type EventQuery } from './event-query.ts';
import type { EventMap, EventOf, UntypedEvents } from './typed-events.ts';
import type { Transparency } from './transparency.ts';

const MAX_CONTINUITY_RANGE = 10_000_000;

/**
 * What every open ledger reads: events by sequence, id and stream, the head, continuity, the
 * halt state, the recorded taxonomy, and the transparency log's checkpoints and proofs.
 * {@link Ledger} extends it with appends, ceremonies, replication and lifecycle.
 * Typed with an {@link EventMap}, its reads return {@link EventOf} that map.
 *
 * @example
 * ```ts
 * function summary(ledger: LedgerReads): string {
 *   const head = ledger.head();
 *   return head ? `#${head.sequence} ${head.contentHash}` : 'empty';
 * }
 * ```
 */
export class LedgerReads<Events extends EventMap = UntypedEvents> extends EventEmitter<LedgerEvents> {
  readonly #reader: LedgerReader;
  readonly #assertOpen: () => void;
  readonly #transparency: Transparency;

  /** @internal Use {@link openLedger}. */
  constructor(reader: LedgerReader, assertOpen: () => void, transparency: Transparency) {
    super();
    this.#reader = reader;
    this.#assertOpen = assertOpen;
    this.#transparency = transparency;
  }

  /** The reader, once the ledger is known to be open (LEDGER_CLOSED otherwise). */
  #open(): LedgerReader {
    this.#assertOpen();
    return this.#reader;
  }

  /** The event at `sequence`, or undefined. */
  get(sequence: number): EventOf<Events> | undefined {
    const reader = this.#open();
    return reader.get(requireInteger('sequence', sequence, 1)) as EventOf<Events> | undefined;
  }

  /** The event with this id, or undefined. */
  getByEventId(eventId: string): EventOf<Events> | undefined {
    const reader = this.#open();
    return reader.getByEventId(requireString('eventId', eventId)) as EventOf<Events> | undefined;
  }

  /** Events in sequence order, from `from` (default 1), at most `limit`. */
  readAll(options: ReadAllOptions = {}): EventOf<Events>[] {
    const reader = this.#open();
    requireKnownKeys(requireOptions('readAll(options)', options), ['from', 'limit'], 'readAll');
    const from = options.from === undefined ? 1 : requireInteger('from', options.from, 1);
    return reader.readAll(from, limitOf(options.limit)) as EventOf<Events>[];
  }

  /**
   * A lazy query over stored events, paged by sequence on the read connection: memory stays at
   * one page (`pageSize`, default 500 rows) however many events it yields, so it suits exports
   * and rebuilds of any size, where `readAll` suits small reads. Options are checked when it is
   * called; pages are read as the loop pulls, each one consistent, with appends going on
   * beside. `to` defaults to the head when iteration starts. To resume after an event, start
   * again `from` its `sequence + 1` (the same cursor `subscribe` takes). `since`/`until` filter on
   * the authority timestamp within the scan (no index: bound big ledgers with `from`/`to`).
   *
   * @example
   * ```ts
   * let cents = 0n;
   * for (const event of ledger.events({ streamId: 'acct-1', types: ['deposited'] })) cents += event.payload.cents;
   * const lastTen = [...ledger.events({ reverse: true, limit: 10 })];
   * ```
   */
  events(query: EventQuery = {}): Generator<EventOf<Events>, void, undefined> {
    return queryEvents(this.#reader, query, this.#assertOpen) as Generator<EventOf<Events>, void, undefined>;
  }

  /**
   * A stream's events in version order. STREAM_NOT_FOUND when the stream has no event.
   * Events appended without a streamId are in {@link DEFAULT_STREAM}.
   */
  readStream(streamId: string, options: ReadStreamOptions = {}): EventOf<Events>[] {
    const reader = this.#open();
    requireString('streamId', streamId);
    requireKnownKeys(requireOptions('readStream(options)', options), ['fromVersion', 'limit'], 'readStream');
    const fromVersion = options.fromVersion === undefined ? 0 : requireInteger('fromVersion', options.fromVersion, 0);
    return reader.readStream(streamId, fromVersion, limitOf(options.limit)) as EventOf<Events>[];
  }

  /** Version of the stream's last event, or undefined when the stream has none. */
  streamVersion(streamId: string = DEFAULT_STREAM): number | undefined {
    const reader = this.#open();
    return reader.streamVersion(requireString('streamId', streamId));
  }

  /** The newest event's sequence and content hash, or undefined when the ledger is empty. */
  head(): LedgerHead | undefined {
    return this.#open().head();
  }

  /** The highest sequence; 0 when the ledger is empty. */
  maxSequence(): number {
    return this.head()?.sequence ?? 0;
  }

  /** Whether every sequence in [start, end] exists, and which do not. */
  verifyContinuity(start: number, end: number): { continuous: boolean; missing: number[] } {
    const reader = this.#open();
    requireInteger('start', start, 1);
    requireInteger('end', end, start);
    if (end - start > MAX_CONTINUITY_RANGE) {
      throw new RangeError(`verifyContinuity checks at most ${MAX_CONTINUITY_RANGE} sequences at once; split the range`);
    }
    const missing = reader.missingBetween(start, end);
    return { continuous: missing.length === 0, missing };
  }

  /** Whether the ledger is halted, since when and why. */
  haltState(): HaltState {
    return this.#open().haltState();
  }

  /**
   * The taxonomy recorded in the ledger ({@link Ledger.setEventTypes}), in UTF-8 byte order: the
   * only event types the database accepts outside Stele's own streams. `[]` when the newest record
   * accepts any type again, undefined when no taxonomy was ever recorded.
   *
   * @example
   * ```ts
   * const types = ledger.recordedEventTypes();
   * if (types && !types.includes('refund_issued')) await ledger.setEventTypes([...types, 'refund_issued']);
   * ```
   */
  recordedEventTypes(): string[] | undefined {
    return this.#open().recordedEventTypes();
  }

  /**
   * The signed C2SP checkpoint of the ledger's Merkle tree at its current size (`<origin>`,
   * size, base64 root, then the log's signature line), signed with the `checkpoint` option's key.
   *
   * @example
   * ```ts
   * const ledger = await openLedger('audit.db', { checkpoint: { origin: 'example.com/audit', secretKey: logSkey } });
   * const signed = ledger.checkpoint(); // keep it elsewhere; pass it back as trustedCheckpoint
   * ```
   */
  checkpoint(): string {
    this.#assertOpen();
    return this.#transparency.checkpoint();
  }

  /**
   * The RFC 9162 inclusion proof of the event at `sequence` (leaf `sequence - 1`) in the tree of
   * `treeSize` events (default: all): the sibling hashes, 32 bytes each, the leaf's first.
   *
   * @example
   * ```ts
   * const proof = ledger.inclusionProof(42);
   * verifyInclusion(leafHash(eventLeaf(event.contentHash)), 41, ledger.maxSequence(), proof, root);
   * ```
   */
  inclusionProof(sequence: number, treeSize?: number): Uint8Array[] {
    this.#assertOpen();
    return this.#transparency.inclusionProof(sequence, treeSize);
  }

  /**
   * The RFC 9162 consistency proof from the tree of `fromSize` events to that of `toSize`
   * (default: all): it shows the larger tree extends the smaller one. Empty from size 0 or for
   * equal sizes.
   *
   * @example
   * ```ts
   * const proof = ledger.consistencyProof(old.size);
   * verifyConsistency(old.size, ledger.maxSequence(), old.rootHash, newRoot, proof);
   * ```
   */
  consistencyProof(fromSize: number, toSize?: number): Uint8Array[] {
    this.#assertOpen();
    return this.#transparency.consistencyProof(fromSize, toSize);
  }

  /**
   * The checkpoints the ledger stored (`storeCheckpoint()`, `checkpoint.every`), one per tree size
   * in ascending order, each with every cosignature stored for it.
   *
   * @example
   * ```ts
   * const newest = ledger.storedCheckpoints().at(-1);
   * if (newest) console.log(`events 1-${newest.treeSize} are checkpointed`, newest.note);
   * ```
   */
  storedCheckpoints(): StoredCheckpoint[] {
    this.#assertOpen();
    return this.#transparency.storedCheckpoints();
  }

  /**
   * A C2SP tlog-proof of one event: its leaf index, its inclusion proof and a signed checkpoint
   * (`options.checkpoint`; by default the smallest stored checkpoint that covers the event, with
   * its cosignatures, or else a new one). Anyone with the event's
   * content hash and the log's key verifies it offline with `verifyProofBundle` of `stele/proofs`.
   *
   * @example
   * ```ts
   * const bundle = ledger.proofBundle(42, { checkpoint: cosigned });
   * verifyProofBundle(bundle, { leaf: eventLeaf(ledger.get(42)!.contentHash), logKey, witnessKeys, quorum: 2 });
   * ```
   */
  proofBundle(sequence: number, options: { checkpoint?: string } = {}): string {
    this.#assertOpen();
    requireKnownKeys(requireOptions('proofBundle(options)', options), ['checkpoint'], 'proofBundle');
    return this.#transparency.proofBundle(sequence, options);
  }
}

function limitOf(limit: unknown): number {
  // SQLite treats a negative LIMIT as no limit.
  return limit === undefined ? -1 : requireInteger('limit', limit, 0);
}

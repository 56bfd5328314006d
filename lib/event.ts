/**
 * The public shapes of events going in and coming out. How an input is checked and encoded is
 * `format/event-encoding.ts`.
 */

/**
 * The stream of events appended without a `streamId`: one shared stream, so expected-version
 * checks work on it like on any other. Stream ids starting with `$` are reserved for Stele.
 *
 * @example
 * ```ts
 * await ledger.append({ type: 'app_started' }); // no streamId
 * ledger.readStream(DEFAULT_STREAM).at(-1)?.type; // 'app_started'
 * ```
 */
export const DEFAULT_STREAM = '$default';

/**
 * Expected version of a stream: any state, absent, present, or exactly at version `n`.
 *
 * @example
 * ```ts
 * const version = ledger.streamVersion('acct-1') ?? 'no_stream';
 * await ledger.append({ type: 'withdrawn', streamId: 'acct-1', payload: { cents: 200n }, expectedVersion: version });
 * ```
 */
export type ExpectedVersion = 'any' | 'no_stream' | 'stream_exists' | number;

/**
 * An event to append.
 *
 * @example
 * ```ts
 * await ledger.append({ type: 'order_placed', streamId: 'order-42', payload: { total: 9.5 } });
 * ```
 */
export interface AppendInput<Type extends string = string, Payload = unknown> {
  /** What happened, e.g. `'order_placed'`. Non-empty, at most 256 characters. */
  type: Type;
  /** A value Stele stores faithfully (plain JSON, Date, BigInt, Map, Set, undefined, Buffer, typed arrays, ArrayBuffer; see README "What values can be stored"), or refuses with INVALID_EVENT naming its path. */
  payload?: Payload;
  /** Like payload; for correlation ids, actors, request info. */
  metadata?: unknown;
  /** Stream the event belongs to; {@link DEFAULT_STREAM} when omitted. */
  streamId?: string;
  /** Concurrency check against the stream's current version; `'any'` when omitted. */
  expectedVersion?: ExpectedVersion;
  /** Idempotency key: appending the same id with the same content returns the original result. */
  eventId?: string;
  /** The caller's clock at the time of the event; the time of `append()` when omitted. */
  localTimestamp?: Date;
  /** Signing agent; set together with `signature`, usually by {@link signEvent}. */
  agentId?: string;
  /** base64 ed25519 signature over {@link signableBytes} of this input, by a registered key of `agentId`. */
  signature?: string;
}

/**
 * What the ledger assigned to an appended event.
 *
 * @example
 * ```ts
 * const result = await ledger.append({ type: 'user_login', streamId: 'user-ada' });
 * console.log(result.sequence, result.streamVersion, result.contentHash, result.authorityTimestamp.toISOString());
 * ```
 */
export interface AppendResult {
  sequence: number;
  eventId: string;
  streamId: string;
  streamVersion: number;
  contentHash: string;
  prevHash: string;
  authorityTimestamp: Date;
  localTimestamp: Date;
}

/**
 * A stored event, decoded.
 *
 * @example
 * ```ts
 * for (const event of ledger.readStream('acct-1')) {
 *   console.log(event.streamVersion, event.type, event.payload, event.agentId ?? 'unsigned');
 * }
 * ```
 */
export interface LedgerEvent<Type extends string = string, Payload = unknown> extends AppendResult {
  type: Type;
  payload: Payload;
  metadata: unknown;
  /** Signing agent, when the event is signed. */
  agentId: string | undefined;
  /** ed25519 signature (base64), when the event is signed. */
  signature: string | undefined;
}

/**
 * The newest event's place in the chain.
 *
 * @example
 * ```ts
 * const head = ledger.head(); // { sequence, contentHash }; undefined while the ledger is empty
 * if (head) await writeFile('audit.head.json', JSON.stringify(head));
 * // Next session: opening fails with WRITER_INCONSISTENCY unless that row is still there, unchanged.
 * const reopened = await openLedger('audit.db', { expectedHead: JSON.parse(await readFile('audit.head.json', 'utf8')) });
 * ```
 */
export interface LedgerHead {
  sequence: number;
  contentHash: string;
}

/**
 * How payload and metadata values become stored text and back. `native-sql/FORMAT.md` ("Stored
 * values") specifies the same rules for readers in other languages.
 *
 * A value is stored faithfully or refused, never changed on the way: it is first copied into a
 * snapshot (each property read once, so a getter cannot answer one thing to the check and another
 * to the encoder), every kind in it is checked against the supported list, and a value that needs
 * type annotations is decoded again from the very text that will be stored and compared with the
 * snapshot before the event leaves the caller's thread.
 * @internal
 */
import { describeValue } from '../errors.ts';
import { codec, CUSTOM } from './superjson-codec.ts';
import { firstDifference } from './value-comparison.ts';
import { UndecodableValueError, UnencodableValueError } from './value-errors.ts';
import { snap, type Walk } from './value-snapshot.ts';

export { UndecodableValueError, UnencodableValueError, ValueTooLargeError } from './value-errors.ts';

/** A value as stored: JSON text (queryable with json_extract) plus superjson's type annotations. */
export interface EncodedValue {
  json: string | null;
  meta: string | null;
}

/**
 * Encodes a payload or metadata value. `undefined` is stored as NULL. What cannot be stored
 * faithfully is refused (UnencodableValueError with the path): functions, symbols, promises, weak
 * collections, class instances, DataView, RegExp, Error, Invalid Dates, array holes, cycles and
 * nesting deeper than 256 levels. A ledger that quietly changes part of an event is worse than
 * one that says no.
 *
 * The result is computed from a snapshot that reads each property of the value exactly once.
 */
export function encodeValue(value: unknown, root: string, maxBytes = Number.MAX_SAFE_INTEGER): EncodedValue {
  if (value === undefined) return { json: null, meta: null };
  const walk: Walk = { root, segments: [], plain: true, reservedKeyAt: null, ancestors: new Set(), maxBytes };
  const snapshot = snap(value, 0, walk);
  // The fast path, taken by every plain-JSON value, needs no round trip. It is faithful by
  // construction: the snapshot holds only strings, booleans, null, finite numbers other than -0,
  // arrays without holes (fresh Array instances, no extra properties) and fresh plain objects with
  // own data properties and string keys. For exactly these JSON.stringify writes every element and
  // key (no toJSON, no getter, no replacer), numbers in their shortest round-trip form and lone
  // surrogates as \u escapes, and JSON.parse gives back the same numbers, strings, keys and
  // structure (own `__proto__` keys included, since JSON.parse defines properties rather than
  // assigning them). Anything else in the value cleared `walk.plain` and takes the checked path.
  if (walk.plain) return { json: JSON.stringify(snapshot), meta: null };
  if (walk.reservedKeyAt !== null) {
    const key = walk.reservedKeyAt.slice(walk.reservedKeyAt.lastIndexOf('.') + 1);
    throw new UnencodableValueError(
      `a key named ${key} cannot be stored in a value that also holds a Date, BigInt, Map, Set, typed array, ArrayBuffer, undefined or non-finite number (superjson refuses it as a prototype-pollution risk)`,
      walk.reservedKeyAt,
    );
  }
  let encoded: EncodedValue;
  try {
    const { json, meta } = codec.serialize(snapshot as never);
    encoded = { json: JSON.stringify(json), meta: meta === undefined ? null : JSON.stringify(meta) };
  } catch (error) {
    throw new UnencodableValueError(`the value cannot be encoded (${(error as Error)?.message ?? String(error)})`, root);
  }
  // The round trip: decode the text exactly as it will be stored and compare with the snapshot.
  // Whatever a future superjson (or a kind this file forgot) does, a value that would read back
  // differently is refused here, on the caller's thread, naming the first difference.
  let decoded: unknown;
  try {
    decoded = decodeValue(encoded.json, encoded.meta);
  } catch (error) {
    throw new UnencodableValueError(`the value would not decode (${(error as Error)?.message ?? String(error)})`, root);
  }
  const difference = firstDifference(decoded, snapshot, root);
  if (difference !== null) throw new UnencodableValueError(`the value would not read back as it is (${difference.reason})`, difference.path);
  return encoded;
}


/**
 * Decodes what {@link encodeValue} stored. Throws (SyntaxError, UndecodableValueError or
 * superjson's Error) for text Stele did not write; decodeRow turns that into UNDECODABLE_EVENT.
 */
export function decodeValue(json: string | null, meta: string | null): unknown {
  if (json === null) {
    if (meta !== null) throw new UndecodableValueError('type annotations without a value (the value column is NULL)');
    return undefined;
  }
  const parsed: unknown = JSON.parse(json);
  if (meta === null) return parsed;
  const annotations: unknown = JSON.parse(meta);
  if (typeof annotations !== 'object' || annotations === null || Array.isArray(annotations)) {
    throw new UndecodableValueError(`the annotations must be a JSON object, got ${describeValue(annotations)}`);
  }
  const { values } = annotations as { values?: unknown };
  if (values !== undefined) pointBufferAnnotations(values);
  return codec.deserialize({ json: parsed as never, meta: annotations as never });
}

/**
 * superjson writes a Buffer as `["typed-array", "Buffer"]` (from its constructor's name) but its
 * decoder knows only the nine typed arrays of its own list, so such rows, including those written
 * before this codec, would never read. Each such annotation in the tree is pointed at Stele's
 * decode-only Buffer transformer. The tree (superjson's `meta.values`) is a leaf `[type]`, a node
 * `[type, { key: tree }]`, or a record `{ key: tree }`.
 */
function pointBufferAnnotations(tree: unknown): void {
  if (Array.isArray(tree)) {
    const type: unknown = tree[0];
    if (Array.isArray(type) && type.length === 2 && type[0] === 'typed-array' && type[1] === 'Buffer') tree[0] = ['custom', CUSTOM.Buffer];
    if (typeof tree[1] === 'object' && tree[1] !== null) for (const child of Object.values(tree[1] as object)) pointBufferAnnotations(child);
  } else if (typeof tree === 'object' && tree !== null) {
    for (const child of Object.values(tree)) pointBufferAnnotations(child);
  }
}

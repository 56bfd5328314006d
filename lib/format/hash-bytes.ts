/**
 * The exact bytes Stele hashes and signs: one tagged-field encoding under versioned domains.
 * `native-sql/FORMAT.md` specifies the same rules for readers in other languages; change neither
 * without the other (and a new domain version).
 * @internal
 */
import { hash } from 'node:crypto';
import { HASHED_COLUMNS, SIGNED_COLUMNS, type EventRow } from './columns.ts';

/** Hash domain of the v1 event content hash. Part of the hashed bytes. */
export const EVENT_HASH_DOMAIN = 'stele/event/v1';
/** Hash domain of the bytes an agent signs for an event. */
export const SIGNABLE_DOMAIN = 'stele/signable/v1';
/** Domain of the bytes witnesses sign to clear a halt. */
export const CLEAR_HALT_DOMAIN = 'stele/ceremony/clear-halt/v1';
export const PROMOTE_REPLICA_DOMAIN = 'stele/ceremony/promote-replica/v1';

const INTEGER_COLUMNS = new Set<number>(
  ['sequence', 'stream_version', 'local_timestamp', 'authority_timestamp'].map((name) =>
    HASHED_COLUMNS.indexOf(name as (typeof HASHED_COLUMNS)[number]),
  ),
);

const TAG_NULL = 0x00;
const TAG_INTEGER = 0x01;
const TAG_TEXT = 0x02;

/**
 * The v1 content hash of one event row: SHA-256 over the domain line, then each column of
 * {@link HASHED_COLUMNS} as a tagged field: NULL = 0x00; INTEGER = 0x01 + 8-byte big-endian
 * two's complement; TEXT = 0x02 + 4-byte big-endian UTF-8 length + UTF-8 bytes. Lowercase hex.
 *
 * Integer columns are encoded as integers whatever SQLite storage class the value arrived in:
 * inside an INSTEAD OF trigger a bound JS number is REAL, and `1.0` must hash like `1`.
 */
export function eventHash(values: ReadonlyArray<unknown>): string {
  if (values.length !== HASHED_COLUMNS.length) {
    throw new TypeError(`stele_event_hash takes ${HASHED_COLUMNS.length} arguments, got ${values.length}`);
  }
  return hash('sha256', taggedBytes(EVENT_HASH_DOMAIN, values, INTEGER_COLUMNS), 'hex');
}

function toInteger(value: unknown, column: string): bigint | number {
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) return value;
  throw new TypeError(`${column} must be an integer, got ${String(value)}`);
}

/** 8-byte big-endian two's complement; safe integers are written without a BigInt allocation. */
function writeInt64(buffer: Buffer, value: bigint | number, offset: number): number {
  if (typeof value === 'bigint') return buffer.writeBigInt64BE(value, offset);
  buffer.writeInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buffer.writeUInt32BE(value >>> 0, offset + 4);
  return offset + 8;
}

/** Recomputes the content hash of a stored row from its columns. */
export function rowHash(row: EventRow): string {
  return eventHash(HASHED_COLUMNS.map((column) => row[column]));
}

const SIGNED_INTEGER_COLUMNS = new Set<number>([SIGNED_COLUMNS.indexOf('local_timestamp')]);

const DOMAIN_LINES = new Map<string, Buffer>();

/**
 * Tagged field encoding shared by every Stele byte string: a domain line, then each field as
 * NULL = 0x00; INTEGER = 0x01 + 8-byte big-endian; TEXT = 0x02 + 4-byte big-endian length + UTF-8.
 */
export function taggedBytes(domain: string, values: ReadonlyArray<unknown>, integerFields: ReadonlySet<number>): Buffer {
  let domainBytes = DOMAIN_LINES.get(domain);
  if (!domainBytes) DOMAIN_LINES.set(domain, (domainBytes = Buffer.from(domain + '\n', 'utf8')));
  let size = domainBytes.length;
  const texts: (string | null)[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      size += 1;
      texts[i] = null;
    } else if (integerFields.has(i)) {
      size += 9;
      texts[i] = null;
    } else {
      const text = String(value);
      texts[i] = text;
      size += 5 + Buffer.byteLength(text, 'utf8');
    }
  }
  const buffer = Buffer.allocUnsafe(size);
  let offset = domainBytes.copy(buffer, 0);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const text = texts[i] ?? null;
    if (value === null || value === undefined) {
      buffer[offset++] = TAG_NULL;
    } else if (text === null) {
      buffer[offset++] = TAG_INTEGER;
      offset = writeInt64(buffer, toInteger(value, `field ${i}`), offset);
    } else {
      buffer[offset++] = TAG_TEXT;
      const length = buffer.write(text, offset + 4, 'utf8');
      buffer.writeUInt32BE(length, offset);
      offset += 4 + length;
    }
  }
  return buffer;
}

/** The bytes an agent signs for an event, from its stored column values in {@link SIGNED_COLUMNS} order. */
export function signedBytesOf(values: ReadonlyArray<unknown>): Buffer {
  return taggedBytes(SIGNABLE_DOMAIN, values, SIGNED_INTEGER_COLUMNS);
}

/** The bytes each witness signs to clear the halt recorded at `haltSequence`. */
export function clearHaltBytes(haltSequence: number, haltContentHash: string, reason: string): Buffer {
  return taggedBytes(CLEAR_HALT_DOMAIN, [haltSequence, haltContentHash, reason], new Set([0]));
}

/** The bytes each witness signs to promote replica `replicaId` at the given head to a primary. */
export function promoteReplicaBytes(replicaId: string, headSequence: number, headContentHash: string, reason: string): Buffer {
  return taggedBytes(PROMOTE_REPLICA_DOMAIN, [replicaId, headSequence, headContentHash, reason], new Set([1]));
}
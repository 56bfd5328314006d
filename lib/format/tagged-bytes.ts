/**
 * The tagged-field encoding of every byte string Stele hashes or signs, under versioned domains:
 * the bytes only, with no hash function, so that the signing helpers run on any platform (the
 * `stele/signing` entry) and the content hash of hash-bytes.ts builds on the very same bytes.
 * `native-sql/FORMAT.md` specifies the same rules for readers in other languages; change neither
 * without the other (and a new domain version).
 * @internal
 */
import { SIGNED_COLUMNS } from './columns.ts';
import { allocBytes, utf8Length, writeUtf8 } from './portable-bytes.ts';

/** Hash domain of the v1 event content hash. Part of the hashed bytes. */
export const EVENT_HASH_DOMAIN = 'stele/event/v1';
/** Hash domain of the bytes an agent signs for an event. */
export const SIGNABLE_DOMAIN = 'stele/signable/v1';
/** Domain of the bytes witnesses sign to clear a halt. */
export const CLEAR_HALT_DOMAIN = 'stele/ceremony/clear-halt/v1';
export const PROMOTE_REPLICA_DOMAIN = 'stele/ceremony/promote-replica/v1';

const TAG_NULL = 0x00;
const TAG_INTEGER = 0x01;
const TAG_TEXT = 0x02;

function toInteger(value: unknown, column: string): bigint | number {
  if (typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value))) return value;
  throw new TypeError(`${column} must be an integer, got ${String(value)}`);
}

/** 8-byte big-endian two's complement; safe integers are written without a BigInt allocation. */
function writeInt64(bytes: Uint8Array, value: bigint | number, offset: number): number {
  let high: number;
  let low: number;
  if (typeof value === 'bigint') {
    if (BigInt.asIntN(64, value) !== value) throw new RangeError(`${value} does not fit in 64 bits`);
    high = Number(BigInt.asIntN(32, value >> 32n));
    low = Number(BigInt.asUintN(32, value));
  } else {
    high = Math.floor(value / 0x1_0000_0000);
    low = value >>> 0;
  }
  writeUint32(bytes, high >>> 0, offset);
  writeUint32(bytes, low, offset + 4);
  return offset + 8;
}

function writeUint32(bytes: Uint8Array, value: number, offset: number): void {
  bytes[offset] = value >>> 24;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

const DOMAIN_LINES = new Map<string, Uint8Array>();

function domainLine(domain: string): Uint8Array {
  let line = DOMAIN_LINES.get(domain);
  if (!line) {
    const text = domain + '\n';
    line = allocBytes(utf8Length(text));
    writeUtf8(line, text, 0);
    DOMAIN_LINES.set(domain, line);
  }
  return line;
}

/**
 * Tagged field encoding shared by every Stele byte string: a domain line, then each field as
 * NULL = 0x00; INTEGER = 0x01 + 8-byte big-endian; TEXT = 0x02 + 4-byte big-endian length + UTF-8.
 */
export function taggedBytes(domain: string, values: ReadonlyArray<unknown>, integerFields: ReadonlySet<number>): Uint8Array {
  const domainBytes = domainLine(domain);
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
      size += 5 + utf8Length(text);
    }
  }
  const bytes = allocBytes(size);
  bytes.set(domainBytes, 0);
  let offset = domainBytes.length;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const text = texts[i] ?? null;
    if (value === null || value === undefined) {
      bytes[offset++] = TAG_NULL;
    } else if (text === null) {
      bytes[offset++] = TAG_INTEGER;
      offset = writeInt64(bytes, toInteger(value, `field ${i}`), offset);
    } else {
      bytes[offset++] = TAG_TEXT;
      const length = writeUtf8(bytes, text, offset + 4);
      writeUint32(bytes, length, offset);
      offset += 4 + length;
    }
  }
  return bytes;
}

const SIGNED_INTEGER_COLUMNS = new Set<number>([SIGNED_COLUMNS.indexOf('local_timestamp')]);

/** The bytes an agent signs for an event, from its stored column values in {@link SIGNED_COLUMNS} order. */
export function signedBytesOf(values: ReadonlyArray<unknown>): Uint8Array {
  return taggedBytes(SIGNABLE_DOMAIN, values, SIGNED_INTEGER_COLUMNS);
}

/** The bytes each witness signs to clear the halt recorded at `haltSequence`. */
export function clearHaltBytes(haltSequence: number, haltContentHash: string, reason: string): Uint8Array {
  return taggedBytes(CLEAR_HALT_DOMAIN, [haltSequence, haltContentHash, reason], new Set([0]));
}

/** The bytes each witness signs to promote replica `replicaId` at the given head to a primary. */
export function promoteReplicaBytes(replicaId: string, headSequence: number, headContentHash: string, reason: string): Uint8Array {
  return taggedBytes(PROMOTE_REPLICA_DOMAIN, [replicaId, headSequence, headContentHash, reason], new Set([1]));
}

/**
 * The content hash of an event: SHA-256 (node:crypto) over the tagged bytes of tagged-bytes.ts.
 * `native-sql/FORMAT.md` specifies the same rules for readers in other languages; change neither
 * without the other (and a new domain version).
 * @internal
 */
import { hash } from 'node:crypto';
import { HASHED_COLUMNS, type EventRow } from './columns.ts';
import { EVENT_HASH_DOMAIN, taggedBytes } from './tagged-bytes.ts';

export {
  CLEAR_HALT_DOMAIN,
  EVENT_HASH_DOMAIN,
  PROMOTE_REPLICA_DOMAIN,
  SIGNABLE_DOMAIN,
  clearHaltBytes,
  promoteReplicaBytes,
  signedBytesOf,
  taggedBytes,
} from './tagged-bytes.ts';

const INTEGER_COLUMNS = new Set<number>(
  ['sequence', 'stream_version', 'local_timestamp', 'authority_timestamp'].map((name) =>
    HASHED_COLUMNS.indexOf(name as (typeof HASHED_COLUMNS)[number]),
  ),
);

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

/** Recomputes the content hash of a stored row from its columns. */
export function rowHash(row: EventRow): string {
  return eventHash(HASHED_COLUMNS.map((column) => row[column]));
}

const VERDICT_DOMAIN = Buffer.from('stele/signature-verdict/v1\n');

/**
 * What the writer remembers of a signature Stele verified before the event reached it (off the
 * writer thread): SHA-256 over a domain line, the public key, the signature and the exact signed
 * bytes, NUL-separated. The trigger's function computes it again from the row it inserts and the
 * key the database holds for the agent, so a verdict can only ever stand for that row under that
 * key. Never stored: it lives in the writer's memory for the group it arrived with.
 */
export function signatureVerdict(publicKey: string, signature: string, signed: Uint8Array): string {
  return hash('sha256', Buffer.concat([VERDICT_DOMAIN, Buffer.from(`${publicKey}\0${signature}\0`), signed]), 'hex');
}

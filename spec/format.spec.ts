/**
 * native-sql/FORMAT.md as a contract: an implementation of the content hash, the signable and
 * clear-halt bytes and the ledger verification (keys, signatures, halts, stored checkpoints)
 * written from that page alone (node:crypto and Buffer, nothing from lib/format/ or lib/proofs/
 * on the verifying side), checked against the page's test
 * vectors, against lib/format/ (hash-bytes.ts, value-codec.ts, signing.ts), and against real ledger files read with a
 * plain read-only connection, including files edited behind the triggers.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import nacl from 'tweetnacl';
import { CLEAR_HALT_DOMAIN, EVENT_HASH_DOMAIN, SIGNABLE_DOMAIN, eventHash } from '../lib/format/hash-bytes.ts';
import { GENESIS_HASH, HASHED_COLUMNS, SIGNED_COLUMNS } from '../lib/format/columns.ts';
import { encodeValue } from '../lib/format/value-codec.ts';
import {
  DEFAULT_STREAM,
  clearHaltSignableBytes,
  generateAgentKeyPair,
  promoteReplicaSignableBytes,
  signEvent,
  signableBytes,
  witnessClearHalt,
  witnessPromotion,
  verifyLedgerFile as verifyWithStele,
  type AppendResult,
} from '../lib/index.ts';
import { SIGNATURE_TYPE_COSIGNATURE_V1, cosignCheckpoint, generateKeyPair, signCheckpoint } from '../lib/proofs/index.ts';
import { flipHexDigit, tamper } from './helpers/tamper.ts';
import { reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

const FORMAT_MD = readFileSync(new URL('../native-sql/FORMAT.md', import.meta.url), 'utf8');

// ---------------------------------------------------------------------------------------------
// The independent implementation, from FORMAT.md "Content hash v1" and "Verifying a ledger".
// ---------------------------------------------------------------------------------------------

/** Columns 1–14 of `events`, in hash order, and whether each is an integer column. */
const FORMAT_COLUMNS = [
  ['sequence', 'integer'],
  ['event_id', 'text'],
  ['stream_id', 'text'],
  ['stream_version', 'integer'],
  ['type', 'text'],
  ['payload', 'text'],
  ['payload_meta', 'text'],
  ['metadata', 'text'],
  ['metadata_meta', 'text'],
  ['agent_id', 'text'],
  ['signature', 'text'],
  ['local_timestamp', 'integer'],
  ['authority_timestamp', 'integer'],
  ['prev_hash', 'text'],
] as const;

type SqlValue = string | number | bigint | null;
type Row = Record<string, SqlValue>;

const GENESIS = '0'.repeat(64);

/** FORMAT.md's tagged fields after a domain line: NULL 00; INTEGER 01 + int64 BE; TEXT 02 + uint32 BE length + UTF-8. */
function taggedFields(domain: string, fields: ReadonlyArray<readonly [string, 'integer' | 'text', SqlValue | undefined]>): Buffer {
  const parts: Buffer[] = [Buffer.from(`${domain}\n`, 'ascii')];
  for (const [column, kind, value] of fields) {
    assert.ok(value !== undefined, `row has no column ${column}`);
    if (value === null) {
      parts.push(Buffer.from([0x00]));
    } else if (kind === 'integer') {
      const field = Buffer.alloc(9);
      field[0] = 0x01;
      if (typeof value === 'number') assert.ok(Number.isInteger(value), `${column} is not an integer: ${value}`);
      field.writeBigInt64BE(BigInt(value), 1);
      parts.push(field);
    } else {
      assert.equal(typeof value, 'string', `${column} must be TEXT`);
      const text = Buffer.from(value as string, 'utf8');
      const header = Buffer.alloc(5);
      header[0] = 0x02;
      header.writeUInt32BE(text.length, 1);
      parts.push(header, text);
    }
  }
  return Buffer.concat(parts);
}

function hashedBytes(row: Row): Buffer {
  return taggedFields('stele/event/v1', FORMAT_COLUMNS.map(([column, kind]) => [column, kind, row[column]] as const));
}

/** FORMAT.md "Signable bytes": nine columns, in this order, under stele/signable/v1. */
const SIGNABLE_COLUMNS = [
  ['event_id', 'text'],
  ['stream_id', 'text'],
  ['type', 'text'],
  ['payload', 'text'],
  ['payload_meta', 'text'],
  ['metadata', 'text'],
  ['metadata_meta', 'text'],
  ['agent_id', 'text'],
  ['local_timestamp', 'integer'],
] as const;

function signableBytesOfRow(row: Row): Buffer {
  return taggedFields('stele/signable/v1', SIGNABLE_COLUMNS.map(([column, kind]) => [column, kind, row[column]] as const));
}

/** FORMAT.md "Clear-halt bytes". */
function clearHaltBytesOf(haltSequence: SqlValue, haltContentHash: string, reason: string): Buffer {
  return taggedFields('stele/ceremony/clear-halt/v1', [
    ['halt_sequence', 'integer', haltSequence],
    ['halt_content_hash', 'text', haltContentHash],
    ['reason', 'text', reason],
  ]);
}

/** FORMAT.md "Replicas and promotion": the promotion bytes. */
function promotionBytesOf(replicaId: string, headSequence: SqlValue, headHash: string, reason: string): Buffer {
  return taggedFields('stele/ceremony/promote-replica/v1', [
    ['replica_id', 'text', replicaId],
    ['head_sequence', 'integer', headSequence],
    ['head_hash', 'text', headHash],
    ['reason', 'text', reason],
  ]);
}

/** FORMAT.md "Keys and signatures as text": base64, raw 32-byte keys, 64-byte signatures. */
const BASE64_TEXT = /^[A-Za-z0-9+/]*={0,2}$/;
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function publicKeyOf(text: unknown) {
  if (typeof text !== 'string' || !BASE64_TEXT.test(text)) return null;
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== 32 || raw.toString('base64') !== text) return null; // the canonical text only
  try {
    return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return null;
  }
}

function ed25519Valid(publicKey: unknown, message: Buffer, signature: unknown): boolean {
  const key = publicKeyOf(publicKey);
  if (!key || typeof signature !== 'string' || !BASE64_TEXT.test(signature)) return false;
  const raw = Buffer.from(signature, 'base64');
  return raw.length === 64 && cryptoVerify(null, message, key, raw);
}

function contentHash(row: Row): string {
  return createHash('sha256').update(hashedBytes(row)).digest('hex');
}

type FaultReason =
  | 'sequence'
  | 'prev_hash'
  | 'stream_version'
  | 'content_hash'
  | 'halted'
  | 'reserved'
  | 'signature'
  | 'ceremony'
  | 'event_type'
  | 'agent_keys'
  | 'agent_key_revocations'
  | 'event_types'
  | 'checkpoint';
interface Fault {
  sequence: bigint;
  reason: FaultReason;
}

interface ReplayedKey {
  agentId: string;
  keyId: string;
  publicKey: string;
  role: string;
  registered: bigint;
  revoked?: bigint;
  revokeReason?: string;
}

function payloadOf(row: Row): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(row.payload as string);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What FORMAT.md's replay reads from ledger_meta: the quorum, and where schema 6's rules begin. */
interface Settings {
  quorum: number;
  independentSince: bigint | undefined;
}

/** FORMAT.md "The taxonomy": the types of a `$types` payload, if it is one (ascending UTF-8 bytes, non-empty strings, the only member). */
function taxonomyOfPayload(row: Row): string[] | undefined {
  const p = payloadOf(row);
  if (row.payload_meta !== null || !p || Object.keys(p).length !== 1 || !Array.isArray(p.types)) return undefined;
  const types = p.types as unknown[];
  const ascending = types.every((type, i) => typeof type === 'string' && type !== '' && (i === 0 || Buffer.compare(Buffer.from(types[i - 1] as string), Buffer.from(type)) < 0));
  return ascending ? (types as string[]) : undefined;
}

/** FORMAT.md "Verifying a ledger", steps 7–9 for one row: the halt rule, reserved streams, signatures. Mutates the replay state. */
function integrityFault(
  row: Row,
  keys: Map<string, ReplayedKey>,
  halt: { sequence: bigint; hash: string; type: string } | undefined,
  settings: Settings,
  taxonomy: { types: string[] | undefined },
): FaultReason | undefined {
  const streamId = row.stream_id as string;
  const type = row.type as string;
  const halted = halt?.type === 'stele.halted';
  const independent = settings.independentSince !== undefined && (row.sequence as bigint) >= settings.independentSince;
  // FORMAT.md step 7: rows of $halt, $agents and $replication are allowed while halted.
  if (halted && (!streamId.startsWith('$') || streamId === '$default' || streamId === '$types')) return 'halted';
  // FORMAT.md step 8: outside Stele's streams, a type of the taxonomy in force (if it is not empty).
  if ((!streamId.startsWith('$') || streamId === '$default') && taxonomy.types?.length && !taxonomy.types.includes(type)) return 'event_type';
  const keyName = (agentId: unknown, keyId: unknown) => JSON.stringify([agentId, keyId]);
  /** The quorum over `message`: distinct witnesses, and from schema 6's rules on distinct keys too. */
  const quorumMet = (p: Record<string, unknown>, message: Buffer): boolean => {
    const ids = new Set<string>();
    const publicKeys = new Set<string>();
    for (const w of Array.isArray(p.witnesses) ? (p.witnesses as Record<string, unknown>[]) : []) {
      if (typeof w?.witnessId !== 'string' || ids.has(w.witnessId)) continue;
      const key = [...keys.values()].find(
        (k) => k.agentId === w.witnessId && k.role === 'witness' && k.revoked === undefined && ed25519Valid(k.publicKey, message, w.signature),
      );
      if (key) {
        ids.add(key.agentId);
        publicKeys.add(key.publicKey);
      }
    }
    return (independent ? Math.min(ids.size, publicKeys.size) : ids.size) >= settings.quorum;
  };
  if (streamId.startsWith('$') && streamId !== '$default') {
    const allowed =
      (streamId === '$agents' && (type === 'stele.agent_key_registered' || type === 'stele.agent_key_revoked')) ||
      (streamId === '$halt' && (type === 'stele.halted' || type === 'stele.halt_cleared')) ||
      (streamId === '$replication' && type === 'stele.replica_promoted') ||
      (streamId === '$types' && type === 'stele.event_types_set') ||
      (streamId === '$checkpoints' && (type === 'stele.checkpoint' || type === 'stele.checkpoint_cosigned'));
    if (!allowed) return 'reserved';
    const p = payloadOf(row);
    if (streamId === '$types') {
      const types = taxonomyOfPayload(row);
      if (!types) return 'event_type';
      taxonomy.types = types;
    }
    if (type === 'stele.agent_key_registered') {
      if (!p || typeof p.agentId !== 'string' || typeof p.keyId !== 'string' || !publicKeyOf(p.publicKey)) return 'reserved';
      if ((p.role !== 'agent' && p.role !== 'witness') || keys.has(keyName(p.agentId, p.keyId))) return 'reserved';
      if (independent && [...keys.values()].some((k) => k.publicKey === p.publicKey && k.role !== p.role)) return 'reserved';
      if (independent && halted && p.role === 'witness') return 'reserved';
      keys.set(keyName(p.agentId, p.keyId), {
        agentId: p.agentId, keyId: p.keyId, publicKey: p.publicKey as string, role: p.role, registered: row.sequence as bigint,
      });
    } else if (type === 'stele.agent_key_revoked') {
      const key = p && keys.get(keyName(p.agentId, p.keyId));
      if (!p || typeof p.agentId !== 'string' || typeof p.keyId !== 'string' || !key || key.revoked !== undefined) return 'reserved';
      if (independent && halted && key.role === 'witness') return 'reserved';
      key.revoked = row.sequence as bigint;
      key.revokeReason = typeof p.reason === 'string' ? p.reason : '';
    } else if (type === 'stele.halt_cleared') {
      if (!p || !halted || BigInt(p.haltSequence as number) !== halt.sequence) return 'ceremony';
      if (!quorumMet(p, clearHaltBytesOf(halt.sequence, halt.hash, String(p.reason ?? null)))) return 'ceremony';
    } else if (type === 'stele.replica_promoted') {
      const head = (row.sequence as bigint) - 1n;
      if (!p || typeof p.replicaId !== 'string' || BigInt(p.headSequence as number) !== head || p.headHash !== row.prev_hash) return 'ceremony';
      if (!quorumMet(p, promotionBytesOf(p.replicaId, head, row.prev_hash as string, String(p.reason ?? null)))) return 'ceremony';
    }
  }
  if (row.agent_id !== null || row.signature !== null) {
    if (row.agent_id === null || row.signature === null) return 'signature';
    const message = signableBytesOfRow(row);
    const ok = [...keys.values()].some(
      (key) => key.agentId === row.agent_id && key.role === 'agent' && key.revoked === undefined && ed25519Valid(key.publicKey, message, row.signature),
    );
    if (!ok) return 'signature';
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// FORMAT.md "Stored checkpoints" and "Verifying a ledger" step 13.
// ---------------------------------------------------------------------------------------------

/** Canonical padded base64: length a multiple of 4, `=` only as final padding, unused bits zero. */
function canonicalBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !BASE64_TEXT.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

// eslint-disable-next-line no-control-regex
const NOTE_CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
const isKeyName = (name: string): boolean => name.length > 0 && !/[\s+]/u.test(name) && !NOTE_CONTROL.test(name);

/** The eight points of small order, as their canonical encodings (FORMAT.md "Ed25519 rules"). */
const SMALL_ORDER_KEYS = new Set([
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
]);

/** A well-formed `$checkpoints` payload, its vkey and note taken apart. */
interface StoredCheckpointRow {
  logKey: string;
  keyName: string;
  keyId: Buffer;
  publicKey: KeyObject;
  body: string;
  origin: string;
  size: number;
  root: Buffer;
  signatures: { name: string; keyId: Buffer; signature: Buffer }[];
}

/** The vkey `<name>+<8 hex key ID>+base64(0x01 ‖ public key)`, its key ID the name's and key's own. */
function logKeyOf(vkey: string): Pick<StoredCheckpointRow, 'keyName' | 'keyId' | 'publicKey'> | undefined {
  const first = vkey.indexOf('+');
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, first + 9);
  if (first < 0 || !isKeyName(name) || !/^[0-9a-f]{8}$/.test(idHex) || vkey[first + 9] !== '+') return undefined;
  const material = canonicalBase64(vkey.slice(first + 10));
  if (!material || material.length !== 33 || material[0] !== 0x01) return undefined;
  const raw = material.subarray(1);
  if (SMALL_ORDER_KEYS.has(raw.toString('hex'))) return undefined;
  const keyId = createHash('sha256').update(Buffer.concat([Buffer.from(name, 'utf8'), Buffer.from([0x0a, 0x01]), raw])).digest().subarray(0, 4);
  if (keyId.toString('hex') !== idHex) return undefined;
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
  return { keyName: name, keyId, publicKey };
}

/** FORMAT.md "Stored checkpoints", the event: the payload taken apart, or undefined unless well-formed. */
function storedCheckpointOf(row: Row): StoredCheckpointRow | undefined {
  const p = payloadOf(row);
  if (row.payload_meta !== null || !p || Object.keys(p).length !== 2 || typeof p.logKey !== 'string' || typeof p.note !== 'string') return undefined;
  const key = logKeyOf(p.logKey);
  const note = p.note;
  if (!key || NOTE_CONTROL.test(note) || /\p{Cs}/u.test(note)) return undefined;
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return undefined;
  const body = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (!block.endsWith('\n')) return undefined;
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > 100) return undefined;
  const signatures: StoredCheckpointRow['signatures'] = [];
  for (const line of lines) {
    if (!line.startsWith('\u2014 ')) return undefined;
    const rest = line.slice(2);
    const space = rest.indexOf(' ');
    const bytes = space < 0 ? undefined : canonicalBase64(rest.slice(space + 1));
    if (!bytes || !isKeyName(rest.slice(0, space)) || bytes.length < 5) return undefined;
    signatures.push({ name: rest.slice(0, space), keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) });
  }
  const [origin, sizeText, rootText, ...extensions] = body.slice(0, -1).split('\n');
  if (!origin || sizeText === undefined || rootText === undefined || !/^(0|[1-9][0-9]*)$/.test(sizeText)) return undefined;
  const size = Number(sizeText);
  const root = canonicalBase64(rootText);
  if (!Number.isSafeInteger(size) || size < 1 || root?.length !== 32 || extensions.some((line) => line === '')) return undefined;
  return { logKey: p.logKey, ...key, body, origin, size, root, signatures };
}

/** RFC 9162's root of the leaf hashes: for n > 1, node(root of the first k, root of the rest), k the largest power of two below n. */
function treeRootOf(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return createHash('sha256').update(Buffer.from([0x01])).update(treeRootOf(leaves.slice(0, k))).update(treeRootOf(leaves.slice(k))).digest();
}

/** The leaf of an event: SHA-256(0x00 ‖ the 32 raw bytes of its content_hash). */
function leafOf(contentHashHex: string): Buffer {
  return createHash('sha256').update(Buffer.from([0x00])).update(Buffer.from(contentHashHex, 'hex')).digest();
}

/**
 * FORMAT.md step 13: the `$checkpoints` rows against the tree of the `content_hash` column, in
 * sequence order. Only a `stele.checkpoint` that passes is kept (its body and size count for the
 * rows after it): a later `stele.checkpoint` must be larger, a `stele.checkpoint_cosigned` must
 * repeat a kept body. A row that breaks a rule is reported.
 */
function checkpointFaults(rows: readonly Row[], leaves: readonly Buffer[], trustedLogKey: string | undefined): Fault[] {
  const faults: Fault[] = [];
  const bodies = new Set<string>();
  let first: { logKey: string; origin: string } | undefined;
  let largest = 0;
  for (const row of rows) {
    const sequence = row.sequence as bigint;
    const cosigned = row.type === 'stele.checkpoint_cosigned';
    const checkpoint = storedCheckpointOf(row);
    first ??= checkpoint && { logKey: checkpoint.logKey, origin: checkpoint.origin };
    const byLog = checkpoint?.signatures.filter((s) => s.name === checkpoint.keyName && s.keyId.equals(checkpoint.keyId)) ?? [];
    const ok =
      checkpoint !== undefined &&
      (trustedLogKey === undefined || checkpoint.logKey === trustedLogKey) &&
      checkpoint.logKey === first!.logKey &&
      checkpoint.origin === first!.origin &&
      BigInt(checkpoint.size) < sequence &&
      (cosigned ? bodies.has(checkpoint.body) : checkpoint.size > largest) &&
      byLog.length === 1 &&
      byLog[0]!.signature.length === 64 &&
      cryptoVerify(null, Buffer.from(checkpoint.body, 'utf8'), checkpoint.publicKey, byLog[0]!.signature) &&
      checkpoint.size <= leaves.length &&
      treeRootOf(leaves.slice(0, checkpoint.size)).equals(checkpoint.root);
    if (!ok) {
      faults.push({ sequence, reason: 'checkpoint' });
      continue;
    }
    if (cosigned) continue;
    bodies.add(checkpoint.body);
    largest = checkpoint.size;
  }
  return faults;
}

/**
 * Checks every row in sequence order and reports the first fault of each faulty row (the order
 * of FORMAT.md: continuity, link, stream version, content, then halt, reserved streams and
 * signatures replayed from the chain), then advances with the stored values so that one edited
 * row is reported once. Then the derived key tables are compared with the replay, and the
 * stored checkpoints with the tree of the chain (`trustedLogKey`: the log key held outside the file).
 */
function verifyLedgerFile(path: string, options: { trustedLogKey?: string } = {}): { checked: number; faults: Fault[] } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true); // full 64-bit integers, as another language would read them
    const meta = db.prepare('SELECT value FROM ledger_meta WHERE key = ?').pluck();
    const since = meta.get('independent_witnesses_since') as string | undefined;
    const settings: Settings = { quorum: Number(meta.get('witness_quorum') ?? 2), independentSince: since === undefined ? undefined : BigInt(since) };
    const rows = db.prepare('SELECT * FROM events ORDER BY sequence').iterate() as IterableIterator<Row>;
    const lastVersion = new Map<string, bigint>();
    const keys = new Map<string, ReplayedKey>();
    let halt: { sequence: bigint; hash: string; type: string } | undefined;
    const taxonomy: { types: string[] | undefined } = { types: undefined };
    const faults: Fault[] = [];
    const leaves: Buffer[] = [];
    const checkpoints: Row[] = [];
    let nextSequence = 1n;
    let previousHash = GENESIS;
    let checked = 0;
    for (const row of rows) {
      const sequence = row.sequence as bigint;
      const streamId = row.stream_id as string;
      const version = row.stream_version as bigint;
      const streamLast = lastVersion.get(streamId);
      let reason: FaultReason | undefined;
      if (sequence !== nextSequence) reason = 'sequence';
      else if (row.prev_hash !== previousHash) reason = 'prev_hash';
      else if (version !== (streamLast === undefined ? 0n : streamLast + 1n)) reason = 'stream_version';
      else if (contentHash(row) !== row.content_hash) reason = 'content_hash';
      const integrity = integrityFault(row, keys, halt, settings, taxonomy);
      reason ??= integrity;
      if (reason) faults.push({ sequence, reason });
      if (streamId === '$halt') halt = { sequence, hash: row.content_hash as string, type: row.type as string };
      if (streamId === '$checkpoints' && (row.type === 'stele.checkpoint' || row.type === 'stele.checkpoint_cosigned')) checkpoints.push(row);
      leaves.push(leafOf(row.content_hash as string));
      nextSequence = sequence + 1n;
      previousHash = row.content_hash as string;
      lastVersion.set(streamId, version);
      checked++;
    }
    // The derived tables hold exactly what the chain registered and revoked.
    const tableKeys = db.prepare('SELECT * FROM agent_keys ORDER BY registered_sequence').all() as Row[];
    const replayed = [...keys.values()];
    const keyRow = (k: ReplayedKey) => JSON.stringify([k.agentId, k.keyId, k.publicKey, k.role, String(k.registered)]);
    const tableKeyRow = (r: Row) => JSON.stringify([r.agent_id, r.key_id, r.public_key, r.role, String(r.registered_sequence)]);
    const expectedKeys = new Set(replayed.map(keyRow));
    const actualKeys = new Set(tableKeys.map(tableKeyRow));
    for (const r of tableKeys) if (!expectedKeys.has(tableKeyRow(r))) faults.push({ sequence: r.registered_sequence as bigint, reason: 'agent_keys' });
    for (const k of replayed) if (!actualKeys.has(keyRow(k))) faults.push({ sequence: k.registered, reason: 'agent_keys' });
    const tableRevocations = db.prepare('SELECT * FROM agent_key_revocations ORDER BY revoked_sequence').all() as Row[];
    const revRow = (a: unknown, k: unknown, s: unknown, r: unknown) => JSON.stringify([a, k, String(s), r]);
    const expectedRevs = new Set(replayed.filter((k) => k.revoked !== undefined).map((k) => revRow(k.agentId, k.keyId, k.revoked, k.revokeReason)));
    const actualRevs = new Set(tableRevocations.map((r) => revRow(r.agent_id, r.key_id, r.revoked_sequence, r.reason)));
    for (const r of tableRevocations) {
      if (!expectedRevs.has(revRow(r.agent_id, r.key_id, r.revoked_sequence, r.reason))) faults.push({ sequence: r.revoked_sequence as bigint, reason: 'agent_key_revocations' });
    }
    for (const k of replayed) {
      if (k.revoked !== undefined && !actualRevs.has(revRow(k.agentId, k.keyId, k.revoked, k.revokeReason))) faults.push({ sequence: k.revoked, reason: 'agent_key_revocations' });
    }
    // From schema 8 on, event_types holds the set of the newest $types row.
    if ((db.pragma('user_version', { simple: true }) as bigint) >= 8n) {
      const table = (db.prepare('SELECT type FROM event_types ORDER BY type').pluck().all() as string[]).join('\n');
      if (table !== (taxonomy.types ?? []).join('\n')) faults.push({ sequence: 0n, reason: 'event_types' });
    }
    faults.push(...checkpointFaults(checkpoints, leaves, options.trustedLogKey));
    return { checked, faults };
  } finally {
    db.close();
  }
}

/**
 * Signature checks straight from the `agent_keys` / `agent_key_revocations` tables (FORMAT.md:
 * the same answer on an untampered file): the sequences of signed events that no key of their
 * agent, active at that sequence, verifies; and how many signed events were checked.
 */
function signatureFaultsFromTables(path: string): { signed: number; bad: bigint[] } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.defaultSafeIntegers(true);
    const keysOf = db.prepare(
      `SELECT k.public_key FROM agent_keys AS k
        WHERE k.agent_id = ? AND k.role = 'agent' AND k.registered_sequence < ?
          AND NOT EXISTS (SELECT 1 FROM agent_key_revocations AS r
                           WHERE r.agent_id = k.agent_id AND r.key_id = k.key_id AND r.revoked_sequence < ?)`,
    ).pluck();
    const rows = db.prepare('SELECT * FROM events WHERE signature IS NOT NULL OR agent_id IS NOT NULL ORDER BY sequence').all() as Row[];
    const bad = rows
      .filter((row) => !(keysOf.all(row.agent_id, row.sequence, row.sequence) as string[]).some((key) => ed25519Valid(key, signableBytesOfRow(row), row.signature)))
      .map((row) => row.sequence as bigint);
    return { signed: rows.length, bad };
  } finally {
    db.close();
  }
}

/** A ledger is its main file plus its WAL (FORMAT.md "Files"): copy both. */
function copyLedger(from: string, to: string): void {
  copyFileSync(from, to);
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
}

/** Opens a copy read-write with a plain connection, runs `edit`, closes it. */
function editBehindTriggers(path: string, edit: (db: Database.Database) => void): void {
  const db = new Database(path);
  try {
    edit(db);
  } finally {
    db.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The worked example of FORMAT.md, hard-coded.
// ---------------------------------------------------------------------------------------------

const H1 = '7195d8474d31989db2f534fb0a07f6d81a550f5d0337a345655e8263246376ad';
const H2 = '9036a1415573f542265b33ecd7a095fa882e59b9ad0548f62abce85e1220378f';
const H3 = '8c167c6e474b3502696f86450fafd71f7979caa11676ad6fc105ebad0a68f40f';

const VECTOR: Row[] = [
  {
    sequence: 1, event_id: 'evt-1', stream_id: 'order-42', stream_version: 0, type: 'order_placed',
    payload: '{"sku":"café","qty":2}', payload_meta: null, metadata: '{"actor":"ada"}', metadata_meta: null,
    agent_id: null, signature: null, local_timestamp: 1700000000000, authority_timestamp: 1700000000123,
    prev_hash: GENESIS, content_hash: H1,
  },
  {
    sequence: 2, event_id: 'evt-2', stream_id: 'order-42', stream_version: 1, type: 'order_paid',
    payload: '{"paidAt":"2023-11-14T22:13:25.000Z","amount":"950"}',
    payload_meta: '{"values":{"paidAt":["Date"],"amount":["bigint"]},"v":1}', metadata: null, metadata_meta: null,
    agent_id: null, signature: null, local_timestamp: 1700000005000, authority_timestamp: 1700000005004,
    prev_hash: H1, content_hash: H2,
  },
  {
    sequence: 3, event_id: 'evt-3', stream_id: 'user-ada', stream_version: 0, type: 'user_login',
    payload: '{"ip":"10.0.0.7"}', payload_meta: null, metadata: '{"requestId":"r-7","retried":null}',
    metadata_meta: '{"values":{"retried":["undefined"]},"v":1}',
    agent_id: null, signature: null, local_timestamp: 1700000000000, authority_timestamp: 1700000012000,
    prev_hash: H2, content_hash: H3,
  },
];
const VECTOR_LENGTHS = [212, 280, 269];

const VECTOR_HASHED_1 =
  '7374656c652f6576656e742f76310a0100000000000000010200000005657674' +
  '2d3102000000086f726465722d3432010000000000000000020000000c6f7264' +
  '65725f706c6163656402000000177b22736b75223a22636166c3a9222c227174' +
  '79223a327d00020000000f7b226163746f72223a22616461227d000000010000' +
  '018bcfe56800010000018bcfe5687b0200000040303030303030303030303030' +
  '3030303030303030303030303030303030303030303030303030303030303030' +
  '3030303030303030303030303030303030303030';

/** The fenced code block that follows `heading` in FORMAT.md. */
function codeBlockAfter(heading: string): string {
  const at = FORMAT_MD.indexOf(heading);
  assert.ok(at >= 0, `FORMAT.md has no "${heading}"`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(FORMAT_MD.slice(at));
  assert.ok(match?.[1], `FORMAT.md has no code block after "${heading}"`);
  return match[1];
}

describe('FORMAT.md test vector', () => {
  test('the independent implementation reproduces the hashed bytes of sequence 1', () => {
    const bytes = hashedBytes(VECTOR[0]!);
    assert.equal(bytes.toString('hex'), VECTOR_HASHED_1);
    assert.equal(createHash('sha256').update(Buffer.from(VECTOR_HASHED_1, 'hex')).digest('hex'), H1);
  });

  test('the independent implementation reproduces every content hash, length and link', () => {
    VECTOR.forEach((row, i) => {
      assert.equal(hashedBytes(row).length, VECTOR_LENGTHS[i], `hashed length of sequence ${row.sequence}`);
      assert.equal(contentHash(row), row.content_hash, `content hash of sequence ${row.sequence}`);
      assert.equal(row.prev_hash, i === 0 ? GENESIS : VECTOR[i - 1]!.content_hash);
    });
  });

  test('every field of the hash changes it, and NULL differs from the empty string', () => {
    const base = VECTOR[1]!;
    const hashes = new Set([contentHash(base)]);
    for (const [column, kind] of FORMAT_COLUMNS) {
      hashes.add(contentHash({ ...base, [column]: kind === 'integer' ? Number(base[column]) + 1 : `${base[column] ?? ''}x` }));
    }
    assert.equal(hashes.size, FORMAT_COLUMNS.length + 1);
    assert.notEqual(contentHash({ ...base, metadata: null }), contentHash({ ...base, metadata: '' }));
    // Text is hashed by its full UTF-8 length: a NUL inside a field is data, never an end.
    assert.notEqual(contentHash({ ...base, event_id: 'a\u0000b' }), contentHash({ ...base, event_id: 'a' }));
  });

  test('FORMAT.md states the same vector as this spec', () => {
    const oneString = codeBlockAfter('The same bytes as one string').replace(/\s+/g, '');
    assert.equal(oneString, VECTOR_HASHED_1);
    // The field-by-field listing concatenates to the same bytes.
    const byField = codeBlockAfter('field by field (hex)')
      .split('\n')
      .map((line) => line.replace(/^[a-z_]+\s/, '').replace(/\s+/g, ''))
      .join('');
    assert.equal(byField, VECTOR_HASHED_1);
    for (const hash of [H1, H2, H3]) assert.ok(FORMAT_MD.includes(`| \`${hash}\` |`), `FORMAT.md lists ${hash}`);
    for (const [i, length] of VECTOR_LENGTHS.entries()) {
      assert.ok(FORMAT_MD.includes(`| ${i + 1} | ${length} bytes | \`${VECTOR[i]!.content_hash}\` |`));
    }
    for (const row of VECTOR) {
      for (const column of ['payload', 'payload_meta', 'metadata', 'metadata_meta'] as const) {
        const value = row[column];
        if (value !== null) assert.ok(FORMAT_MD.includes(`\`${value as string}\``), `FORMAT.md shows ${column} ${value}`);
      }
    }
  });
});

describe('lib/format/ agrees with FORMAT.md', () => {
  test('eventHash reproduces the vector', () => {
    for (const row of VECTOR) {
      assert.equal(eventHash(HASHED_COLUMNS.map((column) => row[column])), row.content_hash);
    }
  });

  test('column order, domain and genesis are the documented ones', () => {
    assert.deepEqual([...HASHED_COLUMNS], FORMAT_COLUMNS.map(([column]) => column));
    assert.equal(EVENT_HASH_DOMAIN, 'stele/event/v1');
    assert.equal(GENESIS_HASH, GENESIS);
  });

  test("the vector's stored text is what Stele stores for the documented inputs", () => {
    assert.deepEqual(encodeValue({ sku: 'café', qty: 2 }, 'payload'), { json: VECTOR[0]!.payload, meta: null });
    assert.deepEqual(encodeValue({ actor: 'ada' }, 'metadata'), { json: VECTOR[0]!.metadata, meta: null });
    assert.deepEqual(encodeValue({ paidAt: new Date('2023-11-14T22:13:25.000Z'), amount: 950n }, 'payload'), {
      json: VECTOR[1]!.payload,
      meta: VECTOR[1]!.payload_meta,
    });
    assert.deepEqual(encodeValue(undefined, 'metadata'), { json: null, meta: null });
    assert.deepEqual(encodeValue({ requestId: 'r-7', retried: undefined }, 'metadata'), {
      json: VECTOR[2]!.metadata,
      meta: VECTOR[2]!.metadata_meta,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The signature test vectors of FORMAT.md, hard-coded.
// ---------------------------------------------------------------------------------------------

const SEED_AGENT = Buffer.alloc(32, 0x01);
const SEED_WITNESS = Buffer.alloc(32, 0x02);
const AGENT_PUBLIC_KEY_HEX = '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c';
const AGENT_PUBLIC_KEY = 'iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w=';
const WITNESS_PUBLIC_KEY_HEX = '8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394';
const WITNESS_PUBLIC_KEY = 'gTl3Dqh9F19Wo1Rmw0x+zMuNipG07jeiXfYPW4/Js5Q=';

/** The signed example's input (what signEvent is given) and its stored columns. */
const SIGNED_INPUT = {
  eventId: 'evt-signed-1',
  streamId: 'invoice-7',
  type: 'invoice_sent',
  payload: { invoice: 7, amount: 950n },
  localTimestamp: new Date(1700000000000),
};
const SIGNED_ROW: Row = {
  event_id: 'evt-signed-1', stream_id: 'invoice-7', type: 'invoice_sent',
  payload: '{"invoice":7,"amount":"950"}', payload_meta: '{"values":{"amount":["bigint"]},"v":1}',
  metadata: null, metadata_meta: null, agent_id: 'billing-bot', local_timestamp: 1700000000000,
};
const SIGNABLE_HEX =
  '7374656c652f7369676e61626c652f76310a020000000c6576742d7369676e65' +
  '642d310200000009696e766f6963652d37020000000c696e766f6963655f7365' +
  '6e74020000001c7b22696e766f696365223a372c22616d6f756e74223a223935' +
  '30227d02000000267b2276616c756573223a7b22616d6f756e74223a5b226269' +
  '67696e74225d7d2c2276223a317d0000020000000b62696c6c696e672d626f74' +
  '010000018bcfe56800';
const SIGNABLE_LENGTH = 169;
const SIGNATURE_HEX =
  'b4bb3a374fc34e06218a4d2d87a03f1bdaae16ddd9387f0f8ac11496d500ba97' +
  '98d0b2dd288c7411df83f19a8bf4678af434dc1ece36300655c8d8286a1bdb00';
const SIGNATURE_BASE64 = 'tLs6N0/DTgYhik0th6A/G9quFt3ZOH8PisEUltUAupeY0LLdKIx0Ed+D8ZqL9GeK9DTcHs42MAZVyNgoahvbAA==';

const HALT_RECORD = { sequence: 4, contentHash: '8c167c6e474b3502696f86450fafd71f7979caa11676ad6fc105ebad0a68f40f' };
const CLEAR_REASON = 'disk replaced, chain verified';
const CLEAR_HALT_HEX =
  '7374656c652f636572656d6f6e792f636c6561722d68616c742f76310a010000' +
  '0000000000040200000040386331363763366534373462333530323639366638' +
  '3634353066616664373166373937396361613131363736616436666331303565' +
  '6261643061363866343066020000001d6469736b207265706c616365642c2063' +
  '6861696e207665726966696564';
const CLEAR_HALT_LENGTH = 141;
const WITNESS_SIGNATURE_HEX =
  'c1ebfcca55c603bf33fc16800afff671f0eff715aa2570878b3805ce0f08f1db' +
  '50ea6783d636f42e93f5c284955ed1ccf823596fee730563a3eb0a52a41f2403';
const WITNESS_SIGNATURE_BASE64 = 'wev8ylXGA78z/BaACv/2cfDv9xWqJXCHizgFzg8I8dtQ6meD1jb0LpP1woSVXtHM+CNZb+5zBWOj6wpSpB8kAw==';

const PROMOTION_SUBJECT = { replicaId: '5f0c3e2a-7d41-4c8e-9b6a-2e1f0d3c4b5a', head: { sequence: 41, contentHash: 'c441d1220540441f6e7edea93eeb0f0abc48cf0510d2ad63ab9803c845f7391f' } };
const PROMOTION_REASON = 'primary disk failed; backup verified';
const PROMOTION_HEX =
  '7374656c652f636572656d6f6e792f70726f6d6f74652d7265706c6963612f76310a0200000024356630633365' +
  '32612d376434312d346338652d396236612d32653166306433633462356101000000000000002902000000406334' +
  '3431643132323035343034343166366537656465613933656562306630616263343863663035313064326164363361' +
  '62393830336338343566373339316602000000247072696d617279206469736b206661696c65643b206261636b7570' +
  '207665726966696564';
const PROMOTION_LENGTH = 194;
const PROMOTION_SIGNATURE_HEX =
  'd01985156eac05da7ac6407f6b4d515ebcbc6e11017e1d7e1f0812ebebf87a23' +
  '0111edd8a83dc82f90ef77f25ec91446b5136a9228559d7e0bfd7d3bc72ed507';
const PROMOTION_SIGNATURE_BASE64 = '0BmFFW6sBdp6xkB/a01RXry8bhEBfh1+HwgS6+v4eiMBEe3YqD3IL5Dvd/JeyRRGtRNqkihVnX4L/X07xy7VBw==';

/** An ed25519 private key from a 32-byte RFC 8032 seed, with node:crypto only. */
function privateKeyFromSeed(seed: Buffer) {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

function rawPublicKey(seed: Buffer): Buffer {
  return createPublicKey(privateKeyFromSeed(seed)).export({ format: 'der', type: 'spki' }).subarray(ED25519_SPKI_PREFIX.length);
}

/** The field-by-field listing after `heading`, concatenated. */
function byFieldListing(heading: string): string {
  return codeBlockAfter(heading)
    .split('\n')
    .map((line) => line.replace(/^[a-z_]+\s/, '').replace(/\s+/g, ''))
    .join('');
}

describe('FORMAT.md signature test vectors', () => {
  test('the independent implementation reproduces the signable bytes and the signature (node:crypto)', () => {
    const bytes = signableBytesOfRow(SIGNED_ROW);
    assert.equal(bytes.length, SIGNABLE_LENGTH);
    assert.equal(bytes.toString('hex'), SIGNABLE_HEX);
    assert.equal(rawPublicKey(SEED_AGENT).toString('hex'), AGENT_PUBLIC_KEY_HEX);
    assert.equal(rawPublicKey(SEED_AGENT).toString('base64'), AGENT_PUBLIC_KEY);
    const signature = cryptoSign(null, bytes, privateKeyFromSeed(SEED_AGENT));
    assert.equal(signature.toString('hex'), SIGNATURE_HEX);
    assert.equal(signature.toString('base64'), SIGNATURE_BASE64);
    assert.ok(ed25519Valid(AGENT_PUBLIC_KEY, bytes, SIGNATURE_BASE64));
    // Any change to a signed field, or another key, fails verification.
    assert.ok(!ed25519Valid(AGENT_PUBLIC_KEY, signableBytesOfRow({ ...SIGNED_ROW, local_timestamp: 1700000000001 }), SIGNATURE_BASE64));
    assert.ok(!ed25519Valid(WITNESS_PUBLIC_KEY, bytes, SIGNATURE_BASE64));
  });

  test('the tweetnacl signature over the vector bytes equals the node:crypto one', () => {
    const pair = nacl.sign.keyPair.fromSeed(new Uint8Array(SEED_AGENT));
    assert.equal(Buffer.from(pair.publicKey).toString('base64'), AGENT_PUBLIC_KEY);
    const signature = nacl.sign.detached(Buffer.from(SIGNABLE_HEX, 'hex'), pair.secretKey);
    assert.equal(Buffer.from(signature).toString('hex'), SIGNATURE_HEX);
  });

  test('the independent implementation reproduces the clear-halt bytes and the witness signature', () => {
    const bytes = clearHaltBytesOf(HALT_RECORD.sequence, HALT_RECORD.contentHash, CLEAR_REASON);
    assert.equal(bytes.length, CLEAR_HALT_LENGTH);
    assert.equal(bytes.toString('hex'), CLEAR_HALT_HEX);
    assert.equal(rawPublicKey(SEED_WITNESS).toString('hex'), WITNESS_PUBLIC_KEY_HEX);
    assert.equal(rawPublicKey(SEED_WITNESS).toString('base64'), WITNESS_PUBLIC_KEY);
    const signature = cryptoSign(null, bytes, privateKeyFromSeed(SEED_WITNESS));
    assert.equal(signature.toString('hex'), WITNESS_SIGNATURE_HEX);
    assert.equal(signature.toString('base64'), WITNESS_SIGNATURE_BASE64);
    assert.ok(ed25519Valid(WITNESS_PUBLIC_KEY, bytes, WITNESS_SIGNATURE_BASE64));
  });

  test('the independent implementation reproduces the promotion bytes and the witness signature', () => {
    const { replicaId, head } = PROMOTION_SUBJECT;
    const bytes = promotionBytesOf(replicaId, head.sequence, head.contentHash, PROMOTION_REASON);
    assert.equal(bytes.length, PROMOTION_LENGTH);
    assert.equal(bytes.toString('hex'), PROMOTION_HEX);
    const signature = cryptoSign(null, bytes, privateKeyFromSeed(SEED_WITNESS));
    assert.equal(signature.toString('hex'), PROMOTION_SIGNATURE_HEX);
    assert.equal(signature.toString('base64'), PROMOTION_SIGNATURE_BASE64);
    const witness = nacl.sign.keyPair.fromSeed(new Uint8Array(SEED_WITNESS));
    assert.equal(Buffer.from(promoteReplicaSignableBytes(PROMOTION_SUBJECT, PROMOTION_REASON)).toString('hex'), PROMOTION_HEX);
    assert.deepEqual(witnessPromotion(PROMOTION_SUBJECT, PROMOTION_REASON, 'alice', witness.secretKey), { witnessId: 'alice', signature: PROMOTION_SIGNATURE_BASE64 });
  });

  test('lib/format/signing.ts agrees with the vectors', () => {
    const agent = nacl.sign.keyPair.fromSeed(new Uint8Array(SEED_AGENT));
    assert.equal(Buffer.from(signableBytes({ ...SIGNED_INPUT, agentId: 'billing-bot' })).toString('hex'), SIGNABLE_HEX);
    const signed = signEvent(SIGNED_INPUT, 'billing-bot', agent.secretKey);
    assert.equal(signed.agentId, 'billing-bot');
    assert.equal(signed.signature, SIGNATURE_BASE64);
    assert.equal(Buffer.from(clearHaltSignableBytes(HALT_RECORD, CLEAR_REASON)).toString('hex'), CLEAR_HALT_HEX);
    const witness = nacl.sign.keyPair.fromSeed(new Uint8Array(SEED_WITNESS));
    assert.deepEqual(witnessClearHalt(HALT_RECORD, CLEAR_REASON, 'alice', witness.secretKey), {
      witnessId: 'alice',
      signature: WITNESS_SIGNATURE_BASE64,
    });
    // The stored text of the signed example is what Stele stores for its payload.
    assert.deepEqual(encodeValue(SIGNED_INPUT.payload, 'payload'), { json: SIGNED_ROW.payload, meta: SIGNED_ROW.payload_meta });
  });

  test('FORMAT.md states the same signature vectors as this spec', () => {
    assert.equal(codeBlockAfter('The signable bytes of the signed example as one string').replace(/\s+/g, ''), SIGNABLE_HEX);
    assert.equal(byFieldListing(`Signable bytes, ${SIGNABLE_LENGTH} bytes, field by field (hex)`), SIGNABLE_HEX);
    assert.equal(codeBlockAfter('The clear-halt bytes of the ceremony example as one string').replace(/\s+/g, ''), CLEAR_HALT_HEX);
    assert.equal(byFieldListing(`Clear-halt bytes, ${CLEAR_HALT_LENGTH} bytes, field by field (hex)`), CLEAR_HALT_HEX);
    assert.equal(byFieldListing(`Promotion bytes, ${PROMOTION_LENGTH} bytes, field by field (hex)`), PROMOTION_HEX);
    for (const value of [
      AGENT_PUBLIC_KEY_HEX, AGENT_PUBLIC_KEY, SIGNATURE_HEX, SIGNATURE_BASE64,
      WITNESS_PUBLIC_KEY_HEX, WITNESS_PUBLIC_KEY, WITNESS_SIGNATURE_HEX, WITNESS_SIGNATURE_BASE64,
      HALT_RECORD.contentHash, CLEAR_REASON, SIGNED_ROW.payload as string, SIGNED_ROW.payload_meta as string,
      PROMOTION_SUBJECT.replicaId, PROMOTION_SUBJECT.head.contentHash, PROMOTION_REASON, PROMOTION_SIGNATURE_HEX, PROMOTION_SIGNATURE_BASE64,
    ]) {
      assert.ok(FORMAT_MD.includes(`\`${value}\``), `FORMAT.md shows ${value}`);
    }
    // The domains and the signed column order are the documented ones.
    assert.ok(FORMAT_MD.includes('`7374656c652f7369676e61626c652f76310a`'));
    assert.ok(FORMAT_MD.includes('`7374656c652f636572656d6f6e792f636c6561722d68616c742f76310a`'));
    assert.ok(FORMAT_MD.includes('`7374656c652f636572656d6f6e792f70726f6d6f74652d7265706c6963612f76310a`'));
    assert.deepEqual([...SIGNED_COLUMNS], SIGNABLE_COLUMNS.map(([column]) => column));
    assert.equal(SIGNABLE_DOMAIN, 'stele/signable/v1');
    assert.equal(CLEAR_HALT_DOMAIN, 'stele/ceremony/clear-halt/v1');
  });

  test('FORMAT.md states the order the rules of an insert run in, as a new file has them', async (t) => {
    // The order is the first sentence of the paragraph; its examples follow.
    const order = /\*\*Precedence\.\*\*([\s\S]*?) \(a spec checks/.exec(FORMAT_MD)![1]!;
    const stated = [...order.matchAll(/`([a-z_]+_rules|events_insert_extends_chain|[A-Z_]+)`/g)].map((match) => match[1]);
    const path = tempLedgerPath(t);
    await (await reopen(t, path)).close();
    const db = new Database(path, { readonly: true });
    t.after(() => db.close());
    // SQLite runs the triggers of one table or view newest first: the reverse of their creation order.
    const triggersOn = (table: string, kind: string) =>
      db
        .prepare<[string, string], string>("SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ? AND sql LIKE ? ORDER BY rowid DESC")
        .pluck()
        .all(table, `%${kind} ON ${table}%`);
    const sqlOf = (name: string) => db.prepare<[string], string>('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(name)!;
    // The route's statements in order: an insert into a view runs that view's rules, a RAISE is a rule itself.
    const running = triggersOn('events', 'BEFORE INSERT').flatMap((name) =>
      name !== 'events_insert_rules'
        ? [name]
        : [...sqlOf(name).matchAll(/INSERT INTO ([a-z_]+)|RAISE\(ABORT, 'STELE:([A-Z_]+)'\)/g)].flatMap((match) =>
            match[1] ? triggersOn(match[1], 'INSTEAD OF INSERT') : [match[2]!],
          ),
    );
    assert.deepEqual(stated, running);
  });

  test('FORMAT.md lists every error message the triggers raise', () => {
    const raised = new Set<string>();
    // FORMAT.md documents the current schema and every upgrade step that shipped.
    const files = ['schema/', 'upgrades/'].flatMap((folder) => {
      const dir = new URL(`../native-sql/${folder}`, import.meta.url);
      return readdirSync(dir).filter((file) => file.endsWith('.sql')).map((file) => new URL(file, dir));
    });
    assert.ok(files.length >= 16);
    for (const file of files) {
      for (const match of readFileSync(file, 'utf8').matchAll(/RAISE\(ABORT, '([^']*)'\)/g)) raised.add(match[1]!);
    }
    assert.ok(raised.size > 10);
    for (const message of raised) {
      const [, code, tail] = /^STELE:([A-Z_]+)(?::(.*))?$/s.exec(message)!;
      if (code === 'APPEND_ONLY_VIOLATION') {
        assert.ok(FORMAT_MD.includes(`:${tail}`), `FORMAT.md names APPEND_ONLY_VIOLATION:${tail}`);
        continue;
      }
      assert.ok(FORMAT_MD.includes(`\`${message}\``), `FORMAT.md lists ${message}`);
    }
  });
});

describe('real ledger files verified with the independent implementation', () => {
  /** Appends a varied ledger through the public API, closes it, returns its path and results. */
  async function writeLedger(t: TestContext): Promise<{ path: string; results: AppendResult[] }> {
    const path = tempLedgerPath(t);
    const ledger = await reopen(t, path);
    const results: AppendResult[] = [];
    results.push(
      await ledger.append({
        eventId: 'order-1-placed',
        type: 'order_placed',
        streamId: 'order-1',
        payload: {
          at: new Date('2024-02-29T12:00:00.000Z'),
          total: 12345678901234567890n,
          lines: new Map([['sku-1', { qty: 2, note: undefined }]]),
          tags: new Set(['gift']),
        },
        metadata: { correlationId: 'c-1', actor: 'zoë' },
      }),
    );
    results.push(
      // An id with a raw NUL: hashed by its full byte length, not as a C string (FORMAT.md).
      await ledger.append({ eventId: 'note-1', type: 'note', streamId: 'user-ζ', payload: { text: 'naïve café 日本語 🎉' } }),
    );
    results.push(
      ...(await ledger.appendBatch([
        { type: 'order_paid', streamId: 'order-1', payload: { amount: 10n }, expectedVersion: 0 },
        { type: 'seen', streamId: 'user-ζ', metadata: { via: 'batch' } },
        { type: 'tick' },
        { type: 'order_shipped', streamId: 'order-1', payload: null },
      ])),
    );
    results.push(
      await ledger.append({
        type: 'late',
        streamId: 'user-ζ',
        payload: [],
        localTimestamp: new Date(Date.now() - 60_000),
      }),
    );
    await ledger.close();
    return { path, results };
  }

  test('a ledger written through openLedger verifies from a plain read-only connection', async (t) => {
    const { path, results } = await writeLedger(t);
    assert.deepEqual(verifyLedgerFile(path), { checked: 7, faults: [] });

    const db = new Database(path, { readonly: true, fileMustExist: true });
    t.after(() => db.close());
    // user_version is the number of the last native-sql/upgrades/NNN-*.sql file.
    const lastMigration = Math.max(
      ...readdirSync(new URL('../native-sql/upgrades/', import.meta.url)).filter((f) => /^\d{3}-.*\.sql$/.test(f)).map((f) => Number(f.slice(0, 3))),
    );
    assert.ok(lastMigration >= 1);
    assert.equal(db.pragma('user_version', { simple: true }), lastMigration);
    assert.deepEqual(db.prepare("SELECT key, value FROM ledger_meta WHERE key IN ('format', 'event_hash') ORDER BY key").all(), [
      { key: 'event_hash', value: 'stele/event/v1' },
      { key: 'format', value: 'stele' },
    ]);

    const rows = db.prepare('SELECT * FROM events ORDER BY sequence').all() as Row[];
    // What append() acknowledged is what the file holds, and the independent hash agrees.
    assert.deepEqual(
      rows.map((row) => [row.sequence, row.stream_id, row.stream_version, row.prev_hash, row.content_hash, contentHash(row)]),
      results.map((r) => [r.sequence, r.streamId, r.streamVersion, r.prevHash, r.contentHash, r.contentHash]),
    );
    // Stream versions are 0..k per stream, in sequence order.
    assert.deepEqual(
      rows.map((row) => `${row.stream_id as string}@${row.stream_version as number}`),
      ['order-1@0', 'user-ζ@0', 'order-1@1', 'user-ζ@1', `${DEFAULT_STREAM}@0`, 'order-1@2', 'user-ζ@2'],
    );
    // The batch went in with one statement per event but shares the transaction; the stored text
    // is JSON plus superjson annotations, NULL for undefined.
    const first = rows[0]!;
    assert.equal(JSON.parse(first.payload as string).total, '12345678901234567890');
    assert.ok(JSON.parse(first.payload_meta as string).values.total[0] === 'bigint');
    assert.equal(rows[4]!.payload, null);
    assert.equal(rows[4]!.payload_meta, null);
    assert.equal(rows[5]!.payload, 'null');
    assert.equal(rows[1]!.metadata, null);
    assert.ok((rows[1]!.payload as string).includes('日本語 🎉'));
    assert.equal(rows[1]!.event_id, 'note-1');
    // The late event drew a drift warning that copies its timestamps.
    const late = rows[6]!;
    assert.deepEqual(db.prepare('SELECT * FROM clock_drift_warnings').all(), [
      {
        sequence: 7,
        local_timestamp: late.local_timestamp,
        authority_timestamp: late.authority_timestamp,
        drift_ms: (late.authority_timestamp as number) - (late.local_timestamp as number),
        threshold_ms: 5000,
      },
    ]);
  });

  test("FORMAT.md's SQL query yields the same hashed bytes as the independent implementation", async (t) => {
    const { path } = await writeLedger(t);
    const db = new Database(path, { readonly: true, fileMustExist: true });
    t.after(() => db.close());
    const sql = codeBlockAfter('The same bytes in plain SQL');
    const fromSql = db.prepare(sql).all() as { sequence: number; content_hash: string; hashed_hex: string }[];
    const rows = db.prepare('SELECT * FROM events ORDER BY sequence').all() as Row[];
    assert.equal(fromSql.length, 7);
    fromSql.forEach((result, i) => {
      assert.equal(result.hashed_hex, hashedBytes(rows[i]!).toString('hex'), `sequence ${result.sequence}`);
      assert.equal(createHash('sha256').update(Buffer.from(result.hashed_hex, 'hex')).digest('hex'), result.content_hash);
    });
  });

  test('a payload edited behind the triggers is reported at exactly that sequence', async (t) => {
    const { path } = await writeLedger(t);
    const copy = tempLedgerPath(t, 'tampered.db');
    copyLedger(path, copy);
    assert.deepEqual(verifyLedgerFile(copy).faults, []);

    editBehindTriggers(copy, (db) => {
      assert.throws(() => db.prepare("UPDATE events SET payload = '{\"amount\":\"1000000\"}' WHERE sequence = 3").run(), {
        message: 'STELE:APPEND_ONLY_VIOLATION:update',
      });
      db.exec('DROP TRIGGER events_no_update');
      const changed = db.prepare("UPDATE events SET payload = '{\"amount\":\"1000000\"}' WHERE sequence = 3").run();
      assert.equal(changed.changes, 1);
    });

    assert.deepEqual(verifyLedgerFile(copy), { checked: 7, faults: [{ sequence: 3n, reason: 'content_hash' }] });
    assert.deepEqual(verifyLedgerFile(path).faults, [], 'the original is untouched');
  });

  test('a deleted row is reported as a break in continuity', async (t) => {
    const { path } = await writeLedger(t);
    const copy = tempLedgerPath(t, 'tampered.db');
    copyLedger(path, copy);
    editBehindTriggers(copy, (db) => {
      db.exec('DROP TRIGGER events_no_delete');
      assert.equal(db.prepare('DELETE FROM events WHERE sequence = 5').run().changes, 1);
    });
    assert.deepEqual(verifyLedgerFile(copy), { checked: 6, faults: [{ sequence: 6n, reason: 'sequence' }] });
  });

  test('a stream version forged with every later hash recomputed is still caught', async (t) => {
    const { path } = await writeLedger(t);
    const copy = tempLedgerPath(t, 'tampered.db');
    copyLedger(path, copy);
    editBehindTriggers(copy, (db) => {
      db.exec('DROP TRIGGER events_no_update');
      // order-1 is at versions 0 (seq 1), 1 (seq 3), 2 (seq 6): make seq 6 claim version 5 and
      // re-seal the chain from there, so that links and content hashes are all consistent again.
      db.prepare('UPDATE events SET stream_version = 5 WHERE sequence = 6').run();
      const rows = db.prepare('SELECT * FROM events WHERE sequence >= 6 ORDER BY sequence').all() as Row[];
      let previous = (db.prepare('SELECT content_hash FROM events WHERE sequence = 5').pluck().get() as string);
      const reseal = db.prepare('UPDATE events SET prev_hash = ?, content_hash = ? WHERE sequence = ?');
      for (const row of rows) {
        const resealed = { ...row, prev_hash: previous };
        previous = contentHash(resealed);
        reseal.run(resealed.prev_hash, previous, row.sequence);
      }
    });
    assert.deepEqual(verifyLedgerFile(copy), { checked: 7, faults: [{ sequence: 6n, reason: 'stream_version' }] });
  });

  test('a ledger with agent keys, signed events, a revocation and a cleared halt verifies, signatures included', async (t) => {
    const path = tempLedgerPath(t);
    const ledger = await reopen(t, path);
    const bot = nacl.sign.keyPair.fromSeed(new Uint8Array(SEED_AGENT));
    const spare = generateAgentKeyPair();
    await ledger.registerAgentKey('billing-bot', AGENT_PUBLIC_KEY, { keyId: 'k1' });
    await ledger.registerAgentKey('billing-bot', spare.publicKey, { keyId: 'k2' });
    const witnesses = { alice: generateAgentKeyPair(), bob: generateAgentKeyPair() };
    for (const [name, keys] of Object.entries(witnesses)) await ledger.registerAgentKey(name, keys.publicKey, { role: 'witness' });
    const vector = await ledger.append(signEvent(SIGNED_INPUT, 'billing-bot', bot.secretKey));
    await ledger.append(signEvent({ type: 'invoice_paid', streamId: 'invoice-7', metadata: { via: 'spare' } }, 'billing-bot', spare.secretKey));
    await ledger.append({ type: 'unsigned_note' });
    await ledger.revokeAgentKey('billing-bot', 'k2', 'rotated');
    const halt = await ledger.halt('audit');
    const reason = 'checked';
    await ledger.clearHalt({
      reason,
      witnesses: [
        witnessClearHalt({ sequence: halt.sequence, contentHash: halt.contentHash }, reason, 'alice', witnesses.alice.secretKey),
        witnessClearHalt({ sequence: halt.sequence, contentHash: halt.contentHash }, reason, 'bob', witnesses.bob.secretKey),
      ],
    });
    await ledger.append(signEvent({ type: 'after_halt', streamId: 'invoice-7' }, 'billing-bot', bot.secretKey));
    await ledger.close();

    assert.deepEqual(verifyLedgerFile(path), { checked: 11, faults: [] });
    assert.deepEqual(signatureFaultsFromTables(path), { signed: 3, bad: [] });

    const db = new Database(path, { readonly: true, fileMustExist: true });
    t.after(() => db.close());
    // The vector event, appended for real, stores exactly the vector's signed columns and signature.
    const row = db.prepare('SELECT * FROM events WHERE sequence = ?').get(vector.sequence) as Row;
    for (const [column] of SIGNABLE_COLUMNS) assert.equal(row[column], SIGNED_ROW[column], column);
    assert.equal(row.signature, SIGNATURE_BASE64);
    assert.equal(signableBytesOfRow(row).toString('hex'), SIGNABLE_HEX);
    assert.equal(db.prepare("SELECT value FROM ledger_meta WHERE key = 'witness_quorum'").pluck().get(), '2');
    assert.deepEqual(
      db.prepare('SELECT agent_id, key_id, role, registered_sequence FROM agent_keys ORDER BY registered_sequence').all(),
      [
        { agent_id: 'billing-bot', key_id: 'k1', role: 'agent', registered_sequence: 1 },
        { agent_id: 'billing-bot', key_id: 'k2', role: 'agent', registered_sequence: 2 },
        { agent_id: 'alice', key_id: createHash('sha256').update(witnesses.alice.publicKey).digest('hex').slice(0, 16), role: 'witness', registered_sequence: 3 },
        { agent_id: 'bob', key_id: createHash('sha256').update(witnesses.bob.publicKey).digest('hex').slice(0, 16), role: 'witness', registered_sequence: 4 },
      ],
    );
    assert.deepEqual(db.prepare('SELECT * FROM agent_key_revocations').all(), [
      { agent_id: 'billing-bot', key_id: 'k2', revoked_sequence: 8, reason: 'rotated' },
    ]);
    // The reserved events' payloads are the documented ones.
    const payloads = db.prepare("SELECT type, payload FROM events WHERE stream_id IN ('$agents', '$halt') ORDER BY sequence").all() as Row[];
    assert.deepEqual(payloads.map((p) => [p.type, Object.keys(JSON.parse(p.payload as string))]), [
      ['stele.agent_key_registered', ['agentId', 'keyId', 'publicKey', 'role']],
      ['stele.agent_key_registered', ['agentId', 'keyId', 'publicKey', 'role']],
      ['stele.agent_key_registered', ['agentId', 'keyId', 'publicKey', 'role']],
      ['stele.agent_key_registered', ['agentId', 'keyId', 'publicKey', 'role']],
      ['stele.agent_key_revoked', ['agentId', 'keyId', 'reason']],
      ['stele.halted', ['reason']],
      ['stele.halt_cleared', ['reason', 'haltSequence', 'witnesses']],
    ]);

    // A signature forged behind the triggers, with every later hash recomputed, is caught by the
    // signature check alone; a key smuggled into agent_keys does not make it valid.
    const copy = tempLedgerPath(t, 'forged.db');
    copyLedger(path, copy);
    const mallory = generateAgentKeyPair();
    editBehindTriggers(copy, (edit) => {
      edit.exec('DROP TRIGGER events_no_update; DROP TRIGGER agent_keys_only_from_events');
      const forged = signEvent({ ...SIGNED_INPUT, payload: { invoice: 7, amount: 1n } }, 'billing-bot', mallory.secretKey);
      const encoded = encodeValue(forged.payload, 'payload');
      edit.prepare('UPDATE events SET payload = ?, payload_meta = ?, signature = ? WHERE sequence = ?')
        .run(encoded.json, encoded.meta, forged.signature, vector.sequence);
      const rows = edit.prepare('SELECT * FROM events WHERE sequence >= ? ORDER BY sequence').all(vector.sequence) as Row[];
      let previous = edit.prepare('SELECT content_hash FROM events WHERE sequence = ?').pluck().get(vector.sequence - 1) as string;
      const reseal = edit.prepare('UPDATE events SET prev_hash = ?, content_hash = ? WHERE sequence = ?');
      for (const r of rows) {
        const resealed = { ...r, prev_hash: previous };
        previous = contentHash(resealed);
        reseal.run(resealed.prev_hash, previous, r.sequence);
      }
      edit.prepare("INSERT INTO agent_keys VALUES ('billing-bot', 'mallory', ?, 'agent', 9)").run(mallory.publicKey);
    });
    const forged = verifyLedgerFile(copy);
    assert.deepEqual(forged, {
      checked: 11,
      faults: [
        // The witnesses signed the original halt hash, which the reseal changed: the ceremony fails too.
        { sequence: BigInt(vector.sequence), reason: 'signature' },
        { sequence: BigInt(halt.sequence + 1), reason: 'ceremony' },
        { sequence: 9n, reason: 'agent_keys' },
      ],
    });
  });

  test('a connection without the Stele functions cannot append to the file', async (t) => {
    const { path } = await writeLedger(t);
    const db = new Database(path);
    t.after(() => db.close());
    assert.throws(
      () => db.prepare("INSERT INTO append_event (event_id, stream_id, type, local_timestamp) VALUES ('x', 's', 't', 1)"),
      /no such function: stele_/,
    );
    assert.throws(
      () =>
        db.prepare(
          `INSERT INTO events (sequence, event_id, stream_id, stream_version, type, local_timestamp,
                               authority_timestamp, prev_hash, content_hash) VALUES (9, 'x', 's', 0, 't', 1, 1, '', '')`,
        ),
      /no such function: stele_/,
    );
  });
});

describe('stored checkpoints verified with the independent implementation', () => {
  const ORIGIN = 'example.com/stele/format-spec';

  /**
   * A ledger with a taxonomy, 21 ticks (one complete tile), checkpoints of sizes 18 and 21, the
   * first cosigned by a witness and stored again after the second (a `stele.checkpoint_cosigned`),
   * and a checkpoint stored while halted.
   */
  async function writeCheckpointedLedger(t: TestContext) {
    const log = generateKeyPair(ORIGIN);
    const witness = generateKeyPair('witness.example/w1', { type: SIGNATURE_TYPE_COSIGNATURE_V1 });
    const path = tempLedgerPath(t);
    const ledger = await reopen(t, path, { checkpoint: { origin: ORIGIN, secretKey: log.signerKey } });
    await ledger.setEventTypes(['tick']);
    await ledger.appendBatch(Array.from({ length: 17 }, (_, i) => ({ type: 'tick', payload: { i } })));
    const first = await ledger.storeCheckpoint();
    await ledger.appendBatch([{ type: 'tick' }, { type: 'tick' }]);
    const second = await ledger.storeCheckpoint();
    const cosigned = cosignCheckpoint(first.note, { secretKey: witness.signerKey, logKey: log.verifierKey });
    const repeat = await ledger.addCosignatures(cosigned.signedCheckpoint, { witnessKeys: [witness.verifierKey] });
    await ledger.halt('audit');
    const whileHalted = await ledger.storeCheckpoint();
    await ledger.close();
    return { path, log, checkpoints: [first, second, repeat, whileHalted] };
  }

  /**
   * A copy of the ledger with row `sequence`'s payload (and, given `type`, its type) rewritten
   * behind the triggers and the chain recomputed from it.
   */
  function rewritten(t: TestContext, path: string, sequence: number, payload: (row: Row) => string, type?: string): string {
    const copy = tempLedgerPath(t, `tampered-${sequence}-${Math.random().toString(36).slice(2)}.db`);
    copyLedger(path, copy);
    tamper(copy, (db) => {
      const row = db.prepare('SELECT * FROM events WHERE sequence = ?').get(sequence) as Row;
      db.prepare('UPDATE events SET payload = ?, type = ? WHERE sequence = ?').run(payload(row), type ?? row.type, sequence);
      let previous = db.prepare('SELECT content_hash FROM events WHERE sequence = ?').pluck().get(sequence - 1) as string;
      const reseal = db.prepare('UPDATE events SET prev_hash = ?, content_hash = ? WHERE sequence = ?');
      for (const row of db.prepare('SELECT * FROM events WHERE sequence >= ? ORDER BY sequence').all(sequence) as Row[]) {
        const resealed = { ...row, prev_hash: previous };
        previous = contentHash(resealed);
        reseal.run(resealed.prev_hash, previous, row.sequence);
      }
    });
    return copy;
  }

  /** A `$checkpoints` payload for `checkpoint`, signed with `signerKey`. */
  function checkpointPayload(logKey: string, signerKey: string, checkpoint: { origin: string; size: number; rootHash: Uint8Array }): string {
    return JSON.stringify({ logKey, note: signCheckpoint(checkpoint, signerKey) });
  }

  /** The RFC 9162 root of the first `size` events of a file, from its content hashes. */
  function rootAt(path: string, size: number): Buffer {
    const db = new Database(path, { readonly: true });
    try {
      return treeRootOf((db.prepare('SELECT content_hash FROM events WHERE sequence <= ? ORDER BY sequence').pluck().all(size) as string[]).map(leafOf));
    } finally {
      db.close();
    }
  }

  test('a ledger with stored checkpoints, their cosignatures stored late and a checkpoint stored while halted verifies with both verifiers', async (t) => {
    const { path, log, checkpoints } = await writeCheckpointedLedger(t);
    assert.deepEqual(checkpoints.map((c) => [c.sequence, c.treeSize]), [[19, 18], [22, 21], [23, 18], [25, 24]]);
    assert.deepEqual(verifyLedgerFile(path), { checked: 25, faults: [] });
    assert.deepEqual(verifyLedgerFile(path, { trustedLogKey: log.verifierKey }), { checked: 25, faults: [] });
    assert.deepEqual(await verifyWithStele(path, { trustedLogKey: log.verifierKey }), { ok: true, checked: 25 });

    const db = new Database(path, { readonly: true, fileMustExist: true });
    t.after(() => db.close());
    const rows = db.prepare("SELECT * FROM events WHERE stream_id = '$checkpoints' ORDER BY sequence").all() as Row[];
    // The documented payload: {"logKey", "note"}, payload_meta NULL, nothing signed by an agent;
    // the cosignatures are a `stele.checkpoint_cosigned`, the others new trees.
    assert.deepEqual(
      rows.map((row) => [row.type, row.payload_meta, row.agent_id, row.signature, Object.keys(JSON.parse(row.payload as string))]),
      ['stele.checkpoint', 'stele.checkpoint', 'stele.checkpoint_cosigned', 'stele.checkpoint'].map((type) => [type, null, null, null, ['logKey', 'note']]),
    );
    const parsed = rows.map((row) => storedCheckpointOf(row)!);
    assert.ok(parsed.every((c) => c.logKey === log.verifierKey && c.origin === ORIGIN));
    // The cosigned one is the first checkpoint's body with the witness's line after the log's,
    // stored after a larger tree.
    assert.equal(parsed[2]!.body, parsed[0]!.body);
    assert.ok(parsed[2]!.size < parsed[1]!.size);
    assert.deepEqual(parsed.map((c) => c.signatures.length), [1, 1, 2, 1]);
    // Each root is the tree of the content hashes at its size, recomputed here.
    for (const c of parsed) assert.ok(c.root.equals(rootAt(path, c.size)), `root at ${c.size}`);
  });

  test('a log key other than the one held outside the file is a checkpoint fault for both verifiers', async (t) => {
    const { path } = await writeCheckpointedLedger(t);
    const other = generateKeyPair(ORIGIN).verifierKey;
    assert.deepEqual(verifyLedgerFile(path, { trustedLogKey: other }).faults.map((f) => [f.sequence, f.reason]), [
      [19n, 'checkpoint'], [22n, 'checkpoint'], [23n, 'checkpoint'], [25n, 'checkpoint'],
    ]);
    const result = await verifyWithStele(path, { trustedLogKey: other });
    assert.deepEqual([result.ok, result.firstBad?.sequence, result.firstBad?.reason], [false, 19, 'checkpoint']);
  });

  test('checkpoints rewritten behind the triggers, the chain recomputed, are rejected by both verifiers', async (t) => {
    const { path, log } = await writeCheckpointedLedger(t);
    const payloadOfRow = (row: Row) => JSON.parse(row.payload as string) as { logKey: string; note: string };
    /** The row's checkpoint with `change` applied to its text, the note signed again by `signerKey` (null: its signature line kept as it was). */
    const resigned = (change: (c: StoredCheckpointRow) => { origin?: string; size?: number; rootHash?: Uint8Array }, signerKey: string | null = log.signerKey) =>
      (row: Row) => {
        const c = storedCheckpointOf(row)!;
        const next = { origin: c.origin, size: c.size, rootHash: c.root, ...change(c) };
        if (signerKey) return checkpointPayload(c.logKey, signerKey, next);
        const { logKey, note } = payloadOfRow(row);
        return JSON.stringify({ logKey, note: note.replace(c.root.toString('base64'), Buffer.from(next.rootHash).toString('base64')) });
      };
    const flipped = (root: Buffer) => Buffer.from(flipHexDigit(root.toString('hex'), 5), 'hex');
    const original = new Database(path, { readonly: true, fileMustExist: true });
    const firstPayload = original.prepare('SELECT payload FROM events WHERE sequence = 19').pluck().get() as string;
    original.close();
    const same = (row: Row) => row.payload as string;
    const cases: { name: string; sequence: number; payload: (row: Row) => string; type?: string; faults: number[]; detail: RegExp }[] = [
      // The log's signature covers the root: an altered root fails it.
      { name: 'root altered', sequence: 22, payload: resigned((c) => ({ rootHash: flipped(c.root) }), null), faults: [22, 25], detail: /signature/ },
      // Even with the log's key, the root must be the file's tree at that size.
      { name: 'root altered and signed again by the log', sequence: 22, payload: resigned((c) => ({ rootHash: flipped(c.root) })), faults: [22, 25], detail: /another root/ },
      { name: 'another origin', sequence: 22, payload: resigned(() => ({ origin: 'example.com/other' })), faults: [22, 25], detail: /origin/ },
      { name: 'a checkpoint of its own row', sequence: 25, payload: resigned(() => ({ size: 25 })), faults: [25], detail: /covers only the events before it/ },
      { name: 'an older tree with a new text', sequence: 25, payload: resigned(() => ({ size: 10, rootHash: rootAt(path, 10) })), faults: [25], detail: /no larger than the newest/ },
      // A new tree must be larger than the newest: repeating an earlier size's text takes a `stele.checkpoint_cosigned`.
      { name: "a checkpoint repeating an earlier size's text", sequence: 25, payload: () => firstPayload, faults: [25], detail: /no larger than the newest/ },
      { name: 'cosignatures stored as a new checkpoint', sequence: 23, payload: same, type: 'stele.checkpoint', faults: [23, 25], detail: /no larger than the newest/ },
      // Cosignatures need the text of an earlier `stele.checkpoint`, even when log-signed and of the file's own tree.
      // (Rows 22 and 23 are leaves of the checkpoint of size 24, whose root they break too.)
      { name: 'cosignatures of a text never stored', sequence: 23, payload: resigned(() => ({ size: 20, rootHash: rootAt(path, 20) })), faults: [23, 25], detail: /not stored/ },
      { name: 'a new checkpoint stored as cosignatures', sequence: 22, payload: same, type: 'stele.checkpoint_cosigned', faults: [22, 25], detail: /not stored/ },
      // Row 19 is itself a leaf of the checkpoints of sizes 21 and 24, whose roots it now breaks;
      // and the cosignatures of row 23 are of a text no longer stored.
      { name: 'not a checkpoint', sequence: 19, payload: (row) => JSON.stringify({ ...payloadOfRow(row), at: 1 }), faults: [19, 22, 23, 25], detail: /payload must be/ },
      // History below a checkpoint rewritten: the checkpoints that cover it no longer match.
      { name: 'an event under a checkpoint', sequence: 20, payload: () => '{"forged":true}', faults: [22, 25], detail: /another root/ },
    ];
    for (const { name, sequence, payload, type, faults, detail } of cases) {
      const copy = rewritten(t, path, sequence, payload, type);
      assert.deepEqual(
        verifyLedgerFile(copy).faults.map((f) => [Number(f.sequence), f.reason]),
        faults.map((at) => [at, 'checkpoint']),
        `${name}: the independent verifier`,
      );
      const result = await verifyWithStele(copy);
      assert.equal(result.ok, false, `${name}: verify()`);
      assert.deepEqual([result.firstBad?.sequence, result.firstBad?.reason], [faults[0], 'checkpoint'], `${name}: verify()`);
      assert.match(result.firstBad?.detail ?? '', detail, `${name}: verify()'s rule`);
    }
  });
});

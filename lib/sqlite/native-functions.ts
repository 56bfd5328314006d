/**
 * The SQL functions `native-sql/` triggers call: the content hash, the signature checks and the
 * settings the triggers read. Without them a connection can read but cannot append: inserting
 * into `events` does not even prepare.
 * @internal
 */
import type Database from 'better-sqlite3';
import { SIGNED_COLUMNS } from '../format/columns.ts';
import { isValidPublicKey, verifyEd25519 } from '../format/ed25519.ts';
import { clearHaltBytes, eventHash, promoteReplicaBytes, signatureVerdict, signedBytesOf } from '../format/hash-bytes.ts';
import { merkleLeafHash, merkleNodeHash, merkleSubtreeHash, TILE_LEAVES } from '../format/merkle-hash.ts';
import { nodeHash, treeRoot } from '../proofs/merkle-tree.ts';
import { signedByLogKey, storedCheckpointPayload } from './stored-checkpoint.ts';

/** What `stele_merkle_tile` gathers while SQLite steps through a tile's events. */
interface TileInput {
  first: number;
  hashes: unknown[];
  count: number;
  valid: boolean;
}

/** Settings the triggers read through registered functions rather than from a table. */
export interface NativeFunctionSettings {
  driftThresholdMs: number;
  /**
   * The writer's verdicts of signatures Stele verified before their events arrived (see
   * `signatureVerdict`): a hit is one lookup instead of one Ed25519 verification. Only the writer
   * connection has them; every other connection verifies each signature itself.
   */
  signatureVerdicts?: Set<string>;
}

/** Registers Stele's functions on a connection that will append. */
export function registerNativeFunctions(db: Database.Database, settings: NativeFunctionSettings): void {
  // One-entry memo: the events guard recomputes the hash the append view's trigger computed a
  // moment before, from the same values. The function is deterministic, so returning the previous
  // result for identical arguments is exactly what recomputing would give, at half the cost.
  let lastValues: unknown[] = [];
  let lastHash = '';
  db.function('stele_event_hash', { deterministic: true, varargs: true }, (...values: unknown[]) => {
    if (values.length === lastValues.length && values.every((value, i) => value === lastValues[i])) return lastHash;
    lastHash = eventHash(values);
    lastValues = values;
    return lastHash;
  });
  db.function('stele_drift_threshold_ms', { deterministic: true }, () => settings.driftThresholdMs);
  db.function('stele_public_key_valid', { deterministic: true }, (key: unknown) => (isValidPublicKey(key) ? 1 : 0));
  db.function('stele_signature_valid', { deterministic: true, varargs: true }, (key: unknown, signature: unknown, ...signed: unknown[]) => {
    if (signed.length !== SIGNED_COLUMNS.length) {
      throw new TypeError(`stele_signature_valid takes ${2 + SIGNED_COLUMNS.length} arguments, got ${2 + signed.length}`);
    }
    const bytes = signedBytesOf(signed);
    const verdicts = settings.signatureVerdicts;
    if (verdicts !== undefined && verdicts.size > 0 && typeof key === 'string' && typeof signature === 'string' && verdicts.has(signatureVerdict(key, signature, bytes))) {
      return 1;
    }
    return verifyEd25519(key, bytes, signature) ? 1 : 0;
  });
  db.function(
    'stele_clear_halt_signature_valid',
    { deterministic: true },
    (key: unknown, signature: unknown, haltSequence: unknown, haltHash: unknown, reason: unknown) =>
      verifyEd25519(key, clearHaltBytes(Number(haltSequence), String(haltHash), String(reason)), signature) ? 1 : 0,
  );
  db.function(
    'stele_promotion_signature_valid',
    { deterministic: true },
    (key: unknown, signature: unknown, replicaId: unknown, headSequence: unknown, headHash: unknown, reason: unknown) =>
      verifyEd25519(key, promoteReplicaBytes(String(replicaId), Number(headSequence), String(headHash), String(reason)), signature) ? 1 : 0,
  );
  registerMerkleFunctions(db);
  registerCheckpointFunctions(db);
}

/**
 * The tree functions of `schema/8-merkle-tree.sql` (and, for files upgraded from schema 5 to 8,
 * `stele_merkle_leaf` of their triggers). A missing input (NULL: no such event or child
 * row) gives NULL, which the guard of merkle_nodes refuses as a wrong hash.
 */
function registerMerkleFunctions(db: Database.Database): void {
  // One-entry memos: the guard of merkle_nodes recomputes, from the same inputs, the hash the
  // trigger that inserts the row computed a moment before.
  let lastContentHash: unknown;
  let lastLeaf: Buffer = Buffer.alloc(0);
  db.function('stele_merkle_leaf', { deterministic: true }, (contentHash: unknown) => {
    if (contentHash === null) return null;
    if (contentHash !== lastContentHash) {
      lastLeaf = merkleLeafHash(contentHash);
      lastContentHash = contentHash;
    }
    return lastLeaf;
  });
  // The tile of 16 leaves, from its events in any order: each event at its own leaf, so the
  // result is the tile's whatever order SQLite steps the rows in; NULL unless exactly the 16
  // events of one tile were given. Memo as above, by the whole input.
  let lastTile = '';
  let lastTileHash: Buffer = Buffer.alloc(0);
  db.aggregate('stele_merkle_tile', {
    start: () => ({ first: -1, hashes: new Array<unknown>(TILE_LEAVES), count: 0, valid: true }),
    step: (tile: TileInput, sequence: unknown, contentHash: unknown) => {
      if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1) return void (tile.valid = false);
      const first = sequence - ((sequence - 1) % TILE_LEAVES);
      if (tile.first === -1) tile.first = first;
      const at = sequence - first;
      if (first !== tile.first || tile.hashes[at] !== undefined) return void (tile.valid = false);
      tile.hashes[at] = contentHash;
      tile.count++;
    },
    result: (tile: TileInput) => {
      if (!tile.valid || tile.count !== TILE_LEAVES) return null;
      const key = tile.hashes.join('');
      if (key !== lastTile) {
        lastTileHash = merkleSubtreeHash(tile.hashes);
        lastTile = key;
      }
      return lastTileHash;
    },
    // better-sqlite3's types know steps of one argument; SQLite passes each call's two.
  } as unknown as Parameters<Database.Database['aggregate']>[1]);
  let lastLeft: Buffer = Buffer.alloc(0);
  let lastRight: Buffer = Buffer.alloc(0);
  let lastNode: Buffer = Buffer.alloc(0);
  db.function('stele_merkle_node', { deterministic: true }, (left: unknown, right: unknown) => {
    if (left === null || right === null) return null;
    if (!(left instanceof Buffer && right instanceof Buffer && left.equals(lastLeft) && right.equals(lastRight))) {
      lastNode = merkleNodeHash(left, right);
      lastLeft = left as Buffer;
      lastRight = right as Buffer;
    }
    return lastNode;
  });
}

/** What `stele_merkle_root` gathers: complete subtrees by `start/level`, and the end of the tree they cover. */
interface RootInput {
  parts: Map<string, Uint8Array>;
  size: number;
}

/**
 * The functions of `schema/10-checkpoints.sql`, which checks a stored checkpoint against the
 * file's own tree: its parts (NULL for a payload that is not a well-formed checkpoint), its log
 * signature, and the root of a past size from the stored nodes and the leaves below a tile.
 */
function registerCheckpointFunctions(db: Database.Database): void {
  db.function('stele_checkpoint_part', { deterministic: true }, (payload: unknown, part: unknown) => {
    const checkpoint = storedCheckpointPayload(payload);
    if (!checkpoint) return null;
    switch (part) {
      case 'size':
        return checkpoint.size;
      case 'root':
        return Buffer.from(checkpoint.rootHash);
      case 'body':
        return checkpoint.body;
      case 'origin':
        return checkpoint.origin;
      case 'log_key':
        return checkpoint.logKey;
      default:
        throw new TypeError(`stele_checkpoint_part has no part ${String(part)}`);
    }
  });
  db.function('stele_checkpoint_signed', { deterministic: true }, (payload: unknown) => {
    const checkpoint = storedCheckpointPayload(payload);
    return checkpoint && signedByLogKey(checkpoint) ? 1 : 0;
  });
  // The RFC 9162 root of the tree the given complete subtrees (start leaf, level, hash) tile
  // from leaf 0, in any order: the stored nodes of a size's binary decomposition and the leaf
  // hashes below the lowest of them. NULL when they do not tile [0, size) or a hash is missing.
  db.aggregate('stele_merkle_root', {
    start: () => ({ parts: new Map(), size: 0 }),
    step: (input: RootInput, start: unknown, level: unknown, hash: unknown) => {
      if (typeof start !== 'number' || typeof level !== 'number' || !(hash instanceof Uint8Array)) return void (input.size = Number.NaN);
      input.parts.set(`${start}/${level}`, hash);
      input.size = Math.max(input.size, start + 2 ** level);
    },
    result: (input: RootInput) => {
      if (!(input.size > 0)) return null;
      const subtreeHash = (start: number, level: number): Uint8Array => {
        const stored = input.parts.get(`${start}/${level}`);
        if (stored) return stored;
        if (level === 0) throw new RangeError(`no leaf ${start}`);
        return nodeHash(subtreeHash(start, level - 1), subtreeHash(start + 2 ** (level - 1), level - 1));
      };
      try {
        return Buffer.from(treeRoot({ size: input.size, subtreeHash }, input.size));
      } catch {
        return null;
      }
    },
  } as unknown as Parameters<Database.Database['aggregate']>[1]);
}

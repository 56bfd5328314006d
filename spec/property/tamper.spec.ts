/**
 * Property: a random edit to a random column of a random row, made behind the triggers (the
 * update and delete guards dropped on a copy of the file), is reported by verifyLedgerFile at
 * exactly that row, with the reason the check order gives it, whatever the range size. Untampered
 * ledgers always verify, over any subrange.
 *
 * Which reason each edit must produce (checks per row: sequence gap, prev_hash, stream_version,
 * content_hash, signature; the lowest faulty row wins):
 *  - payload, metadata, type, event_id, local_timestamp, authority_timestamp: row k's stored hash
 *    no longer matches its content → content_hash at k.
 *  - content_hash (a hex digit flipped): row k's recomputed hash differs from the stored one →
 *    content_hash at k (row k+1's link breaks too, but later).
 *  - prev_hash (a hex digit flipped): prev_hash at k, the first row whose link breaks.
 *  - stream_version (+1 on a stream's newest row, +1000 otherwise to stay clear of the unique
 *    (stream_id, stream_version) constraint): stream_version at k.
 *  - stream_id moved to a new stream: stream_version at k, unless the row was version 0 of its
 *    stream, which is also the right version in the new stream → content_hash at k.
 *  - delete row k (not the newest: deleting the tail is invisible to the chain alone) →
 *    sequence_gap at k; renumber row k far past the head → sequence_gap at k.
 *  - forge: agent_id and a signature set on row k and the whole chain recomputed from k, so every
 *    hash and link is right again → only the signature check can tell: signature at k.
 *  - the rules, each with the chain recomputed from k so that only the replayed rule can tell
 *    (row k becomes version 0 of a reserved stream; the rows it left behind break their stream's
 *    versions, but later): an unknown `$` stream or an ordinary type in `$agents` → reserved_stream
 *    at k; revoking a key never registered → key_revocation at k; registering a key that is not a
 *    point → key_registration at k; clearing a halt that does not exist → ceremony at k; a halt
 *    at k < size → the next row is appended while halted: halted at k+1 (stream_version when that
 *    row was in row k's old stream, whose versions it now skips).
 *  - ceremony records (schema 6's independent witnesses), rows k.. rewritten and the chain
 *    recomputed: a halt at k and a witness registered at k+1 → key_registration at k+1; one public
 *    key registered as an agent at k and as a witness at k+1 → key_registration at k+1; one key
 *    registered as two witnesses (k, k+1), a halt at k+2 and a ceremony at k+3 that both names
 *    sign for real → ceremony at k+3.
 *  - a stored checkpoint (the newest row, of the tree before it), one byte of its note's root
 *    changed and the chain recomputed: with the log's signature line kept, which no longer
 *    verifies, or signed again with the log's key, so that only the file's tree can tell →
 *    checkpoint at k, after every row and the tree passed (the size never a multiple of 16, so
 *    that no tile node covers the rewritten row).
 *  - the tables that are not hashed, the chain intact: a valid key registration written into the
 *    newest row behind the triggers (so `agent_keys` lacks its row) → derived_table at 0 after
 *    every row passed; `ledger_meta.witness_quorum` rewritten → ledger_meta at 0 before any row.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import type Database from 'better-sqlite3';
import { generateAgentKeyPair, openLedger, witnessClearHalt } from '../../lib/index.ts';
import { generateKeyPair, signCheckpoint } from '../../lib/proofs/index.ts';
import { verifyLedgerFile, type VerifyFaultReason } from '../../lib/verify/verify-ledger-file.ts';
import { buildLedger, copyLedgerFile, flipHexDigit, readRow, rechain, rowAt, tamper } from '../helpers/tamper.ts';
import { chainOf, tempDir } from '../helpers/temp-ledger.ts';

type Edit =
  | 'payload'
  | 'metadata'
  | 'type'
  | 'event_id'
  | 'local_timestamp'
  | 'authority_timestamp'
  | 'content_hash'
  | 'prev_hash'
  | 'stream_version'
  | 'stream_id'
  | 'delete'
  | 'renumber'
  | 'forge_signature'
  | 'unknown_reserved_stream'
  | 'agents_other_type'
  | 'revoke_unknown_key'
  | 'register_invalid_key'
  | 'clear_without_halt'
  | 'event_while_halted'
  | 'witness_while_halted'
  | 'key_in_both_roles'
  | 'one_key_two_witnesses'
  | 'key_row_missing'
  | 'meta_quorum'
  | 'type_outside_taxonomy'
  | 'type_row_smuggled'
  | 'checkpoint_root';

const EDITS: Edit[] = [
  'payload',
  'metadata',
  'type',
  'event_id',
  'local_timestamp',
  'authority_timestamp',
  'content_hash',
  'prev_hash',
  'stream_version',
  'stream_id',
  'delete',
  'renumber',
  'forge_signature',
  'unknown_reserved_stream',
  'agents_other_type',
  'revoke_unknown_key',
  'register_invalid_key',
  'clear_without_halt',
  'event_while_halted',
  'witness_while_halted',
  'key_in_both_roles',
  'one_key_two_witnesses',
  'key_row_missing',
  'meta_quorum',
  'type_outside_taxonomy',
  'type_row_smuggled',
  'checkpoint_root',
];

/** Edits whose fault is not at k itself, or only a rule (not the chain) can see. */
const RULE_EDITS = new Set<Edit>([
  'unknown_reserved_stream', 'agents_other_type', 'revoke_unknown_key', 'register_invalid_key', 'clear_without_halt', 'event_while_halted',
  'witness_while_halted', 'key_in_both_roles', 'one_key_two_witnesses', 'type_outside_taxonomy', 'checkpoint_root',
]);
/** Edits of the tables that are not hashed: the fault is the file's (sequence 0). */
const TABLE_EDITS = new Set<Edit>(['key_row_missing', 'meta_quorum', 'type_row_smuggled']);
/** Edits of a ledger whose newest row is a stored checkpoint of the tree before it. */
const CHECKPOINT_EDITS = new Set<Edit>(['checkpoint_root']);
/** The log that signs those checkpoints. */
const LOG = generateKeyPair('example.com/stele/tamper-property');

/** {@link buildLedger} of `size - 1` events, then the checkpoint of that tree stored as row `size`. */
async function buildCheckpointedLedger(path: string, size: number, streams: number): Promise<void> {
  await buildLedger(path, size - 1, streams);
  const ledger = await openLedger(path, { checkpoint: { origin: 'example.com/stele/tamper-property', secretKey: LOG.signerKey } });
  try {
    assert.equal((await ledger.storeCheckpoint()).sequence, size);
  } finally {
    await ledger.close();
  }
}

/** Rows an edit rewrites from k on (1 unless said): k leaves room for them. */
const SPAN: Partial<Record<Edit, number>> = { delete: 2, event_while_halted: 2, type_outside_taxonomy: 2, witness_while_halted: 2, key_in_both_roles: 2, one_key_two_witnesses: 4 };

/** Applies `edit` to row `k` of a ledger of `size` rows; returns the reason verify must report, and where (k unless said). */
function applyEdit(db: Database.Database, edit: Edit, k: number, size: number, digit: number): VerifyFaultReason | [VerifyFaultReason, number] {
  const row = rowAt(db, k);
  const set = (sql: string, ...values: unknown[]): void => void db.prepare(`UPDATE events SET ${sql} WHERE sequence = ?`).run(...values, k);
  /** Row k rewritten as the first event of a reserved stream, the chain recomputed. */
  const reserve = (streamId: string, type: string, payload: unknown): void => {
    set('stream_id = ?, stream_version = 0, type = ?, payload = ?, payload_meta = NULL', streamId, type, JSON.stringify(payload));
    rechain(db, k);
  };
  /** Row `at` rewritten as version `version` of a reserved stream (the chain is recomputed after). */
  const reserveAt = (at: number, streamId: string, version: number, type: string, payload: unknown): void =>
    void db
      .prepare('UPDATE events SET stream_id = ?, stream_version = ?, type = ?, payload = ?, payload_meta = NULL WHERE sequence = ?')
      .run(streamId, version, type, JSON.stringify(payload), at);
  const registration = (agentId: string, publicKey: string, role: string) => ({ agentId, keyId: 'k1', publicKey, role });
  switch (edit) {
    case 'witness_while_halted':
      reserveAt(k, '$halt', 0, 'stele.halted', { reason: 'tampered' });
      reserveAt(k + 1, '$agents', 0, 'stele.agent_key_registered', registration('mallory', generateAgentKeyPair().publicKey, 'witness'));
      rechain(db, k);
      return ['key_registration', k + 1];
    case 'key_in_both_roles': {
      const { publicKey } = generateAgentKeyPair();
      reserveAt(k, '$agents', 0, 'stele.agent_key_registered', registration('bot', publicKey, 'agent'));
      reserveAt(k + 1, '$agents', 1, 'stele.agent_key_registered', registration('mallory', publicKey, 'witness'));
      rechain(db, k);
      return ['key_registration', k + 1];
    }
    case 'one_key_two_witnesses': {
      const mallory = generateAgentKeyPair();
      reserveAt(k, '$agents', 0, 'stele.agent_key_registered', registration('w1', mallory.publicKey, 'witness'));
      reserveAt(k + 1, '$agents', 1, 'stele.agent_key_registered', registration('w2', mallory.publicKey, 'witness'));
      reserveAt(k + 2, '$halt', 0, 'stele.halted', { reason: 'tampered' });
      reserveAt(k + 3, '$halt', 1, 'stele.halt_cleared', {});
      rechain(db, k);
      const halt = { sequence: k + 2, contentHash: rowAt(db, k + 2).content_hash };
      const reason = 'one person, two names';
      const witnesses = ['w1', 'w2'].map((name) => witnessClearHalt(halt, reason, name, mallory.secretKey));
      reserveAt(k + 3, '$halt', 1, 'stele.halt_cleared', { reason, haltSequence: k + 2, witnesses });
      rechain(db, k + 3);
      return ['ceremony', k + 3];
    }
    case 'key_row_missing':
      reserveAt(k, '$agents', 0, 'stele.agent_key_registered', registration('bot', generateAgentKeyPair().publicKey, 'agent'));
      rechain(db, k);
      return ['derived_table', 0];
    case 'meta_quorum':
      db.prepare("UPDATE ledger_meta SET value = 'two' WHERE key = 'witness_quorum'").run();
      return ['ledger_meta', 0];
    case 'type_outside_taxonomy': {
      // A taxonomy recorded behind the triggers: the ordinary rows after it break it.
      const next = rowAt(db, k + 1);
      reserve('$types', 'stele.event_types_set', { types: ['only_this'] });
      return [next.stream_id === row.stream_id ? 'stream_version' : 'event_type', k + 1];
    }
    case 'type_row_smuggled':
      db.prepare("INSERT INTO event_types (type) VALUES ('smuggled')").run();
      return ['derived_table', 0];
    case 'checkpoint_root': {
      // Row k = size stores the checkpoint of the k - 1 events before it (see CHECKPOINT_EDITS).
      const { logKey, note } = JSON.parse(row.payload!) as { logKey: string; note: string };
      const [origin, treeSize, root] = note.split('\n') as [string, string, string];
      const rootHash = Buffer.from(root, 'base64');
      rootHash[Math.floor(digit / 2) % 32]! ^= 0x01;
      const forged =
        digit % 2 === 0
          ? note.replace(`\n${root}\n`, `\n${rootHash.toString('base64')}\n`) // the log's line kept: it no longer verifies
          : signCheckpoint({ origin, size: Number(treeSize), rootHash }, LOG.signerKey); // the log's key used again
      set('payload = ?', JSON.stringify({ logKey, note: forged }));
      rechain(db, k);
      return 'checkpoint';
    }
    case 'unknown_reserved_stream':
      reserve('$tampered', 'tick', { i: 1 });
      return 'reserved_stream';
    case 'agents_other_type':
      reserve('$agents', 'tick', { i: 1 });
      return 'reserved_stream';
    case 'revoke_unknown_key':
      reserve('$agents', 'stele.agent_key_revoked', { agentId: 'ghost', keyId: 'k1', reason: 'x' });
      return 'key_revocation';
    case 'register_invalid_key':
      reserve('$agents', 'stele.agent_key_registered', { agentId: 'mallory', keyId: 'k1', publicKey: 'AAAA', role: 'witness' });
      return 'key_registration';
    case 'clear_without_halt':
      reserve('$halt', 'stele.halt_cleared', { reason: 'x', haltSequence: 1, witnesses: [] });
      return 'ceremony';
    case 'event_while_halted': {
      assert.ok(k < size, 'a halt on the newest row halts nothing after it');
      const next = rowAt(db, k + 1);
      reserve('$halt', 'stele.halted', { reason: 'tampered' });
      return [next.stream_id === row.stream_id ? 'stream_version' : 'halted', k + 1];
    }
    case 'payload':
      set("payload = payload || ' '"); // still valid JSON, one byte longer
      return 'content_hash';
    case 'metadata':
      set('metadata = ?', row.metadata === null ? '{"tampered":true}' : null);
      return 'content_hash';
    case 'type':
      set("type = type || '!'");
      return 'content_hash';
    case 'event_id':
      set("event_id = event_id || '-tampered'");
      return 'content_hash';
    case 'local_timestamp':
      set('local_timestamp = local_timestamp + 1');
      return 'content_hash';
    case 'authority_timestamp':
      set('authority_timestamp = authority_timestamp + 1');
      return 'content_hash';
    case 'content_hash':
      set('content_hash = ?', flipHexDigit(row.content_hash, digit));
      return 'content_hash';
    case 'prev_hash':
      set('prev_hash = ?', flipHexDigit(row.prev_hash, digit));
      return 'prev_hash';
    case 'stream_version': {
      const newest = db.prepare('SELECT max(stream_version) FROM events WHERE stream_id = ?').pluck().get(row.stream_id) === row.stream_version;
      set('stream_version = stream_version + ?', newest ? 1 : 1000);
      return 'stream_version';
    }
    case 'stream_id':
      set("stream_id = 'tampered-stream'");
      return row.stream_version === 0 ? 'content_hash' : 'stream_version';
    case 'delete':
      assert.ok(k < size, 'the newest row is never deleted');
      db.prepare('DELETE FROM events WHERE sequence = ?').run(k);
      return 'sequence_gap';
    case 'renumber':
      set('sequence = ?', size + 1_000);
      return 'sequence_gap';
    case 'forge_signature':
      set("agent_id = 'mallory', signature = ?", randomBytes(64).toString('base64'));
      rechain(db, k);
      return 'signature';
  }
}

const scenario = fc
  .record({
    size: fc.integer({ min: 30, max: 300 }),
    streams: fc.integer({ min: 1, max: 5 }),
    edit: fc.constantFrom(...EDITS),
    row: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
    digit: fc.integer({ min: 0, max: 63 }),
    rangeSize: fc.option(fc.integer({ min: 1, max: 120 }), { nil: undefined }),
  })
  .map((s) => {
    // Deleting the newest row is undetectable without an external head; pick among the others.
    // A key row written into the newest row leaves no stream behind with a skipped version.
    if (s.edit === 'key_row_missing') return { ...s, k: s.size };
    // The checkpoint is the newest row, in no complete tile: only the checkpoint rules can tell.
    if (CHECKPOINT_EDITS.has(s.edit)) {
      const size = s.size % 16 === 0 ? s.size + 1 : s.size;
      return { ...s, size, k: size };
    }
    const rows = s.size - (SPAN[s.edit] ?? 1) + 1;
    return { ...s, k: 1 + Math.floor(s.row * rows) };
  });

test('a random edit behind the triggers is reported at its row with the right reason', { timeout: 300_000 }, async (t) => {
  const dir = tempDir(t);
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenario, async ({ size, streams, edit, k, digit, rangeSize }) => {
      run++;
      const original = join(dir, `original-${run}.db`);
      await (CHECKPOINT_EDITS.has(edit) ? buildCheckpointedLedger : buildLedger)(original, size, streams);
      assert.deepEqual(await verifyLedgerFile(original, { rangeSize }), { ok: true, checked: size });

      const copy = join(dir, `tampered-${run}.db`);
      copyLedgerFile(original, copy);
      let reason: VerifyFaultReason | undefined;
      let at = k;
      tamper(copy, (db) => {
        const found = applyEdit(db, edit, k, size, digit);
        [reason, at] = Array.isArray(found) ? found : [found, k];
      });

      const result = await verifyLedgerFile(copy, { rangeSize });
      assert.equal(result.ok, false, `${edit} at ${k} went unnoticed`);
      assert.deepEqual({ sequence: result.firstBad?.sequence, reason: result.firstBad?.reason }, { sequence: at, reason });
      if (TABLE_EDITS.has(edit)) {
        // The chain itself is intact: every row passed (derived tables) or none was read (meta).
        assert.equal(result.checked, reason === 'ledger_meta' ? 0 : size);
        assert.deepEqual(chainOf(copy), { ok: true, checked: size });
        return;
      }
      assert.equal(result.checked, at - 1);
      if (RULE_EDITS.has(edit)) {
        // Recomputed chain: the sequential walk without rules (chainOf) sees nothing up to the fault.
        assert.equal(chainOf(copy).firstBad === undefined || chainOf(copy).firstBad!.sequence > k, true);
      } else if (reason === 'signature') {
        // The forger recomputed the chain: the sequential chain check alone sees nothing.
        assert.deepEqual(chainOf(copy), { ok: true, checked: size });
      } else {
        // Range-parallel verification names the same fault, details included, as the sequential walk.
        const sequential = chainOf(copy);
        assert.deepEqual(result.firstBad, sequential.firstBad);
        assert.equal(result.checked, sequential.checked);
      }
      if (reason === 'sequence_gap' && edit === 'delete') assert.equal(result.firstBad?.actual, k + 1);
      if (edit === 'checkpoint_root') assert.match(result.firstBad?.detail ?? '', digit % 2 === 0 ? /no valid signature/ : /another root/);
      if (edit === 'prev_hash') assert.equal(result.firstBad?.expected, k === 1 ? '0'.repeat(64) : readRow(copy, k - 1).content_hash);
    }),
    { numRuns: 40 },
  );
});

test('untampered ledgers always verify, over any subrange and range size', { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t);
  let run = 0;
  const ledger = fc.record({ size: fc.integer({ min: 0, max: 300 }), streams: fc.integer({ min: 1, max: 6 }) });
  const check = fc.record({
    from: fc.option(fc.integer({ min: 1, max: 320 }), { nil: undefined }),
    length: fc.option(fc.integer({ min: 1, max: 320 }), { nil: undefined }),
    rangeSize: fc.option(fc.integer({ min: 1, max: 150 }), { nil: undefined }),
  });
  await fc.assert(
    fc.asyncProperty(ledger, fc.array(check, { minLength: 1, maxLength: 6 }), async ({ size, streams }, checks) => {
      const path = join(dir, `ledger-${++run}.db`);
      await buildLedger(path, size, streams);
      for (const { from, length, rangeSize } of checks) {
        const first = from ?? 1;
        const to = length === undefined ? undefined : first + length - 1;
        const last = to ?? size;
        const result = await verifyLedgerFile(path, { from, to, rangeSize });
        if (last <= size) {
          assert.deepEqual(result, { ok: true, checked: Math.max(0, last - first + 1) });
        } else {
          // A `to` past the head claims rows that do not exist.
          const missing = Math.max(size + 1, first);
          assert.deepEqual(result, {
            ok: false,
            checked: missing - first,
            firstBad: { sequence: missing, reason: 'sequence_gap', expected: missing },
          });
        }
      }
    }),
    { numRuns: 10 },
  );
});

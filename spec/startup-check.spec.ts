/**
 * Startup self-verification: edits made behind the triggers' back, truncation and rollback to an
 * older copy are refused at open with WRITER_INCONSISTENCY, and the file is halted.
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { generateAgentKeyPair, openLedger, witnessClearHalt, type LedgerError } from '../lib/index.ts';
import { headSidecarPath } from '../lib/writer/head-sidecar.ts';
import { reopen, tempLedgerPath } from './helpers/temp-ledger.ts';

/** A closed ledger of `count` events in two streams. */
async function ledgerFile(t: TestContext, count: number): Promise<string> {
  const path = tempLedgerPath(t);
  const ledger = await openLedger(path);
  await ledger.appendBatch(Array.from({ length: count }, (_, i) => ({ type: 'e', streamId: i % 2 ? 'odd' : 'even', payload: { i } })));
  await ledger.close();
  return path;
}

/** Runs SQL on the file with a trigger dropped and recreated around it: an edit the triggers never see. */
function behindTheTriggers(path: string, trigger: 'events_no_update' | 'events_no_delete', sql: string): void {
  const db = new Database(path);
  try {
    const definition = db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(trigger) as string;
    db.exec(`DROP TRIGGER ${trigger}; ${sql}; ${definition};`);
  } finally {
    db.close();
  }
}

function inconsistent(check: string, sequence: number) {
  return (err: LedgerError) => {
    assert.equal(err.code, 'WRITER_INCONSISTENCY');
    assert.equal(err.details.check, check);
    assert.equal(err.details.sequence, sequence);
    assert.ok(err.details.expected !== undefined && err.details.actual !== undefined);
    assert.notEqual(err.details.expected, err.details.actual);
    return true;
  };
}

function haltedReason(path: string): string | undefined {
  const db = new Database(path, { readonly: true });
  try {
    const row = db
      .prepare("SELECT type, json_extract(payload, '$.reason') AS reason FROM events WHERE stream_id = '$halt' ORDER BY stream_version DESC LIMIT 1")
      .get() as { type: string; reason: string } | undefined;
    return row?.type === 'stele.halted' ? row.reason : undefined;
  } finally {
    db.close();
  }
}

describe('startup self-verification', () => {
  test('an untouched ledger opens, and a head sidecar is written at close', async (t) => {
    const path = await ledgerFile(t, 20);
    const sidecar = JSON.parse(readFileSync(headSidecarPath(path), 'utf8'));
    assert.equal(sidecar.sequence, 20);
    const ledger = await reopen(t, path);
    assert.deepEqual(ledger.head(), { sequence: sidecar.sequence, contentHash: sidecar.contentHash });
  });

  test('an edited head row is refused (head_hash) and the file is halted', async (t) => {
    const path = await ledgerFile(t, 10);
    behindTheTriggers(path, 'events_no_update', `UPDATE events SET payload = '{"i":999}' WHERE sequence = 10`);
    await assert.rejects(openLedger(path), inconsistent('head_hash', 10));
    assert.match(haltedReason(path)!, /startup inconsistency \(head_hash\) at sequence 10/);
    // Still refused on the next attempt; reads through a read-only open keep working.
    await assert.rejects(openLedger(path), (err: LedgerError) => err.code === 'WRITER_INCONSISTENCY');
    const reader = await reopen(t, path, { readonly: true });
    assert.equal(reader.haltState().halted, true);
  });

  test('an edit among the newest rows is refused (recent_rows) with the sequence and reason', async (t) => {
    const path = await ledgerFile(t, 50);
    behindTheTriggers(path, 'events_no_update', `UPDATE events SET type = 'forged' WHERE sequence = 42`);
    await assert.rejects(openLedger(path), (err: LedgerError) => {
      inconsistent('recent_rows', 42)(err);
      assert.equal(err.details.reason, 'content_hash');
      return true;
    });
  });

  test('an edit older than startupVerifyRows is left to verify(); the head checks still pass', async (t) => {
    const path = await ledgerFile(t, 50);
    behindTheTriggers(path, 'events_no_update', `UPDATE events SET type = 'forged' WHERE sequence = 5`);
    const ledger = await reopen(t, path, { startupVerifyRows: 10 });
    assert.equal(ledger.maxSequence(), 50);
  });

  test('deleting the newest rows is refused (head_sidecar): truncation cannot pass as a shorter ledger', async (t) => {
    const path = await ledgerFile(t, 30);
    behindTheTriggers(path, 'events_no_delete', 'DELETE FROM events WHERE sequence > 25');
    await assert.rejects(openLedger(path), (err: LedgerError) => {
      inconsistent('head_sidecar', 30)(err);
      assert.equal(err.details.actual, 'missing');
      return true;
    });
  });

  test('restoring an older copy of the file is refused (head_sidecar)', async (t) => {
    const path = await ledgerFile(t, 10);
    const backup = `${path}.backup`;
    copyFileSync(path, backup);
    assert.equal(existsSync(`${path}-wal`) && readFileSync(`${path}-wal`).length > 0, false, 'close checkpointed the WAL');
    const ledger = await openLedger(path);
    await ledger.append({ type: 'later' });
    await ledger.close();
    copyFileSync(backup, path);
    await assert.rejects(openLedger(path), inconsistent('head_sidecar', 11));
  });

  test("onInconsistency: 'halt' opens a rolled-back file halted; witnesses clear it and the next open is clean", async (t) => {
    const path = await ledgerFile(t, 8);
    // The witnesses who will clear a halt are registered before one: not during it.
    const alice = generateAgentKeyPair();
    const bob = generateAgentKeyPair();
    const setup = await openLedger(path);
    await setup.registerAgentKey('alice', alice.publicKey, { role: 'witness' });
    await setup.registerAgentKey('bob', bob.publicKey, { role: 'witness' });
    await setup.close();
    const backup = `${path}.backup`;
    copyFileSync(path, backup);
    const ledger = await openLedger(path);
    await ledger.append({ type: 'later' });
    await ledger.close();
    copyFileSync(backup, path);
    await assert.rejects(openLedger(path), inconsistent('head_sidecar', 11));

    const logged: Array<[string, Record<string, unknown>]> = [];
    const record = (level: string) => (fields: object) => void logged.push([level, fields as Record<string, unknown>]);
    const logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), fatal: record('fatal') };
    const recovering = await openLedger(path, { onInconsistency: 'halt', logger });
    const fatal = logged.find(([level, fields]) => level === 'fatal' && fields.check === 'head_sidecar');
    assert.ok(fatal, 'the inconsistency is logged at fatal with both hashes');
    // Row 11 now exists again (the halt the first failed open appended), with another hash.
    assert.match(String(fatal[1].expected), /^[0-9a-f]{64}$/);
    assert.match(String(fatal[1].actual), /^[0-9a-f]{64}$/);
    assert.notEqual(fatal[1].expected, fatal[1].actual);
    const state = recovering.haltState();
    assert.equal(state.halted, true);
    assert.match(state.reason!, /head_sidecar/);
    await assert.rejects(recovering.append({ type: 'refused' }), (err: LedgerError) => err.code === 'LEDGER_HALTED');
    const reason = 'restored from backup on purpose; event 11 re-entered by hand';
    await recovering.clearHalt({
      reason,
      witnesses: [witnessClearHalt(state.halt!, reason, 'alice', alice.secretKey), witnessClearHalt(state.halt!, reason, 'bob', bob.secretKey)],
    });
    await recovering.append({ type: 'later', payload: 're-entered' });
    await recovering.close();

    const clean = await reopen(t, path);
    assert.equal(clean.haltState().halted, false);
    assert.equal((await clean.append({ type: 'business_as_usual' })).sequence, clean.maxSequence());
  });

  test('expectedHead: an anchor kept elsewhere must match', async (t) => {
    const path = await ledgerFile(t, 5);
    const probe = await reopen(t, path, { readonly: true });
    const head = probe.head()!;
    await probe.close();
    const good = await openLedger(path, { expectedHead: head });
    await good.close();
    await assert.rejects(openLedger(path, { expectedHead: { sequence: 3, contentHash: 'f'.repeat(64) } }), inconsistent('expected_head', 3));
    await assert.rejects(openLedger(path, { expectedHead: { sequence: 3, contentHash: 'nope' } }), TypeError);
  });
});

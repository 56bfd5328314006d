/**
 * Crash durability with real processes. A child process (spec/fixtures/processes/crash-appender.ts) appends
 * single events and batches from several concurrent loops and reports every acknowledgement on
 * stdout; the parent kills it with SIGKILL at a random moment, reopens the same ledger file and
 * checks:
 *   - every acknowledged event (of this round and every earlier one) is present and unchanged;
 *   - everything that was there after the previous round is still there, byte for byte;
 *   - no batch is partial: a batch's events are all present (consecutive sequences, one stream,
 *     consecutive stream versions) or none is, acknowledged or not;
 *   - sequences are 1..N without gaps, and the whole chain verifies;
 *   - the file reopens at once (the dead writer's lock died with it).
 * These are checked from read-only connections right after each kill. The next round's child
 * reopens the same file with openLedger (writer lock, head check) and must report as its head
 * exactly what the parent verified, then continues the chain; at the end the parent reopens it
 * with openLedger too, reads it through the API and appends. (A parent openLedger per round
 * would cost ~0.7 s of worker start-up each and push the spec past its time budget.)
 * Durability alternates 'full' / 'normal': for a process crash (not a power loss) an acknowledged
 * append is committed either way.
 *
 * 20 rounds per `npm test`; STELE_CRASH_ROUNDS=n runs n.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openLedger } from '../lib/index.ts';
import { runChild } from './helpers/run-child.ts';
import { chainOf, tempLedgerPath } from './helpers/temp-ledger.ts';

const ROUNDS = Number(process.env.STELE_CRASH_ROUNDS ?? 20);
const KILL_AFTER_MIN_MS = 50;
const KILL_AFTER_MAX_MS = 400;
const READY_TIMEOUT_MS = 20_000;

const CHILD = new URL('./fixtures/processes/crash-appender.ts', import.meta.url);

interface AckedEvent {
  sequence: number;
  eventId: string;
  streamId: string;
  streamVersion: number;
  contentHash: string;
  prevHash: string;
}

type ChildLine =
  | { kind: 'ready'; head: number }
  | { kind: 'ack'; batchId: string; size: number; events: AckedEvent[] }
  | { kind: 'failed'; batchId: string; error: string };

interface RoundResult {
  readyHead: number;
  lines: ChildLine[];
  signal: NodeJS.Signals | null;
  exitCode: number | null;
  stderr: string;
}

/** Runs one child, kills it with SIGKILL a random moment after it reports ready. */
async function crashRound(ledgerPath: string, durability: 'full' | 'normal', round: number): Promise<RoundResult> {
  const child = runChild(undefined, CHILD, [ledgerPath, durability, String(round)], { stderr: 'pipe' });
  const readyTimer = setTimeout(() => child.process.kill('SIGKILL'), READY_TIMEOUT_MS);
  let ready: ChildLine;
  try {
    ready = (await child.next()) as ChildLine;
  } catch {
    const { code, signal } = await child.exited;
    throw new Error(`round ${round}: the child exited (${code ?? signal}) before ready (or within ${READY_TIMEOUT_MS} ms); stderr: ${child.stderr()}`);
  } finally {
    clearTimeout(readyTimer);
  }
  if (ready.kind !== 'ready') throw new Error(`round ${round}: first line of the child was ${JSON.stringify(ready)}`);
  const delay = KILL_AFTER_MIN_MS + Math.floor(Math.random() * (KILL_AFTER_MAX_MS - KILL_AFTER_MIN_MS + 1));
  const killTimer = setTimeout(() => child.process.kill('SIGKILL'), delay);
  // A line cut by the kill is no JSON object, and no acknowledgement the parent saw: dropped.
  const lines: ChildLine[] = [];
  for await (const line of child.lines) if (typeof line === 'object' && line !== null) lines.push(line as ChildLine);
  const { code, signal } = await child.exited;
  clearTimeout(killTimer);
  return { readyHead: ready.head, lines, signal, exitCode: code, stderr: child.stderr() };
}

interface RawRow {
  sequence: number;
  event_id: string;
  stream_id: string;
  stream_version: number;
  prev_hash: string;
  content_hash: string;
  [column: string]: unknown;
}

function rawRows(path: string): RawRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT * FROM events ORDER BY sequence').all() as RawRow[];
  } finally {
    db.close();
  }
}

/**
 * Everything that must hold after a kill, checked from separate read-only connections (the next
 * child's openLedger is the reopen through Stele; its `ready` head is checked against this).
 * Returns the raw rows, to be compared with after the next round.
 */
function verifyAfterCrash(path: string, context: string, acknowledged: Map<number, AckedEvent>, previous: RawRow[]): RawRow[] {
  const rows = rawRows(path);

  // Gap-free: 1..N.
  rows.forEach((row, index) => assert.equal(row.sequence, index + 1, `${context}: sequence gap at index ${index}`));

  // What the previous round verified is still there, unchanged.
  assert.ok(rows.length >= previous.length, `${context}: the ledger shrank from ${previous.length} to ${rows.length} events`);
  assert.deepEqual(rows.slice(0, previous.length), previous, `${context}: earlier events changed`);

  // Every acknowledged event, of every round so far, is present and unchanged.
  for (const [sequence, ack] of acknowledged) {
    const row = rows[sequence - 1];
    assert.ok(row, `${context}: acknowledged event ${ack.eventId} (sequence ${sequence}) is missing; the ledger has ${rows.length}`);
    assert.deepEqual(
      {
        sequence: row.sequence,
        eventId: row.event_id,
        streamId: row.stream_id,
        streamVersion: row.stream_version,
        contentHash: row.content_hash,
        prevHash: row.prev_hash,
      },
      ack,
      `${context}: acknowledged event at sequence ${sequence} differs`,
    );
  }

  // No partial batch: group every event (acknowledged or not) by the batch named in its payload.
  const batches = new Map<string, { size: number; members: Array<{ row: RawRow; payload: BatchPayload }> }>();
  for (const row of rows) {
    const payload = JSON.parse(row.payload as string) as BatchPayload;
    assert.equal(row.event_id, `${payload.batchId}-e${payload.index}`, `${context}: event ${row.sequence} payload/eventId mismatch`);
    const batch = batches.get(payload.batchId) ?? { size: payload.size, members: [] };
    assert.equal(batch.size, payload.size);
    batch.members.push({ row, payload });
    batches.set(payload.batchId, batch);
  }
  for (const [batchId, { size, members }] of batches) {
    assert.equal(members.length, size, `${context}: batch ${batchId} is partial: ${members.length} of ${size} events`);
    const first = members[0]!.row;
    members.forEach(({ row, payload }, index) => {
      assert.equal(payload.index, index, `${context}: batch ${batchId} out of order`);
      assert.equal(row.sequence, first.sequence + index, `${context}: batch ${batchId} is not contiguous`);
      assert.equal(row.stream_id, first.stream_id, `${context}: batch ${batchId} spans streams`);
      assert.equal(row.stream_version, first.stream_version + index, `${context}: batch ${batchId} stream versions`);
    });
  }

  // The whole chain verifies.
  assert.deepEqual(chainOf(path), { ok: true, checked: rows.length }, `${context}: chain check`);
  return rows;
}

function countMultiEventBatches(rows: RawRow[]): number {
  return rows.filter((row) => {
    const payload = JSON.parse(row.payload as string) as BatchPayload;
    return payload.size > 1 && payload.index === 0;
  }).length;
}

interface BatchPayload {
  batchId: string;
  index: number;
  size: number;
  round: number;
}

test(`crash durability: SIGKILL during concurrent appends, ${ROUNDS} rounds on one ledger`, { timeout: 60_000 + ROUNDS * 5_000 }, async (t) => {
  assert.ok(Number.isSafeInteger(ROUNDS) && ROUNDS > 0, `STELE_CRASH_ROUNDS must be a positive integer, got ${process.env.STELE_CRASH_ROUNDS}`);
  const path = tempLedgerPath(t);
  const acknowledged = new Map<number, AckedEvent>();
  let previous: RawRow[] = [];
  let roundsWithAcks = 0;
  let childMs = 0;
  let verifyMs = 0;
  let multiEventBatchesSeen = 0;


  for (let round = 0; round < ROUNDS; round++) {
    const durability = round % 2 === 0 ? 'full' : 'normal';
    const started = performance.now();
    const result = await crashRound(path, durability, round);
    childMs += performance.now() - started;
    const verifyStarted = performance.now();
    const context = `round ${round} (${durability})`;

    const failures = result.lines.filter((l) => l.kind === 'failed');
    assert.deepEqual(failures, [], `${context}: an append failed before the kill`);
    assert.equal(result.signal, 'SIGKILL', `${context}: the child must die by SIGKILL, exited ${result.exitCode}; stderr: ${result.stderr}`);
    assert.equal(result.readyHead, previous.length, `${context}: the child opened the ledger at the head the parent verified`);

    let acksThisRound = 0;
    for (const line of result.lines) {
      if (line.kind !== 'ack') continue;
      acksThisRound++;
      assert.equal(line.events.length, line.size, `${context}: ack of ${line.batchId} has every event of the batch`);
      for (const event of line.events) {
        assert.equal(acknowledged.has(event.sequence), false, `${context}: sequence ${event.sequence} acknowledged twice`);
        acknowledged.set(event.sequence, event);
      }
    }
    if (acksThisRound > 0) roundsWithAcks++;

    const rows = verifyAfterCrash(path, context, acknowledged, previous);
    multiEventBatchesSeen = countMultiEventBatches(rows);
    previous = rows;
    verifyMs += performance.now() - verifyStarted;
  }
  // The parent reopens with Stele too: the dead writer's lock is gone, the writer's head check
  // passes, reads through the API agree with the file, and the chain continues.
  const ledger = await openLedger(path);
  try {
    const events = ledger.readAll();
    assert.equal(events.length, previous.length);
    for (const [sequence, ack] of acknowledged) {
      const event = events[sequence - 1]!;
      assert.deepEqual(
        { sequence: event.sequence, eventId: event.eventId, streamId: event.streamId, streamVersion: event.streamVersion, contentHash: event.contentHash, prevHash: event.prevHash },
        ack,
      );
    }
    const next = await ledger.append({ type: 'after_crashes', streamId: 'crash-0' });
    assert.equal(next.sequence, previous.length + 1);
    assert.equal(next.prevHash, previous.at(-1)?.content_hash);
  } finally {
    await ledger.close();
  }
  assert.deepEqual(chainOf(path), { ok: true, checked: previous.length + 1 });

  // Only counted from the last reopen, so events that survived without an ack are not double counted.
  const unacknowledgedSurvivors = previous.filter((row) => !acknowledged.has(row.sequence)).length;

  t.diagnostic(
    `${ROUNDS} rounds, ${previous.length} events, ${acknowledged.size} acknowledged, ${unacknowledgedSurvivors} committed but ` +
      `not yet acknowledged at the kill, ${multiEventBatchesSeen} multi-event batches, ${roundsWithAcks} rounds with acknowledgements; ` +
      `${Math.round(childMs)} ms in children (start, run, kill), ${Math.round(verifyMs)} ms verifying`,
  );
  // Guard against a vacuous run: the kills must land while appends are flowing.
  assert.ok(acknowledged.size > 0, 'no append was acknowledged in any round');
  assert.ok(multiEventBatchesSeen > 0, 'no multi-event batch was written');
  assert.ok(roundsWithAcks >= Math.ceil(ROUNDS / 2), `only ${roundsWithAcks} of ${ROUNDS} rounds acknowledged an append before the kill`);
});

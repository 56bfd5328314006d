/**
 * Verification throughput, against this machine's own single-thread floor in the same run, over
 * the same ledger file:
 *
 * (v0) one thread, one read-only connection: `SELECT <every column> FROM events ORDER BY
 *      sequence` and `rowHash()` (SHA-256 of the tagged row) per row, compared with the stored
 *      hash. No links, versions or signatures: the least a verifier can do.
 * (v0r) the same on one thread with rows read as arrays (`.raw()`, pages of 4,096) and
 *      `eventHash()` of the hashed columns, the way verify's workers read them: shows how much of
 *      v1's lead is parallelism and how much is not building an object per row (information only).
 * (v1) `verifyLedgerFile()`: the full check (links, stream versions, content hashes, signatures)
 *      in ranges on the piscina pool, warm (threads started by an untimed first call).
 *
 * Target: v1 ≥ 1.5 × v0 in rows/s. The ledger is built once through `appendBatch` (200-byte JSON
 * payloads over 100 streams) in a temp directory that is removed afterwards.
 *
 * From the bench runner:
 *   import { runVerifyBench } from './verify.ts';
 *   const { results, ratio } = await runVerifyBench({ events: 200_000 }, (line) => console.log(line));
 * Standalone: `npx tsx bench/verify.ts [--events 200000] [--runs 3]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { openLedger, type AppendInput } from '../lib/index.ts';
import { EVENT_COLUMNS, type EventRow } from '../lib/format/columns.ts';
import { rowHash } from '../lib/format/hash-bytes.ts';
import { eventHash } from '../lib/format/hash-bytes.ts';
import { HASHED_COLUMNS } from '../lib/format/columns.ts';
import { verifyLedgerFile } from '../lib/verify/verify-ledger-file.ts';

export interface VerifyBenchSettings {
  /** Rows in the ledger; 200,000 for the full run. */
  events: number;
  /** Timed runs of each scenario; the best is reported (default 3). */
  runs?: number;
}

export interface VerifyScenarioResult {
  id: 'v0' | 'v0r' | 'v1';
  name: string;
  rows: number;
  /** Best of the timed runs. */
  seconds: number;
  rowsPerSecond: number;
  /** Every timed run, in seconds. */
  runs: number[];
}

export interface VerifyBenchResult {
  results: VerifyScenarioResult[];
  /** v1 rows/s ÷ v0 rows/s: the target. */
  ratio: { name: string; value: number; target: string; met: boolean };
  /** v1 rows/s ÷ v0r rows/s: the gain from threads alone (information only). */
  parallelRatio: number;
  /** The first verifyLedgerFile() call of the process, pool start-up included (information only). */
  coldSeconds: number;
  threads: number;
}

const BATCH = 1_000;
const STREAMS = 100;

/** Builds the ledger, runs v0 and v1 alternately, and removes the ledger. */
export async function runVerifyBench(
  settings: VerifyBenchSettings,
  progress: (line: string) => void = () => {},
): Promise<VerifyBenchResult> {
  const { events } = settings;
  const runs = settings.runs ?? 3;
  if (!Number.isSafeInteger(events) || events < 1) throw new RangeError('events must be a positive integer');
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-verify-'));
  try {
    const path = join(dir, 'ledger.db');
    const built = performance.now();
    await build(path, events);
    progress(`  built a ${events.toLocaleString('en-US')}-row ledger in ${((performance.now() - built) / 1000).toFixed(1)} s`);

    let started = performance.now();
    const cold = await verifyLedgerFile(path);
    const coldSeconds = (performance.now() - started) / 1000;
    if (!cold.ok || cold.checked !== events) throw new Error(`verify failed on an untampered ledger: ${JSON.stringify(cold)}`);
    progress(`  v1 cold (pool start-up included): ${rate(events, coldSeconds)} rows/s`);

    const times = { v0: [] as number[], v0r: [] as number[], v1: [] as number[] };
    for (let run = 0; run < runs; run++) {
      started = performance.now();
      const mismatches = hashLoop(path);
      times.v0.push((performance.now() - started) / 1000);
      if (mismatches !== 0) throw new Error(`${mismatches} rows of an untampered ledger failed the baseline`);

      started = performance.now();
      const rawMismatches = rawHashLoop(path);
      times.v0r.push((performance.now() - started) / 1000);
      if (rawMismatches !== 0) throw new Error(`${rawMismatches} rows of an untampered ledger failed the raw baseline`);

      started = performance.now();
      const result = await verifyLedgerFile(path);
      times.v1.push((performance.now() - started) / 1000);
      if (!result.ok || result.checked !== events) throw new Error(`verify failed: ${JSON.stringify(result)}`);
    }

    const scenario = (id: VerifyScenarioResult['id'], name: string): VerifyScenarioResult => {
      const seconds = Math.min(...times[id]);
      return { id, name, rows: events, seconds, rowsPerSecond: events / seconds, runs: times[id] };
    };
    const results = [
      scenario('v0', 'single-thread SELECT + rowHash per row'),
      scenario('v0r', 'single-thread raw paged SELECT + eventHash per row'),
      scenario('v1', 'verifyLedgerFile (warm pool)'),
    ];
    for (const r of results) progress(`  ${r.id}: ${rate(r.rows, r.seconds)} rows/s (${r.name})`);
    const value = results[2]!.rowsPerSecond / results[0]!.rowsPerSecond;
    return {
      results,
      ratio: { name: 'verifyLedgerFile ÷ single-thread hash loop', value, target: '>= 1.5', met: value >= 1.5 },
      parallelRatio: results[2]!.rowsPerSecond / results[1]!.rowsPerSecond,
      coldSeconds,
      threads: Math.min(availableParallelism(), 4),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** (v0): the single-thread floor. Returns the number of rows whose stored hash is not their content's. */
function hashLoop(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    let mismatches = 0;
    for (const row of db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY sequence`).iterate() as IterableIterator<EventRow>) {
      if (rowHash(row) !== row.content_hash) mismatches++;
    }
    return mismatches;
  } finally {
    db.close();
  }
}

/** (v0r): rows as arrays, hashed columns first (EVENT_COLUMNS order), content_hash last. */
function rawHashLoop(path: string): number {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    let mismatches = 0;
    const hashed = HASHED_COLUMNS.length;
    const page = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE sequence > ? ORDER BY sequence LIMIT 4096`).raw();
    for (let last = 0; ; ) {
      const rows = page.all(last) as unknown[][];
      for (const row of rows) if (eventHash(row.slice(0, hashed)) !== row[hashed]) mismatches++;
      if (rows.length < 4096) return mismatches;
      last = rows.at(-1)![0] as number;
    }
  } finally {
    db.close();
  }
}

async function build(path: string, events: number): Promise<void> {
  const payload = { user: 'ada', action: 'login', ip: '203.0.113.7', note: '' };
  payload.note = 'x'.repeat(200 - JSON.stringify(payload).length);
  const ledger = await openLedger(path, { durability: 'normal' });
  try {
    for (let start = 0; start < events; start += BATCH) {
      const inputs: AppendInput[] = [];
      for (let i = start; i < Math.min(events, start + BATCH); i++) {
        inputs.push({ type: 'bench_event', streamId: `stream-${i % STREAMS}`, payload });
      }
      await ledger.appendBatch(inputs);
    }
  } finally {
    await ledger.close();
  }
}

function rate(rows: number, seconds: number): string {
  return Math.round(rows / seconds).toLocaleString('en-US');
}

if (import.meta.url === new URL(process.argv[1] ?? '', 'file://').href) {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '200000' }, runs: { type: 'string', default: '3' } } });
  const settings = { events: Number(values.events), runs: Number(values.runs) };
  console.log(`stele verify benchmark: ${settings.events.toLocaleString('en-US')} rows, best of ${settings.runs}`);
  const { ratio, parallelRatio, threads, coldSeconds } = await runVerifyBench(settings, (line) => console.log(line));
  console.log(`  ratio v1/v0: ${ratio.value.toFixed(2)}× (target ${ratio.target}: ${ratio.met ? 'met' : 'NOT met'})`);
  console.log(`  ratio v1/v0r: ${parallelRatio.toFixed(2)}× (threads alone), ${threads} pool threads, cold call ${coldSeconds.toFixed(2)} s`);
}

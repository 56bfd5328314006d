/**
 * Append throughput and latency, measured against this machine's own limits in one run:
 *
 * (a) raw better-sqlite3 positional INSERT, transactions of 1,000, no triggers: the ceiling
 * (b) `appendBatch` of 1,000
 * (c) 1,000 concurrent `append()`
 * (d) one outstanding `append()` at a time: latency p50/p99
 * (e) a bare MessageChannel echo between the main thread and a worker: the thread hop of (d)
 * (f) raw better-sqlite3 single-row INSERT + COMMIT, one at a time: the commit of (d)
 *
 * (a)–(d) and (f) run at durability 'full' and 'normal', each on a fresh file in a temp
 * directory, with the same 200-byte JSON payload. Targets: (c) ≥ 0.5 × (a) at 'full';
 * p50(d) ≤ 1.3 × (p50(f) + p50(e)) at the same durability: one append costs little more than
 * the commit it must wait for plus the hop to the writer thread.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MessageChannel, Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openLedger, type AppendInput, type Ledger } from '../lib/index.ts';
import { configureWriterConnection } from '../lib/sqlite/connections.ts';

export type Durability = 'full' | 'normal';
export type ScenarioId = 'a' | 'b' | 'c' | 'd' | 'e' | 'f';

export const SCENARIOS: Record<ScenarioId, string> = {
  a: 'raw INSERT, tx of 1,000, no triggers',
  b: 'appendBatch of 1,000',
  c: '1,000 concurrent append()',
  d: 'one outstanding append()',
  e: 'MessageChannel echo round trip',
  f: 'raw single-row INSERT + COMMIT',
};

export interface AppendBenchSettings {
  /** Events written by each of (a), (b) and (c), per durability. A multiple of 1,000. */
  events: number;
  /** Timed appends in (d), per durability. */
  latencySamples: number;
  /** Timed round trips in (e). */
  echoSamples: number;
  /** Scenarios to run (default: all). */
  only?: ReadonlySet<ScenarioId>;
  durabilities?: readonly Durability[];
}

export interface ScenarioResult {
  id: ScenarioId;
  name: string;
  /** Undefined for (e), which touches no file. */
  durability: Durability | undefined;
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** Per-operation latency, for (d) and (e). */
  p50Us?: number;
  p99Us?: number;
}

/** A figure of one run set against another's, or against a limit, for the table. */
export interface Ratio {
  name: string;
  /** Stele's durability in the figure; undefined when it does not depend on it. */
  durability?: Durability;
  value: number;
  /** What `value` counts; '×' (a ratio) when undefined. */
  unit?: string;
  /** e.g. '>= 0.5'; undefined when the ratio is information only. */
  target?: string;
  met?: boolean;
}

/** Events per batch, per group of concurrent appends, and per stream of the read fixture. */
export const GROUP = 1_000;
/** Discarded before timing: JIT, statement caches, the WAL file's first growth. */
const WARMUP_GROUPS = 2;

/** The payload of every scenario: an ordinary object whose JSON text is exactly 200 bytes. */
export const PAYLOAD = payloadOf(200);
export const PAYLOAD_JSON = JSON.stringify(PAYLOAD);
export const INPUT: AppendInput = { type: 'bench_event', payload: PAYLOAD };

function payloadOf(bytes: number): Record<string, string> {
  const payload = { user: 'ada', action: 'login', ip: '203.0.113.7', note: '' };
  payload.note = 'x'.repeat(bytes - JSON.stringify(payload).length);
  if (Buffer.byteLength(JSON.stringify(payload)) !== bytes) throw new Error('payload is not 200 bytes');
  return payload;
}

/** Runs the scenarios in order, each on its own file; the temp directory is removed afterwards. */
export async function runAppendBench(
  settings: AppendBenchSettings,
  progress: (line: string) => void = () => {},
): Promise<{ results: ScenarioResult[]; ratios: Ratio[]; sqliteVersion: string }> {
  if (settings.events % GROUP !== 0) throw new RangeError(`events must be a multiple of ${GROUP}`);
  const wanted = (id: ScenarioId) => settings.only?.has(id) ?? true;
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-'));
  const results: ScenarioResult[] = [];
  const record = (result: ScenarioResult) => {
    results.push(result);
    progress(`  ${result.id} ${result.durability ?? '-'}: ${Math.round(result.eventsPerSecond).toLocaleString('en-US')} events/s`);
  };
  let file = 0;
  const freshPath = () => {
    const sub = join(dir, String(++file));
    mkdirSync(sub);
    return join(sub, 'ledger.db');
  };
  try {
    for (const durability of settings.durabilities ?? (['full', 'normal'] as const)) {
      if (wanted('a')) record(rawInserts(freshPath(), durability, settings.events));
      if (wanted('b')) record(await withLedger(freshPath(), durability, (l) => batches(l, durability, settings.events)));
      if (wanted('c')) record(await withLedger(freshPath(), durability, (l) => concurrent(l, durability, settings.events)));
      if (wanted('d')) record(await withLedger(freshPath(), durability, (l) => oneAtATime(l, durability, settings.latencySamples)));
      if (wanted('f')) record(rawCommits(freshPath(), durability, settings.latencySamples));
    }
    if (wanted('e')) record(await echo(settings.echoSamples));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { results, ratios: ratiosOf(results), sqliteVersion: sqliteVersion() };
}

/**
 * (a) The ceiling: the same row shape into a table shaped like `events` (same columns, STRICT,
 * same UNIQUE indexes, same pragmas) with no view and no triggers. Values the triggers would
 * compute are supplied directly; hash columns get a constant of the right length, so the rows
 * are as big as real ones but no hash is computed.
 */
function rawInserts(path: string, durability: Durability, events: number): ScenarioResult {
  const db = new Database(path);
  try {
    const insert = rawTable(db, durability);
    const hash = 'f'.repeat(64);
    let sequence = 0;
    const group = db.transaction(() => {
      for (let i = 0; i < GROUP; i++) {
        sequence++;
        const now = Date.now();
        // Same event id shape as append() generates, so the UNIQUE index sees random keys too.
        insert.run(sequence, randomUUID(), '$default', sequence - 1, INPUT.type, PAYLOAD_JSON,
          null, null, null, null, null, now, now, hash, hash);
      }
    });
    for (let i = 0; i < WARMUP_GROUPS; i++) group.immediate();
    const start = performance.now();
    for (let i = 0; i < events / GROUP; i++) group.immediate();
    return throughput('a', durability, events, performance.now() - start);
  } finally {
    db.close();
  }
}

/** (f) The commit (d) waits for: one row of (a)'s shape per BEGIN IMMEDIATE..COMMIT, one at a time. */
function rawCommits(path: string, durability: Durability, samples: number): ScenarioResult {
  const db = new Database(path);
  try {
    const insert = rawTable(db, durability);
    const hash = 'f'.repeat(64);
    let sequence = 0;
    const one = db.transaction(() => {
      sequence++;
      const now = Date.now();
      insert.run(sequence, randomUUID(), '$default', sequence - 1, INPUT.type, PAYLOAD_JSON, null, null, null, null, null, now, now, hash, hash);
    });
    for (let i = 0; i < Math.min(200, samples); i++) one.immediate();
    const latencies = new Float64Array(samples);
    const start = performance.now();
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      one.immediate();
      latencies[i] = performance.now() - t;
    }
    return { ...throughput('f', durability, samples, performance.now() - start), ...percentiles(latencies) };
  } finally {
    db.close();
  }
}

/** A table shaped like `events` (same columns, STRICT, same UNIQUE indexes, the writer's pragmas), no view, no trigger. */
function rawTable(db: Database.Database, durability: Durability): Database.Statement {
  configureWriterConnection(db, durability);
  db.exec(`CREATE TABLE events (
      sequence            INTEGER PRIMARY KEY,
      event_id            TEXT    NOT NULL UNIQUE,
      stream_id           TEXT    NOT NULL,
      stream_version      INTEGER NOT NULL,
      type                TEXT    NOT NULL,
      payload             TEXT,
      payload_meta        TEXT,
      metadata            TEXT,
      metadata_meta       TEXT,
      agent_id            TEXT,
      signature           TEXT,
      local_timestamp     INTEGER NOT NULL,
      authority_timestamp INTEGER NOT NULL,
      prev_hash           TEXT    NOT NULL,
      content_hash        TEXT    NOT NULL,
      UNIQUE (stream_id, stream_version)
    ) STRICT`);
  return db.prepare(`INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
}

async function withLedger(path: string, durability: Durability, run: (ledger: Ledger) => Promise<ScenarioResult>) {
  const ledger = await openLedger(path, { durability });
  try {
    return await run(ledger);
  } finally {
    await ledger.close();
  }
}

/** (b) One request of 1,000 events at a time: one message, one commit each. */
async function batches(ledger: Ledger, durability: Durability, events: number): Promise<ScenarioResult> {
  const batch: AppendInput[] = Array.from({ length: GROUP }, () => INPUT);
  return throughput('b', durability, events, await timeBatches(() => ledger.appendBatch(batch), events));
}

/**
 * (c) 1,000 callers appending in the same tick, then waiting for all of them: what group
 * commit is for. Every append is its own request (own promise and outcome).
 */
async function concurrent(ledger: Ledger, durability: Durability, events: number): Promise<ScenarioResult> {
  return throughput('c', durability, events, await timeInFlight(() => ledger.append(INPUT), events));
}

/** (d) A single caller awaiting each append before the next: latency, one commit per event. */
async function oneAtATime(ledger: Ledger, durability: Durability, samples: number): Promise<ScenarioResult> {
  const { ms, ...latency } = await timeOneAtATime(() => ledger.append(INPUT), samples);
  return { ...throughput('d', durability, samples, ms), ...latency };
}

// The timing loops of (b), (c) and (d), shared with peers.ts and scale.ts so that Stele and its
// peers are timed by the same code. Each returns the milliseconds of the timed part only.

/** `appendBatch` writes 1,000 events per call; `events` (a multiple of 1,000) are timed after warm-up. */
export async function timeBatches(appendBatch: () => Promise<unknown>, events: number): Promise<number> {
  for (let i = 0; i < WARMUP_GROUPS; i++) await appendBatch();
  const start = performance.now();
  for (let i = 0; i < events / GROUP; i++) await appendBatch();
  return performance.now() - start;
}

/** Groups of 1,000 `append` calls made in the same tick, each group awaited whole. */
export async function timeInFlight(append: () => Promise<unknown>, events: number): Promise<number> {
  const group = () => {
    const appends: Promise<unknown>[] = new Array(GROUP);
    for (let i = 0; i < GROUP; i++) appends[i] = append();
    return Promise.all(appends);
  };
  for (let i = 0; i < WARMUP_GROUPS; i++) await group();
  const start = performance.now();
  for (let i = 0; i < events / GROUP; i++) await group();
  return performance.now() - start;
}

/** One `append` at a time, each awaited: the latency of every timed call. */
export async function timeOneAtATime(append: () => Promise<unknown>, samples: number): Promise<{ ms: number; p50Us: number; p99Us: number }> {
  for (let i = 0; i < Math.min(200, samples); i++) await append();
  const latencies = new Float64Array(samples);
  const start = performance.now();
  for (let i = 0; i < samples; i++) {
    const t = performance.now();
    await append();
    latencies[i] = performance.now() - t;
  }
  return { ms: performance.now() - start, ...percentiles(latencies) };
}

/**
 * Fills a ledger with `events` in batches of 1,000 through `appendBatch`, each batch its own
 * stream `bench-<n>` (n from 0), so that a stream read has 1,000 events to read: the fixture of
 * the read and scale benchmarks. `progress` hears the count after each batch.
 */
export async function fillLedger(ledger: Ledger, events: number, progress: (appended: number) => void = () => {}): Promise<void> {
  const batch: AppendInput[] = Array.from({ length: GROUP }, () => INPUT);
  for (let appended = ledger.maxSequence(); appended < events; appended += GROUP) {
    await ledger.appendBatch(batch.slice(0, Math.min(GROUP, events - appended)), { streamId: `bench-${appended / GROUP}` });
    progress(appended + GROUP);
  }
}

/**
 * (e) The floor for (d): a round trip over a MessageChannel whose far port was transferred to a
 * worker, as the writer's is, carrying the payload's JSON text, with nothing done on either side.
 */
async function echo(samples: number): Promise<ScenarioResult> {
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(new URL('./echo-worker.mjs', import.meta.url), {
    workerData: { port: port2 },
    transferList: [port2],
  });
  try {
    let answered: () => void = () => {};
    port1.on('message', () => answered());
    const roundTrip = () =>
      new Promise<void>((resolve) => {
        answered = resolve;
        port1.postMessage(PAYLOAD_JSON);
      });
    for (let i = 0; i < Math.min(1_000, samples); i++) await roundTrip();
    const latencies = new Float64Array(samples);
    const start = performance.now();
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await roundTrip();
      latencies[i] = performance.now() - t;
    }
    return { ...throughput('e', undefined, samples, performance.now() - start), ...percentiles(latencies) };
  } finally {
    port1.close();
    await worker.terminate();
  }
}

function throughput(id: ScenarioId, durability: Durability | undefined, events: number, ms: number): ScenarioResult {
  return { id, name: SCENARIOS[id], durability, events, seconds: ms / 1000, eventsPerSecond: events / (ms / 1000) };
}

/** Nearest-rank percentiles, in µs. */
export function percentiles(latenciesMs: Float64Array): { p50Us: number; p99Us: number } {
  const sorted = latenciesMs.slice().sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]! * 1000;
  return { p50Us: at(0.5), p99Us: at(0.99) };
}

function ratiosOf(results: ScenarioResult[]): Ratio[] {
  const find = (id: ScenarioId, durability?: Durability) =>
    results.find((r) => r.id === id && (id === 'e' || r.durability === durability));
  const ratios: Ratio[] = [];
  for (const durability of ['full', 'normal'] as const) {
    const [a, b, c, d, f] = (['a', 'b', 'c', 'd', 'f'] as const).map((id) => find(id, durability));
    const e = find('e');
    if (a && c) {
      const value = c.eventsPerSecond / a.eventsPerSecond;
      ratios.push(durability === 'full' ? { name: '(c)/(a)', durability, value, target: '>= 0.5', met: value >= 0.5 } : { name: '(c)/(a)', durability, value });
    }
    if (a && b) {
      const value = b.eventsPerSecond / a.eventsPerSecond;
      ratios.push(durability === 'full' ? { name: '(b)/(a)', durability, value, target: '>= 0.45', met: value >= 0.45 } : { name: '(b)/(a)', durability, value });
    }
    if (d?.p50Us && e?.p50Us && f?.p50Us) {
      const value = d.p50Us / (f.p50Us + e.p50Us);
      ratios.push({ name: 'p50(d)/(p50(f)+p50(e))', durability, value, target: '<= 1.3', met: value <= 1.3 });
    }
  }
  return ratios;
}

export function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return db.prepare('SELECT sqlite_version()').pluck().get() as string;
  } finally {
    db.close();
  }
}

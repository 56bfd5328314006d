/**
 * Does Stele slow down as the ledger grows? The same appends and point reads on a big ledger
 * (10,000,000 events; 1,000,000 with --quick) and on a small one (10,000), in the same run:
 *
 * (c) 1,000 concurrent append() at durability 'full', as append.ts's (c), appended to each ledger
 * (r1) `get(sequence)` of a random event anywhere in the ledger: latency p50/p99
 *
 * Targets: throughput(c) on the big ledger ≥ 0.9 × on the small one, and p50(r1) on the big one
 * ≤ 1.2 × on the small one (both "within 20%"). Rounds alternate small and big, best of each kept,
 * so that a noisy neighbour or a slow fsync does not decide the comparison.
 *
 * The big ledger is built once, through appendBatch (1,000-event streams, 200-byte payloads, at
 * durability 'normal'; ~530 bytes per event on disk, so ~5 GB for 10M, and 45–60 min on this
 * 2-core machine), and kept in the OS temp directory under a name that fingerprints the schema
 * (native-sql/) and the payload: later runs reuse it, a schema change rebuilds it, and an
 * interrupted build resumes. The timed appends stay in both ledgers (a fraction of a percent of
 * the big one; the small one ends a few times its size, still small). Delete
 * `<tmpdir>/stele-bench-cache/` to reclaim the space.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openLedger, type Ledger } from '../lib/index.ts';
import { schemaSql } from '../lib/sqlite/migrations.ts';
import { fillLedger, INPUT, PAYLOAD_JSON, percentiles, timeInFlight, type Ratio } from './append.ts';

export interface ScaleBenchSettings {
  /** Events in the big ledger; a multiple of 1,000. */
  bigEvents: number;
  /** Events in the small ledger; a multiple of 1,000. */
  smallEvents: number;
  /** Events appended by (c) per ledger per round; a multiple of 1,000. */
  appendEvents: number;
  /** Point reads timed per ledger per round. */
  reads: number;
  /** Rounds; the best of each scenario is kept. */
  rounds: number;
}

export interface ScaleScenarioResult {
  id: 'c' | 'r1';
  name: string;
  /** Events in the ledger when the scenario started (its last round). */
  ledgerEvents: number;
  count: number;
  seconds: number;
  perSecond: number;
  p50Us?: number;
  p99Us?: number;
}

export interface ScaleBenchResult {
  results: ScaleScenarioResult[];
  ratios: Ratio[];
  cache: { path: string; reused: boolean; buildSeconds?: number; bytesPerEvent: number };
}

const CACHE_DIR = join(tmpdir(), 'stele-bench-cache');

export async function runScaleBench(settings: ScaleBenchSettings, progress: (line: string) => void = () => {}): Promise<ScaleBenchResult> {
  for (const key of ['bigEvents', 'smallEvents', 'appendEvents'] as const) {
    if (!Number.isSafeInteger(settings[key]) || settings[key] < 1_000 || settings[key] % 1_000 !== 0) throw new RangeError(`${key} must be a multiple of 1,000`);
  }
  const big = await cachedLedger(settings.bigEvents, progress);
  const smallDir = mkdtempSync(join(tmpdir(), 'stele-bench-scale-'));
  const ledgers: Array<{ label: string; ledger: Ledger | undefined; path: string }> = [
    { label: short(settings.smallEvents), ledger: undefined, path: join(smallDir, 'ledger.db') },
    { label: short(settings.bigEvents), ledger: undefined, path: big.path },
  ];
  try {
    for (const entry of ledgers) entry.ledger = await openLedger(entry.path, { durability: 'full' });
    await fillLedger(ledgers[0]!.ledger!, settings.smallEvents);

    const best = new Map<string, ScaleScenarioResult>();
    const keep = (result: ScaleScenarioResult, better: (a: ScaleScenarioResult, b: ScaleScenarioResult) => boolean) => {
      const key = `${result.id}@${result.name}`;
      const current = best.get(key);
      if (!current || better(result, current)) best.set(key, result);
    };
    for (let round = 0; round < settings.rounds; round++) {
      for (const { label, ledger } of ledgers) {
        const ledgerEvents = ledger!.maxSequence();
        const ms = await timeInFlight(() => ledger!.append(INPUT), settings.appendEvents);
        const c: ScaleScenarioResult = { id: 'c', name: `1,000 concurrent append() at ${label} events`, ledgerEvents, count: settings.appendEvents, seconds: ms / 1000, perSecond: settings.appendEvents / (ms / 1000) };
        keep(c, (a, b) => a.perSecond > b.perSecond);
        const r1 = pointReads(ledger!, label, settings.reads);
        keep(r1, (a, b) => a.p50Us! < b.p50Us!);
        progress(`  round ${round + 1} at ${label}: (c) ${Math.round(c.perSecond).toLocaleString('en-US')} events/s, (r1) p50 ${r1.p50Us!.toFixed(1)} µs`);
      }
    }
    const results = [...best.values()];
    const at = (id: ScaleScenarioResult['id'], events: number) => results.find((r) => r.id === id && r.name.endsWith(` ${short(events)} events`))!;
    const throughput = at('c', settings.bigEvents).perSecond / at('c', settings.smallEvents).perSecond;
    const latency = at('r1', settings.bigEvents).p50Us! / at('r1', settings.smallEvents).p50Us!;
    const ratios: Ratio[] = [
      { name: `(c) at ${short(settings.bigEvents)} ÷ at ${short(settings.smallEvents)}`, durability: 'full', value: throughput, target: '>= 0.9', met: throughput >= 0.9 },
      { name: `p50(r1) at ${short(settings.bigEvents)} ÷ at ${short(settings.smallEvents)}`, value: latency, target: '<= 1.2', met: latency <= 1.2 },
    ];
    return { results, ratios, cache: big };
  } finally {
    for (const { ledger } of ledgers) await ledger?.close();
    rmSync(smallDir, { recursive: true, force: true });
  }
}

/** `reads` timed `get()`s of random sequences anywhere in the ledger, after as many untimed. */
function pointReads(ledger: Ledger, label: string, reads: number): ScaleScenarioResult {
  const ledgerEvents = ledger.maxSequence();
  const sequences = Float64Array.from({ length: reads }, () => 1 + Math.floor(Math.random() * ledgerEvents));
  for (const sequence of sequences) ledger.get(sequence);
  const latencies = new Float64Array(reads);
  const start = performance.now();
  for (let i = 0; i < reads; i++) {
    const t = performance.now();
    if (!ledger.get(sequences[i]!)) throw new Error(`event ${sequences[i]} is missing`);
    latencies[i] = performance.now() - t;
  }
  const seconds = (performance.now() - start) / 1000;
  return { id: 'r1', name: `get(sequence) at ${label} events`, ledgerEvents, count: reads, seconds, perSecond: reads / seconds, ...percentiles(latencies) };
}

/**
 * The big ledger: reused when a complete one with this schema and payload is cached, resumed when
 * a build was interrupted, built otherwise. Caches of other schemas, at this size, are removed.
 */
async function cachedLedger(events: number, progress: (line: string) => void): Promise<ScaleBenchResult['cache']> {
  const fingerprint = createHash('sha256')
    .update(schemaSql().join('\0'))
    .update(PAYLOAD_JSON)
    .digest('hex')
    .slice(0, 12);
  const prefix = `scale-${events}-`;
  const dir = join(CACHE_DIR, prefix + fingerprint);
  mkdirSync(CACHE_DIR, { recursive: true });
  for (const stale of readdirSync(CACHE_DIR)) {
    if (stale.startsWith(prefix) && stale !== prefix + fingerprint) rmSync(join(CACHE_DIR, stale), { recursive: true, force: true });
  }
  const path = join(dir, 'ledger.db');
  const existed = existsSync(path);
  mkdirSync(dir, { recursive: true });
  let ledger: Ledger;
  try {
    ledger = await openLedger(path, { durability: 'normal' });
  } catch (error) {
    // A cache that no longer opens (a crash mid-build is not one of those: commits are atomic).
    progress(`  cached ledger ${path} does not open (${(error as Error).message}); rebuilding`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    ledger = await openLedger(path, { durability: 'normal' });
  }
  let buildSeconds: number | undefined;
  try {
    const from = ledger.maxSequence();
    if (from >= events) {
      progress(`  reusing ${path} (${from.toLocaleString('en-US')} events; delete it to rebuild)`);
    } else {
      progress(`  ${from > 0 ? `resuming the build of ${path} at ${from.toLocaleString('en-US')}` : `building ${path}`}: ${events.toLocaleString('en-US')} events through appendBatch, once`);
      const started = performance.now();
      let next = from + events / 10;
      await fillLedger(ledger, events, (appended) => {
        if (appended < next) return;
        next += events / 10;
        const seconds = (performance.now() - started) / 1000;
        const rate = (appended - from) / seconds;
        progress(`    ${appended.toLocaleString('en-US')} events, ${Math.round(rate).toLocaleString('en-US')} events/s, ${Math.round((events - appended) / rate)} s to go`);
      });
      buildSeconds = (performance.now() - started) / 1000;
    }
  } finally {
    await ledger.close();
  }
  const bytes = readdirSync(dir).reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
  return { path, reused: existed && buildSeconds === undefined, buildSeconds, bytesPerEvent: bytes / events };
}

function short(events: number): string {
  return events >= 1_000_000 ? `${events / 1_000_000}M` : events >= 1_000 ? `${events / 1_000}k` : String(events);
}

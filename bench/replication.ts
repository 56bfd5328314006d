/**
 * Replication benchmarks:
 *   seed   seeding an empty replica from a large primary (replicateFile), every row through the
 *          replica's guards (hash recomputed, chain checked), against (a), the raw INSERT ceiling
 *          of the same row shape at the same durability ('full': the replica always syncs)
 *   sync-N one awaited append() at a time with sync replication to N replicas (0, 1, 3), at
 *          durability 'full': what waiting for the copies costs per acknowledgement
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FileCopyReplicator, openLedger, replicateFile } from '../lib/index.ts';
import { fillLedger, INPUT, runAppendBench, timeOneAtATime, type Ratio } from './append.ts';

export interface ReplicationBenchSettings {
  /** Events of the primary a replica is seeded from (a multiple of 1,000). */
  seedEvents: number;
  /** Timed appends per replica count. */
  latencySamples: number;
  /** Rows of the (a) ceiling run. */
  ceilingEvents: number;
}

export interface ReplicationRow {
  scenario: string;
  events: number;
  perSecond: number;
  p50Us?: number;
  p99Us?: number;
}

const REPLICA_COUNTS = [0, 1, 3] as const;

/** The seeded primary is kept between runs (it takes a while to build); its size is in its name. */
function cachedPrimary(events: number): string {
  return join(tmpdir(), `stele-bench-replication-primary-${events}.db`);
}

function rowsIn(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT coalesce(max(sequence), 0) FROM events').pluck().get() as number) ?? 0;
  } finally {
    db.close();
  }
}

export async function runReplicationBench(
  settings: ReplicationBenchSettings,
  progress: (line: string) => void = () => {},
): Promise<{ rows: ReplicationRow[]; ratios: Ratio[] }> {
  const rows: ReplicationRow[] = [];
  const ratios: Ratio[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-replication-'));
  try {
    // Seeding, and the ceiling in the same run.
    const primary = cachedPrimary(settings.seedEvents);
    if (!existsSync(primary) || rowsIn(primary) !== settings.seedEvents) {
      progress(`  building a ${settings.seedEvents.toLocaleString('en-US')}-event primary (cached in ${primary})`);
      rmSync(primary, { force: true });
      const ledger = await openLedger(primary, { durability: 'normal' });
      await fillLedger(ledger, settings.seedEvents);
      await ledger.close();
    }
    const replica = join(dir, 'replica.db');
    const start = performance.now();
    const receipt = await replicateFile(primary, replica);
    const seconds = (performance.now() - start) / 1000;
    if (receipt.status !== 'confirmed' || receipt.sequence !== settings.seedEvents) throw new Error(`seeding failed: ${receipt.status} at ${receipt.sequence}`);
    const seed = { scenario: 'seed a replica (replicateFile)', events: settings.seedEvents, perSecond: settings.seedEvents / seconds };
    rows.push(seed);
    progress(`  seed: ${Math.round(seed.perSecond).toLocaleString('en-US')} events/s`);

    const ceiling = (await runAppendBench({ events: settings.ceilingEvents, latencySamples: 1, echoSamples: 1, only: new Set(['a']), durabilities: ['full'] })).results[0]!;
    rows.push({ scenario: '(a) raw INSERT ceiling', events: ceiling.events, perSecond: ceiling.eventsPerSecond });
    ratios.push({ name: 'seed / (a) raw INSERT ceiling', durability: 'full', value: seed.perSecond / ceiling.eventsPerSecond, target: '>= 0.5', met: seed.perSecond / ceiling.eventsPerSecond >= 0.5 });

    // Acknowledgement latency with 0, 1 and 3 sync replicas.
    const latency = new Map<number, ReplicationRow>();
    for (const count of REPLICA_COUNTS) {
      const sub = join(dir, `sync-${count}`);
      const ledger = await openLedger(`${sub}.db`, {
        durability: 'full',
        replication: 'sync',
        replicas: Array.from({ length: count }, (_, i) => new FileCopyReplicator(`${sub}-copy-${i}.db`)),
      });
      try {
        const timed = await timeOneAtATime(() => ledger.append(INPUT), settings.latencySamples);
        const row = { scenario: `append, sync replication to ${count}`, events: settings.latencySamples, perSecond: settings.latencySamples / (timed.ms / 1000), p50Us: timed.p50Us, p99Us: timed.p99Us };
        latency.set(count, row);
        rows.push(row);
        progress(`  sync-${count}: p50 ${Math.round(timed.p50Us)} µs, p99 ${Math.round(timed.p99Us)} µs`);
      } finally {
        await ledger.close();
      }
    }
    const none = latency.get(0)!;
    for (const count of [1, 3] as const) {
      const row = latency.get(count)!;
      ratios.push({ name: `p50 sync to ${count} / p50 no replica`, durability: 'full', value: row.p50Us! / none.p50Us! });
      ratios.push({ name: `p99 sync to ${count} / p99 no replica`, durability: 'full', value: row.p99Us! / none.p99Us! });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { rows, ratios };
}

/**
 * `npm run bench:postgres`: PostgreSQL replicas against the physical limit of the same database,
 * on a throwaway local cluster (fsync on, synchronous_commit on). Skipped with a note when
 * PostgreSQL is not installed.
 *
 *   replication ÷ plain   rows/s copied by PostgresReplicator (every row through the PL/pgSQL
 *                         triggers) ÷ rows/s of the same INSERT ... SELECT unnest(...) statements,
 *                         same transaction size, into a copy of the table without triggers
 *   append p50            append() with a sync PostgreSQL replica ÷ without a replica
 *   stele_verify          rows/s verified inside PostgreSQL
 *
 *   npm run bench:postgres -- --rows 50000
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openLedger } from '../lib/index.ts';
import { installPostgresLedger, PostgresReplicator } from '../lib/postgres.ts';
import { PG_EVENT_COLUMNS, PG_EVENT_TYPES } from '../lib/replication/postgres-client.ts';
import { postgresUnavailable, startPostgresCluster } from '../spec/helpers/postgres-cluster.ts';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '20000' }, appends: { type: 'string', default: '300' } } });
const ROWS = Number(args.rows);
const APPENDS = Number(args.appends);

const unavailable = postgresUnavailable();
if (unavailable) {
  console.log(`PostgreSQL bench skipped: ${unavailable}`);
  process.exit(0);
}

const cleanups: (() => unknown)[] = [];
const cluster = await startPostgresCluster({ after: (fn: () => unknown) => cleanups.push(fn) });
const dir = mkdtempSync(join(tmpdir(), 'stele-bench-pg-'));
try {
  const url = cluster.url();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  await installPostgresLedger(url, { ledger: 'bench' });
  await installPostgresLedger(url, { ledger: 'bench_latency' });

  // A primary of ROWS events in 10 streams, payloads of ~60 bytes.
  const path = join(dir, 'primary.db');
  const primary = await openLedger(path);
  for (let i = 0; i < ROWS; i += 10_000) {
    await primary.appendBatch(Array.from({ length: Math.min(10_000, ROWS - i) }, (_, k) => ({ streamId: `s-${(i + k) % 10}`, type: 'tick', payload: { i: i + k, note: 'benchmark row' } })));
  }

  // Replication through the triggers.
  const replicator = new PostgresReplicator(pool, { ledger: 'bench' });
  await primary.close();
  await replicator.attach({ path });
  let started = performance.now();
  const receipt = await replicator.propagate(ROWS);
  const replicationSeconds = (performance.now() - started) / 1000;
  if (receipt.status !== 'confirmed' || receipt.sequence !== ROWS) throw new Error(`replication failed: ${receipt.error?.message}`);
  await replicator.close();

  // The same statements into a copy of the table without triggers.
  await pool.query('CREATE SCHEMA plain; CREATE TABLE plain.events (LIKE bench.events INCLUDING ALL)');
  const db = new Database(path, { readonly: true });
  const rows = db.prepare(`SELECT ${PG_EVENT_COLUMNS} FROM events ORDER BY sequence`).raw().all() as unknown[][];
  db.close();
  const arrays = PG_EVENT_TYPES.map((type, i) => `$${i + 1}::${type}[]`).join(', ');
  started = performance.now();
  for (let t = 0; t < rows.length; t += 10_000) {
    const session = await pool.connect();
    await session.query('BEGIN');
    for (let s = t; s < Math.min(rows.length, t + 10_000); s += 1_000) {
      const chunk = rows.slice(s, Math.min(s + 1_000, t + 10_000));
      await session.query(`INSERT INTO plain.events (${PG_EVENT_COLUMNS}) SELECT * FROM unnest(${arrays})`, PG_EVENT_TYPES.map((_, i) => chunk.map((row) => row[i] ?? null)));
    }
    await session.query('COMMIT');
    session.release();
  }
  const plainSeconds = (performance.now() - started) / 1000;

  // Verification inside PostgreSQL.
  started = performance.now();
  const verdict = (await pool.query(`SELECT ok FROM stele.stele_verify('bench')`)).rows[0];
  const verifySeconds = (performance.now() - started) / 1000;
  if (verdict.ok !== true) throw new Error('stele_verify failed on the benchmark ledger');

  // Append latency, without and with a sync PostgreSQL replica.
  const p50 = async (replicas: PostgresReplicator[], name: string) => {
    const ledger = await openLedger(join(dir, `${name}.db`), { replicas, replication: 'sync' });
    const times: number[] = [];
    for (let i = 0; i < APPENDS; i++) {
      const t0 = performance.now();
      await ledger.append({ type: 'tick', payload: { i } });
      times.push(performance.now() - t0);
    }
    await ledger.close();
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  };
  const without = await p50([], 'alone');
  const withReplica = await p50([new PostgresReplicator(cluster.url(), { ledger: 'bench_latency' })], 'replicated');
  await pool.end();

  const replicationRate = ROWS / replicationSeconds;
  const plainRate = ROWS / plainSeconds;
  console.log(`PostgreSQL ${(await versionOf(url)) ?? ''}, ${ROWS} rows, fsync on, synchronous_commit on`);
  console.log(`replication through triggers   ${Math.round(replicationRate).toLocaleString('en')} rows/s`);
  console.log(`plain INSERT, no triggers      ${Math.round(plainRate).toLocaleString('en')} rows/s`);
  console.log(`ratio (target >= 0.5)          ${(replicationRate / plainRate).toFixed(2)}`);
  console.log(`append p50 alone / with sync PG replica   ${without.toFixed(2)} ms / ${withReplica.toFixed(2)} ms  (ratio ${(withReplica / without).toFixed(2)})`);
  console.log(`stele_verify                   ${Math.round(ROWS / verifySeconds).toLocaleString('en')} rows/s`);
} finally {
  for (const fn of cleanups) fn();
  rmSync(dir, { recursive: true, force: true });
}

async function versionOf(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SHOW server_version')).rows[0]?.server_version as string | undefined;
  } finally {
    await client.end();
  }
}

/**
 * `npm run bench`: runs the benchmarks (append.ts, verify.ts, signatures.ts, peers.ts, scale.ts,
 * memory.ts, replication.ts, merkle.ts), prints one table, and writes the figures as one JSON file to bench/results/
 * (git-ignored) so runs can be compared.
 *
 *   npm run bench                 full run (up to an hour more the first time: scale.ts builds
 *                                 and caches a 10M-event ledger, ~5 GB in the OS temp directory)
 *   npm run bench -- --quick      a short run, to check that everything works (a few minutes)
 *   npm run bench -- --only c --durability full    one scenario, e.g. under --cpu-prof
 *   npm run bench -- --only verify,signatures      whole benchmarks: append, verify, signatures,
 *                                                  peers, scale, memory
 *   npm run bench -- --install-peers               install bench/peers/ first (npm ci there)
 *   npm run bench -- --only postgres               PostgreSQL replicas (skipped with a note without PostgreSQL)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus, platform, arch } from 'node:os';
import { parseArgs } from 'node:util';
import { runAppendBench, SCENARIOS, sqliteVersion, type Durability, type Ratio, type ScenarioId } from './append.ts';
import { runMemoryBench } from './memory.ts';
import { runMerkleBench } from './merkle.ts';
import { installPeers, peerRatios, runPeerBench, type PeerScenarioResult } from './peers.ts';
import { runReplicationBench } from './replication.ts';
import { runScaleBench } from './scale.ts';
import { runSignatureBench } from './signatures.ts';
import { runVerifyBench } from './verify.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    durability: { type: 'string', multiple: true },
    'install-peers': { type: 'boolean', default: false },
  },
});

// --only takes append scenario ids (a–e) and whole benchmarks ('append' is a–e); none means all.
const BENCHES = ['append', 'verify', 'signatures', 'peers', 'scale', 'memory', 'replication', 'postgres', 'merkle'] as const;
const vocabulary = [...Object.keys(SCENARIOS), ...BENCHES];
const only = args.only && new Set(args.only.flatMap((s) => s.split(',')));
for (const id of only ?? []) if (!vocabulary.includes(id)) throw new RangeError(`--only takes ${vocabulary.join(', ')}; got '${id}'`);
const selected = (bench: (typeof BENCHES)[number]) => !only || only.has(bench);
const scenarios = only && !only.has('append') ? new Set([...only].filter((id): id is ScenarioId => id in SCENARIOS)) : undefined;
// The peer ratios set Stele's own (b), (c) and (d) against the peers': run them with the peers.
if (scenarios && selected('peers')) for (const id of ['b', 'c', 'd'] as const) scenarios.add(id);
const runAppend = scenarios === undefined || scenarios.size > 0;
const durabilities = args.durability?.flatMap((s) => s.split(',')) as Durability[] | undefined;
for (const d of durabilities ?? []) if (d !== 'full' && d !== 'normal') throw new RangeError(`--durability takes full or normal; got '${d}'`);

// Sized so that the full run stays within several minutes on 2 cores, with append (d) at 'full'
// (one fsync per event) and the ed25519 work of the signature bench the slowest parts; --quick
// only checks that everything runs, in a few minutes.
// The peers' (b)/(c)/(d) use append's sizes; their reads stop at a time budget so that the slow
// ones (Emmett's point reads, hypercore's pages) stay short. Scale builds its big ledger once and
// caches it (the first full run spends up to an hour on 10M here). Memory fires 1M appends even in --quick,
// since its target is about that many, and reports what it reached if it runs past its timeout.
const settings = args.quick
  ? {
      append: { events: 10_000, latencySamples: 300, echoSamples: 2_000 },
      verify: { events: 50_000, runs: 3 },
      signatures: { events: 10_000 },
      peers: { events: 10_000, latencySamples: 300, readEvents: 10_000, reads: 20_000, readBudgetMs: 1_000 },
      scale: { bigEvents: 1_000_000, smallEvents: 10_000, appendEvents: 10_000, reads: 20_000, rounds: 2 },
      memory: { events: 1_000_000, timeoutMs: 60_000 },
      replication: { seedEvents: 100_000, ceilingEvents: 100_000, latencySamples: 300 },
      merkle: { events: 10_000, rounds: 2, proofs: 2_000 },
    }
  : {
      append: { events: 100_000, latencySamples: 3_000, echoSamples: 20_000 },
      verify: { events: 200_000, runs: 3 },
      signatures: { events: 50_000 },
      peers: { events: 100_000, latencySamples: 3_000, readEvents: 100_000, reads: 100_000, readBudgetMs: 3_000 },
      scale: { bigEvents: 10_000_000, smallEvents: 10_000, appendEvents: 50_000, reads: 100_000, rounds: 3 },
      memory: { events: 1_000_000, timeoutMs: 300_000 },
      // The ceiling is measured at the seed's size: a UNIQUE index of random ids costs more per row as it grows.
      replication: { seedEvents: 1_000_000, ceilingEvents: 1_000_000, latencySamples: 2_000 },
      // The proofs are measured on the last file with the tree: at 1M events, as the transparency targets are stated.
      merkle: { events: 1_000_000, rounds: 3, proofs: 20_000 },
    };

/** One line of the table. A row with no figure (a peer that fails or lacks the scenario) says why in `note`. */
interface Row {
  scenario: string;
  /** Stele's durability, a peer's ('no fsync' for hypercore), or none. */
  durability?: string;
  perSecond?: number;
  unit: string;
  p50Us?: number;
  p99Us?: number;
  note?: string;
}
const rows: Row[] = [];
const ratios: Ratio[] = [];
const json: Record<string, unknown> = {};
const log = (line: string) => console.log(line);

const startedAt = new Date();
console.log(`stele benchmarks (${args.quick ? 'quick' : 'full'} run)`);
if (args['install-peers']) installPeers();

let append: Awaited<ReturnType<typeof runAppendBench>> | undefined;
if (runAppend) {
  console.log(`append: ${settings.append.events.toLocaleString('en-US')} events per throughput scenario`);
  append = await runAppendBench({ ...settings.append, only: scenarios, durabilities }, log);
  for (const r of append.results) rows.push({ scenario: `(${r.id}) ${r.name}`, durability: r.durability, perSecond: r.eventsPerSecond, unit: 'events', p50Us: r.p50Us, p99Us: r.p99Us });
  ratios.push(...append.ratios);
  json.append = { payloadBytes: 200, results: append.results, ratios: append.ratios };
}

if (selected('verify')) {
  console.log(`verify: ${settings.verify.events.toLocaleString('en-US')} rows, best of ${settings.verify.runs}`);
  const verify = await runVerifyBench(settings.verify, log);
  for (const r of verify.results) rows.push({ scenario: `(${r.id}) ${r.name}`, perSecond: r.rowsPerSecond, unit: 'rows' });
  ratios.push({ ...verify.ratio, name: '(v1)/(v0)' }, { name: '(v1)/(v0r) threads alone', value: verify.parallelRatio });
  console.log(`  ${verify.threads} pool threads; first call with pool start-up ${verify.coldSeconds.toFixed(2)} s`);
  json.verify = verify;
}

if (selected('signatures')) {
  console.log(`signatures: ${settings.signatures.events.toLocaleString('en-US')} signed events per durability`);
  const signatures = await runSignatureBench({ ...settings.signatures, durabilities }, log);
  for (const r of signatures.results) rows.push({ scenario: `(${r.id}) ${r.name}`, durability: r.durability, perSecond: r.eventsPerSecond, unit: 'events' });
  ratios.push(...signatures.ratios);
  json.signatures = signatures;
}

if (selected('peers')) {
  console.log(`peers: ${settings.peers.events.toLocaleString('en-US')} events per throughput scenario, reads on ${settings.peers.readEvents.toLocaleString('en-US')}-event fixtures`);
  const peers = await runPeerBench(settings.peers, log);
  if (peers.skipped) console.log(`  peers skipped: ${peers.skipped}`);
  const label = (r: PeerScenarioResult) => `(${r.id}) ${r.subject}: ${r.name}`;
  for (const r of peers.results) rows.push({ scenario: label(r), durability: r.durability, perSecond: r.perSecond, unit: r.unit, p50Us: r.p50Us, p99Us: r.p99Us, note: r.note });
  const peerRatioRows = peerRatios(append?.results ?? [], peers.results);
  ratios.push(...peerRatioRows);
  json.peers = { ...peers, ratios: peerRatioRows };
}

if (selected('scale')) {
  console.log(`scale: ${settings.scale.bigEvents.toLocaleString('en-US')} events against ${settings.scale.smallEvents.toLocaleString('en-US')}, best of ${settings.scale.rounds} rounds`);
  const scale = await runScaleBench(settings.scale, log);
  for (const r of scale.results) rows.push({ scenario: `(${r.id}) ${r.name}`, durability: r.id === 'c' ? 'full' : undefined, perSecond: r.perSecond, unit: r.id === 'c' ? 'events' : 'reads', p50Us: r.p50Us, p99Us: r.p99Us });
  ratios.push(...scale.ratios);
  console.log(`  big ledger: ${scale.cache.path}, ${Math.round(scale.cache.bytesPerEvent)} bytes/event on disk${scale.cache.buildSeconds ? `, built in ${Math.round(scale.cache.buildSeconds)} s` : ''}`);
  json.scale = scale;
}

if (selected('memory')) {
  console.log(`memory: ${settings.memory.events.toLocaleString('en-US')} append() fired without await, in a child process`);
  const memory = await runMemoryBench(settings.memory, log);
  rows.push({ scenario: `(m) ${memory.events.toLocaleString('en-US')} append() fired without await`, durability: 'full', perSecond: memory.eventsPerSecond, unit: 'events' });
  ratios.push(...memory.ratios);
  json.memory = memory;
}

if (selected('replication')) {
  console.log(`replication: seeding from a ${settings.replication.seedEvents.toLocaleString('en-US')}-event primary; sync latency to 0, 1, 3 replicas`);
  const replication = await runReplicationBench(settings.replication, log);
  for (const r of replication.rows) rows.push({ scenario: `(rep) ${r.scenario}`, durability: 'full', perSecond: r.perSecond, unit: 'events', p50Us: r.p50Us, p99Us: r.p99Us });
  ratios.push(...replication.ratios);
  json.replication = replication;
}

if (selected('postgres')) {
  // Its own process and throwaway cluster; it prints its own ratios, or a note when PostgreSQL is absent.
  console.log('postgres: replication into PostgreSQL against a plain INSERT, sync append latency, stele_verify (bench/postgres.ts)');
  const rowsArg = args.quick ? ['--rows', '5000', '--appends', '100'] : [];
  const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./postgres.ts', import.meta.url)), ...rowsArg], { stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`bench/postgres.ts exited with ${run.status ?? run.signal}`);
}

if (selected('merkle')) {
  console.log(`merkle: ${settings.merkle.events.toLocaleString('en-US')} SQL appends with and without the tree, best of ${settings.merkle.rounds}`);
  const merkle = await runMerkleBench(settings.merkle, log);
  for (const r of merkle.results) rows.push({ scenario: `(${r.id}) ${r.name}`, durability: r.id.startsWith('t') ? 'normal' : undefined, perSecond: r.perSecond, unit: r.unit });
  ratios.push(...merkle.ratios);
  json.merkle = merkle;
}

console.log();
console.log(table(rows, ratios));

const environment = {
  node: process.version,
  platform: `${platform()} ${arch()}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  sqlite: sqliteVersion(),
};
console.log(`\nnode ${environment.node}, sqlite ${environment.sqlite}, ${environment.cpus} × ${environment.cpuModel}`);

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`, dir);
writeFileSync(file, JSON.stringify({ startedAt, quick: args.quick, only: only && [...only], settings, environment, ...json }, null, 2) + '\n');
console.log(`results: ${file.pathname}`);

/** A row's note (why it has no figure, or what to know about it) is numbered below the table. */
function table(rows: Row[], ratios: Ratio[]): string {
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const us = (n: number | undefined) => (n === undefined ? '' : n.toFixed(1));
  const notes: string[] = [];
  const lines: string[][] = [['scenario', 'durability', 'throughput', 'p50 µs', 'p99 µs']];
  for (const r of rows) {
    const note = r.note ?? (r.perSecond === undefined ? 'no figure' : undefined);
    const marker = note === undefined ? '' : ` [${notes.push(note)}]`;
    const figure = (r.perSecond === undefined ? 'n/a' : `${int(r.perSecond)} ${r.unit}/s`) + marker;
    lines.push([r.scenario, r.durability ?? '-', figure, us(r.p50Us), us(r.p99Us)]);
  }
  if (ratios.length > 0) lines.push([], ['ratio', 'durability', 'value', 'target', '']);
  for (const r of ratios) lines.push([r.name, r.durability ?? '-', `${r.value.toFixed(2)}${r.unit ?? '×'}`, r.target ?? '', r.met === undefined ? '' : r.met ? 'MET' : 'MISSED']);
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((line) => (line[i] ?? '').length)));
  return lines
    .map((line) =>
      line.length === 0
        ? widths.map((w) => '-'.repeat(w)).join('  ')
        : line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .concat(notes.map((note, i) => `[${i + 1}] ${note}`))
    .join('\n');
}

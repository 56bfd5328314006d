/**
 * `npm run bench`: runs the benchmarks (append.ts, verify.ts, signatures.ts), prints one table,
 * and writes the figures as one JSON file to bench/results/ (git-ignored) so runs can be compared.
 *
 *   npm run bench                 full run (several minutes on 2 cores)
 *   npm run bench -- --quick      a short run, to check that everything works
 *   npm run bench -- --only c --durability full    one scenario, e.g. under --cpu-prof
 *   npm run bench -- --only verify,signatures      whole benchmarks: append, verify, signatures
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, arch } from 'node:os';
import { parseArgs } from 'node:util';
import { runAppendBench, SCENARIOS, sqliteVersion, type Durability, type ScenarioId } from './append.ts';
import { runSignatureBench } from './signatures.ts';
import { runVerifyBench } from './verify.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    durability: { type: 'string', multiple: true },
  },
});

// --only takes append scenario ids (a–e) and whole benchmarks ('append' is a–e); none means all.
const BENCHES = ['append', 'verify', 'signatures'] as const;
const vocabulary = [...Object.keys(SCENARIOS), ...BENCHES];
const only = args.only && new Set(args.only.flatMap((s) => s.split(',')));
for (const id of only ?? []) if (!vocabulary.includes(id)) throw new RangeError(`--only takes ${vocabulary.join(', ')}; got '${id}'`);
const selected = (bench: (typeof BENCHES)[number]) => !only || only.has(bench);
const scenarios = only && !only.has('append') ? new Set([...only].filter((id): id is ScenarioId => id in SCENARIOS)) : undefined;
const runAppend = scenarios === undefined || scenarios.size > 0;
const durabilities = args.durability?.flatMap((s) => s.split(',')) as Durability[] | undefined;
for (const d of durabilities ?? []) if (d !== 'full' && d !== 'normal') throw new RangeError(`--durability takes full or normal; got '${d}'`);

// Sized so that the full run stays within several minutes on 2 cores, with append (d) at 'full'
// (one fsync per event) and the ed25519 work of the signature bench the slowest parts; --quick
// only checks that everything runs, in a few minutes.
const settings = args.quick
  ? { append: { events: 10_000, latencySamples: 300, echoSamples: 2_000 }, verify: { events: 50_000, runs: 3 }, signatures: { events: 10_000 } }
  : { append: { events: 100_000, latencySamples: 3_000, echoSamples: 20_000 }, verify: { events: 200_000, runs: 3 }, signatures: { events: 50_000 } };

/** One line of the table: append and signature scenarios count events, verify counts rows. */
interface Row {
  scenario: string;
  durability?: Durability;
  perSecond: number;
  unit: 'events' | 'rows';
  p50Us?: number;
  p99Us?: number;
}
interface RatioRow {
  name: string;
  durability?: Durability;
  value: number;
  target?: string;
  met?: boolean;
}
const rows: Row[] = [];
const ratios: RatioRow[] = [];
const json: Record<string, unknown> = {};
const log = (line: string) => console.log(line);

const startedAt = new Date();
console.log(`stele benchmarks (${args.quick ? 'quick' : 'full'} run)`);

if (runAppend) {
  console.log(`append: ${settings.append.events.toLocaleString('en-US')} events per throughput scenario`);
  const append = await runAppendBench({ ...settings.append, only: scenarios, durabilities }, log);
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

function table(rows: Row[], ratios: RatioRow[]): string {
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const us = (n: number | undefined) => (n === undefined ? '' : n.toFixed(1));
  const lines: string[][] = [['scenario', 'durability', 'throughput', 'p50 µs', 'p99 µs']];
  for (const r of rows) lines.push([r.scenario, r.durability ?? '-', `${int(r.perSecond)} ${r.unit}/s`, us(r.p50Us), us(r.p99Us)]);
  if (ratios.length > 0) lines.push([], ['ratio', 'durability', 'value', 'target', '']);
  for (const r of ratios) lines.push([r.name, r.durability ?? '-', `${r.value.toFixed(2)}×`, r.target ?? '', r.met === undefined ? '' : r.met ? 'MET' : 'MISSED']);
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((line) => (line[i] ?? '').length)));
  return lines
    .map((line) =>
      line.length === 0
        ? widths.map((w) => '-'.repeat(w)).join('  ')
        : line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

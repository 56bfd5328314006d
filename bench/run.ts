/**
 * `npm run bench`: runs the benchmarks, prints one table, and writes the figures as JSON to
 * bench/results/ (git-ignored) so runs can be compared later.
 *
 *   npm run bench                 full run (a few minutes on 2 cores)
 *   npm run bench -- --quick      a short run, to check that everything works
 *   npm run bench -- --only c --durability full    one scenario, e.g. under --cpu-prof
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, arch } from 'node:os';
import { parseArgs } from 'node:util';
import { runAppendBench, SCENARIOS, type Durability, type Ratio, type ScenarioId, type ScenarioResult } from './append.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', multiple: true },
    durability: { type: 'string', multiple: true },
  },
});

const only = args.only && new Set(args.only.flatMap((s) => s.split(',')) as ScenarioId[]);
for (const id of only ?? []) if (!(id in SCENARIOS)) throw new RangeError(`--only takes ${Object.keys(SCENARIOS).join(', ')}; got '${id}'`);
const durabilities = args.durability?.flatMap((s) => s.split(',')) as Durability[] | undefined;
for (const d of durabilities ?? []) if (d !== 'full' && d !== 'normal') throw new RangeError(`--durability takes full or normal; got '${d}'`);

// Sized so that the full run stays within a few minutes on 2 cores, with (d) at 'full' (one fsync
// per event) the slowest part; --quick only checks that everything runs.
const settings = args.quick
  ? { events: 10_000, latencySamples: 300, echoSamples: 2_000 }
  : { events: 100_000, latencySamples: 3_000, echoSamples: 20_000 };

const startedAt = new Date();
console.log(`stele append benchmark (${args.quick ? 'quick' : 'full'} run): ${settings.events.toLocaleString('en-US')} events per throughput scenario`);
const { results, ratios, sqliteVersion } = await runAppendBench(
  { ...settings, only, durabilities },
  (line) => console.log(line),
);

console.log();
console.log(table(results, ratios));

const environment = {
  node: process.version,
  platform: `${platform()} ${arch()}`,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  sqlite: sqliteVersion,
};
console.log(`\nnode ${environment.node}, sqlite ${environment.sqlite}, ${environment.cpus} × ${environment.cpuModel}`);

const dir = new URL('./results/', import.meta.url);
mkdirSync(dir, { recursive: true });
const file = new URL(`append-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`, dir);
writeFileSync(
  file,
  JSON.stringify({ benchmark: 'append', startedAt, quick: args.quick, payloadBytes: 200, settings, environment, results, ratios }, null, 2) + '\n',
);
console.log(`results: ${file.pathname}`);

function table(results: ScenarioResult[], ratios: Ratio[]): string {
  const int = (n: number) => Math.round(n).toLocaleString('en-US');
  const us = (n: number | undefined) => (n === undefined ? '' : n.toFixed(1));
  const rows: string[][] = [['scenario', 'durability', 'events/s', 'p50 µs', 'p99 µs']];
  for (const r of results) rows.push([`(${r.id}) ${r.name}`, r.durability ?? '-', int(r.eventsPerSecond), us(r.p50Us), us(r.p99Us)]);
  rows.push([]);
  rows.push(['ratio', 'durability', 'value', 'target', '']);
  for (const r of ratios) rows.push([r.name, r.durability, r.value.toFixed(2), r.target ?? '', r.met === undefined ? '' : r.met ? 'met' : 'MISSED']);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows
    .map((row) =>
      row.length === 0
        ? widths.map((w) => '-'.repeat(w)).join('  ')
        : row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
    )
    .join('\n');
}

/**
 * Point reads on a read-only connection with and without a memory map, the decision behind
 * READ_MMAP_BYTES = 0 in lib/sqlite/connections.ts. Run: `npx tsx bench/read-mmap.ts [events]`.
 * Builds a ledger of `events` (default 200,000) in a temp folder, then times random
 * `get(sequence)`-shaped point reads (the prepared statement of the reader), 5 rounds each way.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openLedger } from '../lib/index.ts';
import { EVENT_COLUMNS } from '../lib/format/columns.ts';

const events = Number(process.argv[2] ?? 200_000);
const reads = 200_000;
const dir = mkdtempSync(join(tmpdir(), 'stele-bench-mmap-'));
const path = join(dir, 'bench.db');
try {
  const ledger = await openLedger(path, { durability: 'normal' });
  for (let done = 0; done < events; done += 10_000) {
    await ledger.appendBatch(Array.from({ length: Math.min(10_000, events - done) }, (_, i) => ({ type: 'tick', streamId: `s-${(done + i) % 1000}`, payload: { n: done + i, note: 'x'.repeat(64) } })));
  }
  await ledger.close();
  const sequences = Array.from({ length: reads }, () => 1 + Math.floor(Math.random() * events));
  const results: Record<string, number[]> = { 'mmap 2 GiB': [], 'no mmap': [] };
  for (let round = 0; round < 5; round++) {
    for (const [name, mmap] of [['mmap 2 GiB', 2 ** 31], ['no mmap', 0]] as const) {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      db.pragma(`mmap_size = ${mmap}`);
      const get = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE sequence = ?`);
      for (let i = 0; i < 20_000; i++) get.get(sequences[i]); // warm the caches
      const started = process.hrtime.bigint();
      for (const sequence of sequences) get.get(sequence);
      const ns = Number(process.hrtime.bigint() - started);
      results[name]!.push(ns / reads / 1000);
      db.close();
    }
  }
  for (const [name, us] of Object.entries(results)) {
    const sorted = [...us].sort((a, b) => a - b);
    console.log(`${name}: median ${sorted[2]!.toFixed(2)} µs per point read (rounds: ${us.map((u) => u.toFixed(2)).join(', ')}); ${events} events`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

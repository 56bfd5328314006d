/**
 * `ledger.events()` over a large ledger: events/s and peak RSS growth while iterating every
 * event (target ≤ 64 MB at 1M events), then a filtered query (one stream of many) and a time
 * window. The ledger is built with durability 'normal' in batches of 10,000 (the build is not
 * what is measured) in the OS temp directory, and removed afterwards.
 *
 *   npx tsx --expose-gc bench/event-query.ts               1,000,000 events
 *   npx tsx --expose-gc bench/event-query.ts --events 100000
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openLedger, type AppendInput } from '../lib/index.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '1000000' } } });
const total = Number(values.events);
const BATCH = 10_000;
const STREAMS = 1_000;

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

const dir = mkdtempSync(join(tmpdir(), 'stele-bench-query-'));
try {
  const ledger = await openLedger(join(dir, 'query.db'), { durability: 'normal' });
  const buildStart = performance.now();
  for (let start = 0; start < total; start += BATCH) {
    const batch: AppendInput[] = [];
    for (let i = start; i < Math.min(total, start + BATCH); i++) {
      batch.push({ type: i % 10 === 0 ? 'refunded' : 'paid', streamId: `acct-${i % STREAMS}`, payload: { i, cents: i * 7, note: 'x'.repeat(40) } });
    }
    await ledger.appendBatch(batch);
  }
  const buildSeconds = (performance.now() - buildStart) / 1000;
  console.log(`built ${ledger.maxSequence()} events in ${buildSeconds.toFixed(1)} s`);

  function measure(label: string, run: () => number): void {
    gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const started = performance.now();
    const count = run(); // samples RSS every 10,000 events into peakSeen
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, peakSeen);
    console.log(`${label}: ${count} events in ${seconds.toFixed(2)} s = ${Math.round(count / seconds).toLocaleString('en-US')} events/s; peak RSS growth ${mb(peak - baseline)} MB (baseline ${mb(baseline)} MB)`);
    peakSeen = 0;
  }
  let peakSeen = 0;
  const every = (n: number) => {
    if (n % 10_000 === 0) peakSeen = Math.max(peakSeen, process.memoryUsage().rss);
  };

  measure('events() all', () => {
    let n = 0;
    let cents = 0;
    for (const event of ledger.events()) {
      cents += (event.payload as { cents: number }).cents;
      every(++n);
    }
    return n;
  });
  measure('events() reverse', () => {
    let n = 0;
    for (const _ of ledger.events({ reverse: true })) every(++n);
    return n;
  });
  measure(`events() one stream of ${STREAMS}`, () => {
    let n = 0;
    for (const _ of ledger.events({ streamId: 'acct-7' })) every(++n);
    return n;
  });
  measure('events() types: refunded', () => {
    let n = 0;
    for (const _ of ledger.events({ types: ['refunded'] })) every(++n);
    return n;
  });
  const middle = ledger.get(Math.ceil(total / 2))!.authorityTimestamp;
  measure('events() since the middle (scan filter, no index)', () => {
    let n = 0;
    for (const _ of ledger.events({ since: middle })) every(++n);
    return n;
  });
  await ledger.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

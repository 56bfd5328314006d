/**
 * `ledger.events()` over a large ledger: events/s and peak RSS growth while iterating every
 * event (target ≤ 64 MB at 1M events), then a filtered query (one stream of many) and a time
 * window. The ledger is built with durability 'normal' in batches of 10,000 (the build is not
 * what is measured) in the OS temp directory, and removed afterwards; `--reuse <file>` iterates an
 * existing ledger instead (built by an earlier run with `--keep`).
 *
 * RSS is reported whole and split as Linux counts it (/proc/self/status): the read connection
 * memory-maps the file (connections.ts), so pages of the file that the iteration reads count in
 * RSS as file-backed memory, shared with the OS page cache and dropped under pressure. The
 * anonymous part (heap, SQLite's own cache, decoded pages) is what the iteration holds.
 *
 *   npx tsx --expose-gc bench/event-query.ts               1,000,000 events
 *   npx tsx --expose-gc bench/event-query.ts --events 100000 --keep
 *   npx tsx --expose-gc bench/event-query.ts --reuse /tmp/stele-bench-query-x/query.db
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openLedger, type AppendInput } from '../lib/index.ts';
import { EVENT_COLUMNS, type EventRow } from '../lib/format/columns.ts';
import { decodeRow } from '../lib/format/event-decoding.ts';
import { openReadConnection } from '../lib/sqlite/connections.ts';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, reuse: { type: 'string' }, keep: { type: 'boolean', default: false } },
});
const total = Number(values.events);
const BATCH = 10_000;
const STREAMS = 1_000;

const gc = (globalThis as { gc?: () => void }).gc;
const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);

/** RSS, and its anonymous and file-backed parts (Linux; the parts are NaN elsewhere). */
function memory(): { rss: number; anon: number; file: number } {
  const rss = process.memoryUsage().rss;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
    return { rss, anon: kb('RssAnon'), file: kb('RssFile') };
  } catch {
    return { rss, anon: NaN, file: NaN };
  }
}

const dir = values.reuse ? undefined : mkdtempSync(join(tmpdir(), 'stele-bench-query-'));
try {
  const ledger = await openLedger(values.reuse ?? join(dir!, 'query.db'), { durability: 'normal' });
  const buildStart = performance.now();
  for (let start = values.reuse ? total : 0; start < total; start += BATCH) {
    const batch: AppendInput[] = [];
    for (let i = start; i < Math.min(total, start + BATCH); i++) {
      batch.push({ type: i % 10 === 0 ? 'refunded' : 'paid', streamId: `acct-${i % STREAMS}`, payload: { i, cents: i * 7, note: 'x'.repeat(40) } });
    }
    await ledger.appendBatch(batch);
  }
  const buildSeconds = (performance.now() - buildStart) / 1000;
  if (!values.reuse) console.log(`built ${ledger.maxSequence()} events in ${buildSeconds.toFixed(1)} s in ${dir}`);
  const events = ledger.maxSequence();

  function measure(label: string, run: () => number): void {
    gc?.();
    const baseline = memory();
    peak = { ...baseline };
    const started = performance.now();
    const count = run(); // samples memory every 10,000 events into peak
    const seconds = (performance.now() - started) / 1000;
    sample();
    console.log(
      `${label}: ${count} events in ${seconds.toFixed(2)} s = ${Math.round(count / seconds).toLocaleString('en-US')} events/s; ` +
        `peak growth: RSS ${mb(peak.rss - baseline.rss)} MB = anonymous ${mb(peak.anon - baseline.anon)} MB + file-backed (mmap) ${mb(peak.file - baseline.file)} MB`,
    );
  }
  let peak = memory();
  const sample = () => {
    const now = memory();
    peak = { rss: Math.max(peak.rss, now.rss), anon: Math.max(peak.anon, now.anon), file: Math.max(peak.file, now.file) };
  };
  const every = (n: number) => {
    if (n % 10_000 === 0) sample();
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
  // The reference, in the same run on the same file: one raw statement iterated over every row and
  // decoded the same way (what the query would cost with no paging at all).
  measure('reference: one raw SELECT .iterate() + decodeRow', () => {
    const db = openReadConnection(ledger.path);
    let n = 0;
    for (const row of db.prepare<[], EventRow>(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY sequence`).iterate()) {
      decodeRow(row);
      every(++n);
    }
    db.close();
    return n;
  });
  measure('events() all, again (file pages now mapped)', () => {
    let n = 0;
    for (const _ of ledger.events()) every(++n);
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
  const middle = ledger.get(Math.ceil(events / 2))!.authorityTimestamp;
  measure('events() since the middle (scan filter, no index)', () => {
    let n = 0;
    for (const _ of ledger.events({ since: middle })) every(++n);
    return n;
  });
  await ledger.close();
} finally {
  if (dir && !values.keep) rmSync(dir, { recursive: true, force: true });
}

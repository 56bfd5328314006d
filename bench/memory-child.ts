/**
 * The caller of memory.ts, in a process of its own so that its RSS is the ledger's and this
 * caller's alone: opens a ledger with the default options (maxPendingAppends 10,000, onFull
 * 'wait', durability 'full'), fires `events` append() calls in one synchronous loop without
 * awaiting any, counts them as they settle, and tells its parent over IPC how far it got: a
 * message at each stage, progress every second, and `done` at the end. The parent may stop a
 * run that takes too long; what it heard until then is the result.
 *
 * Run by memory.ts as `node --import tsx --expose-gc bench/memory-child.ts <path> <events>`.
 */
import { performance } from 'node:perf_hooks';
import { openLedger } from '../lib/index.ts';
import { INPUT } from './append.ts';

/** One message to the parent; each carries what is known so far. Memory in bytes. */
export type MemoryChildMessage =
  /** Ledger open and warm, after a full GC: the reference for growth. */
  | { kind: 'baseline'; rss: number; heapUsed: number; maxSequence: number }
  /** Every call made, none past its first await. */
  | { kind: 'loop'; heapUsed: number }
  /** Every call has run up to backpressure: encoded its event, then queued for the writer or waiting for room. */
  | { kind: 'backpressure'; heapUsed: number }
  | ({ kind: 'progress' } & Status)
  | ({ kind: 'done' } & Status);

/** How far the run has got. peakRss from getrusage, so the synchronous loop is covered too. */
interface Status {
  landed: number;
  failed: number;
  firstError?: string;
  maxSequence: number;
  seconds: number;
  peakRss: number;
  /** Most events pending in the writer client at a 10 ms sample. */
  maxPendingAppends: number;
}

const [path, eventsArg] = process.argv.slice(2);
const events = Number(eventsArg);
if (!path || !Number.isSafeInteger(events) || events < 1) throw new Error('usage: memory-child.ts <ledger path> <events>');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('memory-child.ts needs --expose-gc');
const send = (message: MemoryChildMessage, then?: () => void) => process.send!(message, then);

const ledger = await openLedger(path);
// Warm: the writer has started, statements are prepared, the JIT has seen append().
await Promise.all(Array.from({ length: 2_000 }, () => ledger.append(INPUT)));
gc();
const baseline = process.memoryUsage();
send({ kind: 'baseline', rss: baseline.rss, heapUsed: baseline.heapUsed, maxSequence: ledger.maxSequence() });

let landed = 0;
let failed = 0;
let firstError: string | undefined;
let maxPendingAppends = 0;
const started = performance.now();
const status = <K extends 'progress' | 'done'>(kind: K): { kind: K } & Status => ({
  kind,
  landed,
  failed,
  firstError,
  maxSequence: ledger.maxSequence(),
  seconds: (performance.now() - started) / 1000,
  peakRss: process.resourceUsage().maxRSS * 1024,
  maxPendingAppends,
});
const sampler = setInterval(() => (maxPendingAppends = Math.max(maxPendingAppends, ledger.pendingAppends)), 10);
const reporter = setInterval(() => send(status('progress')), 1_000);
// Runs once every microtask the loop queued has run.
setImmediate(() => send({ kind: 'backpressure', heapUsed: process.memoryUsage().heapUsed }));
await new Promise<void>((resolve) => {
  const settled = () => {
    if (landed + failed === events) resolve();
  };
  const ok = () => {
    landed++;
    settled();
  };
  const fail = (error: unknown) => {
    failed++;
    firstError ??= String(error);
    settled();
  };
  // Only counters are kept: the caller holds no promise, so what stays in memory is the ledger's.
  for (let i = 0; i < events; i++) ledger.append(INPUT).then(ok, fail);
  send({ kind: 'loop', heapUsed: process.memoryUsage().heapUsed });
});
clearInterval(sampler);
clearInterval(reporter);
const done = status('done');
await ledger.close();
send(done, () => process.disconnect());

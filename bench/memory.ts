/**
 * Memory under a caller that never waits: 1,000,000 `append()` calls fired in one synchronous
 * loop, none awaited, on a ledger with the default options (maxPendingAppends 10,000, onFull
 * 'wait', durability 'full'), in a child process (memory-child.ts) so that the RSS measured is
 * the ledger's and this caller's alone.
 *
 * Targets: peak RSS growth over the warm baseline ≤ 600 MB, and every call lands (maxSequence
 * grows by exactly the number fired). The V8 heap per pending call, right after the loop and
 * once every call has run up to backpressure, shows where the growth sits.
 *
 * A run still going at `timeoutMs` is stopped and reported as far as it got: its landed count is
 * read from the file, and its peak RSS from the kernel's high-water mark (/proc/<pid>/status
 * VmHWM on Linux, polled, since a child whose event loop is stuck cannot report it). The peak
 * comes in the first seconds, when every call has been made, so it stands; landing does not.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openLedger } from '../lib/index.ts';
import type { Ratio } from './append.ts';
import type { MemoryChildMessage } from './memory-child.ts';

export interface MemoryBenchSettings {
  events: number;
  /** The child is stopped after this long and reported as far as it got. */
  timeoutMs: number;
}

export interface MemoryBenchResult {
  events: number;
  /** False when the child was stopped at `timeoutMs`. */
  finished: boolean;
  seconds: number;
  /** maxSequence growth: events in the file. */
  landed: number;
  failed: number;
  firstError?: string;
  eventsPerSecond: number;
  baselineRssMB: number;
  peakRssMB: number;
  peakRssGrowthMB: number;
  /** V8 heap growth per pending call, right after the loop and once all had run up to backpressure. */
  heapBytesPerCall: { afterLoop?: number; atBackpressure?: number };
  /** Most events pending in the writer client at a 10 ms sample: what backpressure bounds. */
  maxPendingAppends?: number;
  ratios: Ratio[];
}

const MB = 1024 * 1024;
const LIMIT_MB = 600;

export async function runMemoryBench(settings: MemoryBenchSettings, progress: (line: string) => void = () => {}): Promise<MemoryBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'stele-bench-memory-'));
  try {
    const path = join(dir, 'ledger.db');
    const { heard, finished, peakRss } = await runChild(path, settings);
    const baseline = heard.baseline;
    if (!baseline) throw new Error('memory-child.ts stopped before it was ready');
    const end = heard.done ?? heard.progress;
    // A stopped child's last progress report may be stale or missing: count what is in the file.
    const maxSequence = end?.kind === 'done' ? end.maxSequence : await maxSequenceOf(path);
    const landed = maxSequence - baseline.maxSequence;
    const perCall = (message?: { heapUsed: number }) => message && (message.heapUsed - baseline.heapUsed) / settings.events;
    const seconds = end?.seconds ?? settings.timeoutMs / 1000;
    const result: MemoryBenchResult = {
      events: settings.events,
      finished,
      seconds,
      landed,
      failed: end?.failed ?? 0,
      firstError: end?.firstError,
      eventsPerSecond: landed / seconds,
      baselineRssMB: baseline.rss / MB,
      peakRssMB: Math.max(peakRss, end?.peakRss ?? 0) / MB,
      peakRssGrowthMB: (Math.max(peakRss, end?.peakRss ?? 0) - baseline.rss) / MB,
      heapBytesPerCall: { afterLoop: perCall(heard.loop), atBackpressure: perCall(heard.backpressure) },
      maxPendingAppends: end?.maxPendingAppends,
      ratios: [],
    };
    result.ratios.push(
      { name: `peak RSS growth, ${settings.events.toLocaleString('en-US')} un-awaited append()`, durability: 'full', value: result.peakRssGrowthMB, unit: ' MB', target: `<= ${LIMIT_MB} MB`, met: result.peakRssGrowthMB <= LIMIT_MB },
      {
        name: `landed ÷ fired${finished ? '' : ` (stopped at ${Math.round(settings.timeoutMs / 1000)} s)`}`,
        durability: 'full',
        value: landed / settings.events,
        target: '= 1',
        met: finished && result.failed === 0 && landed === settings.events,
      },
    );
    const bytes = (n: number | undefined) => (n === undefined ? 'not reached' : `${Math.round(n).toLocaleString('en-US')} B`);
    progress(
      `  ${landed.toLocaleString('en-US')} of ${settings.events.toLocaleString('en-US')} landed in ${seconds.toFixed(1)} s${finished ? '' : ' (stopped: too slow)'}; ` +
        `RSS ${result.baselineRssMB.toFixed(0)} MB → peak ${result.peakRssMB.toFixed(0)} MB; heap per pending call ${bytes(result.heapBytesPerCall.afterLoop)} ` +
        `after the loop, ${bytes(result.heapBytesPerCall.atBackpressure)} once all reached backpressure` +
        (result.maxPendingAppends === undefined ? '' : `; at most ${result.maxPendingAppends.toLocaleString('en-US')} events pending in the writer client`) +
        (result.firstError ? `; first failure: ${result.firstError}` : ''),
    );
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Heard = { [K in MemoryChildMessage['kind']]?: Extract<MemoryChildMessage, { kind: K }> };

/** Runs the child to its end or to the timeout; what it said, and its peak RSS as the kernel saw it. */
function runChild(path: string, settings: MemoryBenchSettings): Promise<{ heard: Heard; finished: boolean; peakRss: number }> {
  const child = fork(fileURLToPath(new URL('./memory-child.ts', import.meta.url)), [path, String(settings.events)], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  const heard: Heard = {};
  let peakRss = 0;
  const pollPeak = () => {
    try {
      const kB = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
      if (kB) peakRss = Math.max(peakRss, Number(kB) * 1024);
    } catch {
      // Not Linux, or the child is gone: its own getrusage figure stands.
    }
  };
  const poller = setInterval(pollPeak, 250);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pollPeak();
      child.kill('SIGKILL');
    }, settings.timeoutMs);
    child.on('message', (message: MemoryChildMessage) => ((heard as Record<string, MemoryChildMessage>)[message.kind] = message));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(poller);
      if (heard.done || signal === 'SIGKILL') resolve({ heard, finished: heard.done !== undefined, peakRss });
      else reject(new Error(`memory-child.ts exited with ${code ?? signal} before it was done`));
    });
  });
}

async function maxSequenceOf(path: string): Promise<number> {
  const ledger = await openLedger(path, { readonly: true });
  try {
    return ledger.maxSequence();
  } finally {
    await ledger.close();
  }
}
